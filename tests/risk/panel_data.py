"""Hand-built ``indicators`` tables for the risk tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from povguard.indicators import INDICATOR_TYPES

_ARROW = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}
V = "520102001001"


def indicator_table(rows: list[dict[str, Any]]) -> pa.Table:
    """An ``indicators`` table: given values, NULL elsewhere (zero for event counts)."""
    fields = [("period", pa.string()), ("household_id", pa.string())]
    fields += [(c, _ARROW[t]) for c, t in INDICATOR_TYPES.items() if c != "household_id"]
    schema = pa.schema(fields)
    zero = {c for c, t in INDICATOR_TYPES.items() if t == "int64"} - {"members"}
    full = []
    for r in rows:
        row = {c: (0 if c in zero else None) for c in schema.names}
        row |= {"village_code": V, "members": 4, "labour_members": 1} | r
        full.append(row)
    return pa.Table.from_pylist(full, schema=schema)
