"""The engine protocol shared by the DuckDB and Spark backends."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pyarrow as pa

PERIOD = "period"


class Engine(ABC):
    """Runs Ibis expressions and keeps period-partitioned tables.

    Every stage writes its output with :meth:`replace_period`, which replaces the
    rows of one period atomically, so a stage is idempotent per period and a run
    killed half way can simply be run again.
    """

    name: str
    con: Any  # the ibis backend

    def table(self, name: str) -> Any:
        """The Ibis table ``name``."""
        return self.con.table(name)

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether table ``name`` exists."""

    @abstractmethod
    def replace_period(self, name: str, period: str, data: Any) -> int:
        """Replace the rows of ``period`` in table ``name`` by ``data``.

        ``data`` is a pyarrow Table or an Ibis expression with a ``period`` column;
        the table is created on first use. Returns the number of rows written.
        """

    def replace_table(self, name: str, data: Any) -> int:
        """Replace the whole table ``name`` by ``data`` (small reference tables)."""
        self.con.create_table(name, data, overwrite=True)
        return int(self.con.table(name).count().execute())

    def fetch(self, expr: Any, limit: int | None = None) -> pa.Table:
        """Run ``expr`` and return a *bounded* result as Arrow."""
        if limit is not None:
            expr = expr.limit(limit)
        return expr.to_pyarrow()

    def count(self, expr: Any) -> int:
        """Number of rows of ``expr``."""
        return int(expr.count().execute())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


def open_engine(kind: str, home: Path) -> Engine:
    """Open the analytics store of ``home`` on engine ``kind`` (``duckdb`` or ``spark``)."""
    if kind == "duckdb":
        from povguard.engine.duck import DuckDBEngine

        return DuckDBEngine(home / "analytics.duckdb")
    if kind == "spark":
        from povguard.engine.spark import SparkEngine

        return SparkEngine(home / "spark-warehouse")
    raise ValueError(f"unknown engine {kind!r}: use duckdb or spark")
