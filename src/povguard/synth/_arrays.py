"""Vectorised helpers for fixed-width unicode arrays (names, ID numbers)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_str_array(values: ArrayLike) -> NDArray[np.str_]:
    """Return ``values`` as a 1-D unicode array (``None`` and non-strings become text)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "U":
        arr = arr.astype(str)
    return arr.reshape(-1)


def code_matrix(arr: NDArray[np.str_], width: int) -> NDArray[np.uint32]:
    """Return the ``(n, width)`` matrix of code points of a 1-D unicode array.

    Strings shorter than ``width`` are padded with code point 0; longer strings are
    truncated (callers check the length before relying on that).
    """
    fixed = np.ascontiguousarray(arr, dtype=f"<U{width}")
    return fixed.view(np.uint32).reshape(len(fixed), width)


def matrix_to_str(codes: NDArray[np.uint32]) -> NDArray[np.str_]:
    """Inverse of :func:`code_matrix`: ``(n, w)`` code points to a ``<Uw`` array."""
    n, width = codes.shape
    out: NDArray[np.str_] = (
        np.ascontiguousarray(codes, dtype=np.uint32).view(f"<U{width}").reshape(n)
    )
    return out
