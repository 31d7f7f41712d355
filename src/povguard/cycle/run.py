"""Run one monthly cycle; every stage is idempotent per period.

Stages replace their period's rows atomically, so running a period twice gives
identical tables and a run killed half way is finished by running it again.
Indicators look back 12 delivery periods: run periods in order (``--all``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from povguard.engine import Engine
from povguard.errors import ConfigError, DataError
from povguard.indicators import build_indicators
from povguard.ingest import (
    IngestReport,
    SourceMapping,
    build_quality,
    ingest_period,
    load_mappings,
)
from povguard.linkage import LinkKeys, link_period, load_registry
from povguard.policy import PackLibrary, PolicyPack, screen_period

if TYPE_CHECKING:
    from povguard.risk.registry import LoadedModel

log = logging.getLogger(__name__)
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass
class StageResult:
    """Timing and size of one stage."""

    name: str
    seconds: float
    rows: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class CycleResult:
    """What one period's cycle did."""

    period: str
    stages: list[StageResult]
    ingest: IngestReport | None
    warnings: pa.Table

    @property
    def failed_files(self) -> list[Any]:
        """Files that could not be ingested."""
        return self.ingest.failed if self.ingest else []


def link_keys(mappings: dict[str, SourceMapping]) -> list[LinkKeys]:
    """Link keys of every source, read from its mapping's person and household keys."""
    keys = []
    for m in mappings.values():
        pk, hk = m.person_keys, m.household_keys
        person_id = pk.id if pk else None
        keys.append(
            LinkKeys(
                source=m.source,
                level="person" if person_id else "household",
                id=person_id or (hk.head_id if hk else None),
                name=(pk.name if pk and pk.name else None) or (hk.head_name if hk else None),
                birth=pk.birth_date if pk else None,
                sex=pk.sex if pk else None,
                village_code=hk.region if hk else None,
                village_name=hk.village if hk else None,
                household_no=hk.household_no if hk else None,
            )
        )
    return keys


def id_fields(mappings: dict[str, SourceMapping]) -> dict[str, list[str]]:
    """The resident-ID fields of every source."""
    return {m.source: [f.name for f in m.fields if f.type == "id"] for m in mappings.values()}


def feed_periods(feeds_dir: Path) -> list[str]:
    """The ``YYYY-MM`` folders of a feed directory, in order."""
    if not feeds_dir.is_dir():
        raise ConfigError(f"feed folder {feeds_dir} does not exist")
    return sorted(p.name for p in feeds_dir.iterdir() if p.is_dir() and _PERIOD.match(p.name))


def registry_fingerprint(folder: Path) -> str:
    """Content hash of the registry files (reload only when it changes)."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.parquet")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_registry(engine: Engine, folder: Path) -> tuple[bool, dict[str, int]]:
    """Load the registry into the analytics store unless the same one is there."""
    if not folder.is_dir():
        raise ConfigError(f"registry folder {folder} does not exist")
    fp = registry_fingerprint(folder)
    if engine.exists("registry_meta"):
        meta = engine.fetch(engine.table("registry_meta")).to_pylist()
        if meta and meta[0]["fingerprint"] == fp:
            return False, {}
    counts = load_registry(engine, folder)
    engine.replace_table("registry_meta", pa.table({"fingerprint": [fp]}))
    return True, counts


def run_cycle(
    engine: Engine,
    period: str,
    feeds_dir: Path,
    registry_dir: Path,
    pack: PolicyPack | PackLibrary,
    *,
    progress: Callable[[str], None] | None = None,
    ingest: bool = True,
    mappings: dict[str, SourceMapping] | None = None,
    link_decisions: Mapping[str, str] | None = None,
    risk_model: LoadedModel | None = None,
    risk_capacity: int = 2,
) -> CycleResult:
    """Run ingest, link, indicators, screen (and predict) for ``period``.

    Parameters
    ----------
    engine:
        The analytics store.
    period:
        ``YYYY-MM``.
    feeds_dir:
        Folder holding ``<YYYY-MM>/`` sub-folders of department files.
    registry_dir:
        Folder with the registry Parquet files.
    pack:
        The policy: one pack, or a library (the pack in force per period and region).
    ingest:
        False to skip ingestion (the raw tables are already there, e.g. clean records).
    mappings:
        Source mappings (default: the packaged ones).
    link_decisions:
        Clerical review decisions by pair key (``match`` / ``non_match``).
    risk_model:
        A saved risk model: the predict stage adds its "预测预警" warnings (the top
        ``risk_capacity`` households of each village not already at risk) beside the
        rule warnings. None: no predict stage. A predict stage that fails (e.g. the
        model's features are no longer built) is logged and recorded in its stage
        detail; the period's rule warnings are kept.
    risk_capacity:
        Households per village the model lists each month.
    """
    mappings = mappings or load_mappings()
    if not _PERIOD.match(period):
        raise ConfigError(f"period must be YYYY-MM, got {period!r}")
    stages: list[StageResult] = []

    def stage(name: str, fn: Callable[[], Any], rows: Callable[[Any], int]) -> Any:
        if progress:
            progress(name)
        t = time.perf_counter()
        out = fn()
        stages.append(StageResult(name, time.perf_counter() - t, rows(out)))
        log.debug("%s %s: %.2f s", period, name, stages[-1].seconds)
        return out

    stage("registry", lambda: ensure_registry(engine, registry_dir), lambda r: sum(r[1].values()))
    report = None
    if ingest:
        report = stage(
            "ingest",
            lambda: ingest_period(engine, feeds_dir, period, mappings),
            lambda r: r.rows_loaded,
        )
    link = stage(
        "link",
        lambda: link_period(engine, period, link_keys(mappings), decisions=link_decisions),
        lambda r: sum(sum(c.values()) for c in r.counts.values()),
    )
    stages[-1].detail["link_rate"] = round(link.rate, 5)
    stages[-1].detail["review"] = link.review
    if ingest:
        stage("quality", lambda: build_quality(engine, period, mappings), lambda t: t.num_rows)
    stage("indicators", lambda: build_indicators(engine, period), lambda n: n)
    warnings = stage("screen", lambda: screen_period(engine, period, pack), lambda t: t.num_rows)
    if risk_model is not None:
        from povguard.risk.pipeline import predict_period  # scikit-learn only when used

        model = risk_model
        try:
            warnings = stage(
                "predict",
                lambda: predict_period(engine, model, period, pack, capacity=risk_capacity),
                lambda t: t.num_rows,
            )
        except (ConfigError, DataError) as exc:  # the rules' warnings still go out
            log.error("%s predict: %s", period, exc)
            stages.append(StageResult("predict", 0.0, 0, {"error": str(exc)}))
    return CycleResult(period=period, stages=stages, ingest=report, warnings=warnings)
