"""Load the twin's *clean* department records as if ingested (for rule fidelity).

Rule fidelity runs the same policy through the same link, indicators and screen
stages twice: once on the clean records the departments meant to send (from the
twin's truth) and once on the dirty feeds through ingestion. Differences isolate
the errors that ingestion and linkage introduce.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from povguard.engine import Engine
from povguard.errors import ConfigError

_HIDDEN = ("_row_uid", "_event_id")


def load_clean_period(
    engine: Engine, truth_dir: Path, period: str, id_fields: dict[str, list[str]]
) -> dict[str, int]:
    """Write ``raw_<source>`` tables of ``period`` from the twin's clean records.

    ``id_fields`` names the resident-ID fields per source; they get the ``_status``
    and ``_raw`` companions that ingestion writes.
    """
    folder = truth_dir / "feeds" / period
    if not folder.is_dir():
        raise ConfigError(f"no clean records for {period} in {folder}")
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*.clean.parquet")):
        source = path.name.split(".")[0]
        table = pq.read_table(path)
        rows = pq.read_table(folder / f"{source}.rows.parquet")
        # row numbers: position of the record in the delivered file (1-based)
        position = dict(zip(rows["row_uid"].to_pylist(), range(1, rows.num_rows + 1), strict=True))
        uid = table["_row_uid"].to_pylist()
        table = table.drop_columns([c for c in _HIDDEN if c in table.column_names])
        for f in id_fields.get(source, []):
            if f in table.column_names:
                table = table.append_column(f"{f}_raw", table[f])
                status = pc.if_else(pc.is_null(table[f]), "missing", "ok")
                table = table.append_column(f"{f}_status", status)
        n = table.num_rows
        table = table.append_column("period", pa.array([period] * n, pa.string()))
        table = table.append_column("_source", pa.array([source] * n, pa.string()))
        table = table.append_column("_file", pa.array([f"clean:{source}"] * n, pa.string()))
        table = table.append_column("_file_sha256", pa.array([""] * n, pa.string()))
        table = table.append_column("_row", pa.array([position.get(u, 0) for u in uid], pa.int64()))
        counts[source] = engine.replace_period(f"raw_{source}", period, table)
    return counts
