"""Apache Spark backend (pyspark in local mode or on a cluster), imported lazily."""

from __future__ import annotations

import functools
import os
import sys
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
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(os.environ.get("POVGUARD_SPARK_MASTER", "local[2]"))
        .appName("povguard")
        .config("spark.sql.warehouse.dir", str(base / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={base / 'derby'}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(Engine):
    """Analytics store as Parquet directories read by Spark (local mode by default).

    Each table is a directory ``<warehouse>/<name>``; a table is replaced by writing
    a new directory and swapping it in, so readers never see half a table and the
    store survives the Spark session.
    """

    name = "spark"

    def __init__(self, warehouse: Path | str | None = None) -> None:
        import ibis

        self.root = Path(warehouse) if warehouse else Path(tempfile.mkdtemp(prefix="povguard-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.session = spark_session(str(self.root / "_session"))
        self.con = ibis.pyspark.connect(self.session)
        for path in self.root.iterdir():
            if path.is_dir() and not path.name.startswith("_"):
                self._register(path.name)

    def _register(self, name: str) -> None:
        self.session.read.parquet(str(self.root / name)).createOrReplaceTempView(name)

    def exists(self, name: str) -> bool:
        """Whether table ``name`` exists."""
        return (self.root / name).is_dir()

    def _frame(self, data: Any) -> Any:
        if isinstance(data, pa.Table):
            from pyspark.sql.pandas.types import from_arrow_schema

            schema = from_arrow_schema(data.schema)
            if data.num_rows == 0:
                return self.session.createDataFrame([], schema)
            return self.session.createDataFrame(data.combine_chunks().to_pandas(), schema)
        self.con._run_pre_execute_hooks(data)  # registers in-memory tables (memtables)
        return self.session.sql(self.con.compile(data))

    def _write(self, name: str, frame: Any) -> None:
        target = self.root / name
        tmp = self.root / f"_{name}.new"
        old = self.root / f"_{name}.old"
        frame.write.mode("overwrite").parquet(str(tmp))
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        if old.exists():
            import shutil

            shutil.rmtree(old)
        self._register(name)

    def import_parquet(self, name: str, path: Path) -> None:
        """Make the Parquet file or folder ``path`` the table ``name``."""
        self._write(name, self.session.read.parquet(str(path)))

    def replace_period(self, name: str, period: str, data: Any) -> int:
        """Rewrite table ``name`` with the period's rows replaced."""
        from pyspark.sql import functions as F  # noqa: N812

        new = self._frame(data).localCheckpoint()
        if self.exists(name):
            old = self.session.table(name).filter(F.col(PERIOD) != period)
            frame = old.unionByName(new).localCheckpoint()
        else:
            frame = new
        self._write(name, frame)
        return int(new.count())

    def replace_table(self, name: str, data: Any) -> int:
        """Replace the whole table ``name``."""
        frame = self._frame(data).localCheckpoint()
        self._write(name, frame)
        return int(frame.count())
