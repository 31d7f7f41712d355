"""The Chinese comparisons as SQL functions of a Splink backend (DuckDB or Spark).

Comparison levels call ``pg_name_relation(a, b)``, ``pg_id_relation(a, b)`` and
``pg_birth_relation(a, b)``, which return the category strings of
:mod:`povguard.linkage.compare`. They only run on blocked candidate pairs (and cache
their results).
"""

from __future__ import annotations

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


def _arrow_udf(fn: PairFn) -> Callable[[pa.Array, pa.Array], pa.Array]:
    def run(a: pa.Array, b: pa.Array) -> pa.Array:
        return pa.array(
            [fn(x, y) for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True)],
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
    from pyspark.sql.functions import PandasUDFType, pandas_udf  # type: ignore[attr-defined]

    for name, fn in SQL_FUNCTIONS.items():
        # scalar pandas UDF, declared (postponed annotations hide the Series hints)
        udf = pandas_udf(_series_udf(fn), "string", PandasUDFType.SCALAR)
        session.udf.register(name, udf)


def _series_udf(fn: PairFn) -> Callable[..., Any]:
    import pandas as pd

    def run(a, b):  # type: ignore[no-untyped-def]
        left = a.astype(object).where(a.notna(), None)
        right = b.astype(object).where(b.notna(), None)
        return pd.Series([fn(x, y) for x, y in zip(left, right, strict=True)], dtype=object)

    return run
