"""Apache Spark backend (pyspark in local mode or on a cluster), imported lazily."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from povguard.engine.base import PERIOD, Engine
from povguard.errors import ConfigError


@functools.cache
def spark_session(warehouse: str | None = None) -> Any:
    """A shared local Spark session (about 4 s to start, so it is reused).

    Warehouse and Derby metastore folders go to a temporary directory, never to the
    working directory.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'povguard[spark]' (and Java 17+)"
        ) from exc
    base = Path(warehouse) if warehouse else Path(tempfile.mkdtemp(prefix="povguard-spark-"))
    base.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    return (
        SparkSession.builder.master(os.environ.get("POVGUARD_SPARK_MASTER", "local[2]"))
        .appName("povguard")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={base / 'derby'}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


class SparkEngine(Engine):
    """Analytics store as Spark tables (local mode by default)."""

    name = "spark"

    def __init__(self, warehouse: Path | str | None = None) -> None:
        import ibis

        self.session = spark_session(str(warehouse) if warehouse else None)
        self.con = ibis.pyspark.connect(self.session)

    def exists(self, name: str) -> bool:
        """Whether table ``name`` exists."""
        return bool(self.session.catalog.tableExists(name))

    def _frame(self, data: Any) -> Any:
        if isinstance(data, pa.Table):
            return self.session.createDataFrame(data.to_pandas(types_mapper=None))
        return self.con._session.sql(self.con.compile(data))

    def replace_period(self, name: str, period: str, data: Any) -> int:
        """Rewrite table ``name`` with the period's rows replaced (checkpointed first)."""
        from pyspark.sql import functions as F  # noqa: N812

        new = self._frame(data)
        if self.exists(name):
            old = self.session.table(name).filter(F.col(PERIOD) != period)
            frame = old.unionByName(new).localCheckpoint()
        else:
            frame = new
        frame.write.mode("overwrite").saveAsTable(name)
        return int(new.count())

    def replace_table(self, name: str, data: Any) -> int:
        """Replace the whole table ``name``."""
        frame = self._frame(data).localCheckpoint()
        frame.write.mode("overwrite").saveAsTable(name)
        return int(frame.count())
