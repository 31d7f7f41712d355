"""DuckDB backend (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from povguard.engine.base import PERIOD, Engine


class DuckDBEngine(Engine):
    """Analytics store in one DuckDB file (``:memory:`` for tests)."""

    name = "duckdb"

    def __init__(self, path: Path | str = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.con = ibis.duckdb.connect(str(path))

    def exists(self, name: str) -> bool:
        """Whether table ``name`` exists."""
        return name in self.con.list_tables()

    def replace_period(self, name: str, period: str, data: Any) -> int:
        """Delete the period's rows and insert ``data`` in one transaction."""
        raw = self.con.con
        rows = data.num_rows if isinstance(data, pa.Table) else -1
        if not self.exists(name):
            self.con.create_table(name, data)
            return rows if rows >= 0 else self.count(self.con.table(name))
        raw.execute("BEGIN TRANSACTION")
        try:
            raw.execute(f'DELETE FROM "{name}" WHERE "{PERIOD}" = ?', [period])
            if isinstance(data, pa.Table):
                raw.register("_povguard_new", data)
                cols = ", ".join(f'"{c}"' for c in data.column_names)
                raw.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM _povguard_new')
                raw.unregister("_povguard_new")
            else:
                self.con.insert(name, data)
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
        if rows < 0:
            rows = self.count(self.con.table(name).filter(ibis._[PERIOD] == period))
        return rows

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.disconnect()
