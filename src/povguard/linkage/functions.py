"""The Chinese comparisons as SQL functions of a Splink backend (DuckDB or Spark).

Comparison levels call ``pg_name_relation(a, b)``, ``pg_id_relation(a, b)`` and
``pg_birth_relation(a, b)``, which return the category strings of
:mod:`povguard.linkage.compare`. They only run on blocked candidate pairs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from povguard.linkage.compare import birth_relation, id_relation, name_relation

PairFn = Callable[[str | None, str | None], str | None]

#: SQL name -> pairwise Python function.
SQL_FUNCTIONS: dict[str, PairFn] = {
    "pg_name_relation": name_relation,
    "pg_id_relation": id_relation,
    "pg_birth_relation": birth_relation,
}


def _cached(fn: PairFn) -> PairFn:
    return functools.lru_cache(maxsize=200_000)(fn)


def _arrow_udf(fn: PairFn) -> Callable[[pa.Array, pa.Array], pa.Array]:
    cached = _cached(fn)

    def run(a: pa.Array, b: pa.Array) -> pa.Array:
        return pa.array(
            [cached(x, y) for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True)],
            pa.string(),
        )

    return run


def register_duckdb(con: Any) -> None:
    """Register the pairwise functions on a DuckDB connection (idempotent)."""
    have = {
        r[0]
        for r in con.execute(
            "select function_name from duckdb_functions() where function_name like 'pg_%'"
        ).fetchall()
    }
    for name, fn in SQL_FUNCTIONS.items():
        if name not in have:
            con.create_function(
                name,
                _arrow_udf(fn),
                ["VARCHAR", "VARCHAR"],
                "VARCHAR",
                type="arrow",
                null_handling="special",
            )


def register_spark(session: Any) -> None:
    """Register the pairwise functions on a Spark session as pandas UDFs."""
    import pandas as pd  # type: ignore[import-untyped]
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]

    for name, fn in SQL_FUNCTIONS.items():
        cached = _cached(fn)

        def run(a: pd.Series, b: pd.Series, _f: PairFn = cached) -> pd.Series:
            return pd.Series(
                [
                    _f(x, y)
                    for x, y in zip(a.where(a.notna(), None), b.where(b.notna(), None), strict=True)
                ],
                dtype=object,
            )

        session.udf.register(name, pandas_udf(run, "string"))
