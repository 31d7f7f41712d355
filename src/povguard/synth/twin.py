"""Generate a synthetic province twin: registry, monthly department feeds, ground truth.

Layout written under ``out``::

    feeds/<YYYY-MM>/<source>.<ext>    what the departments send (with defects)
    registry/                          registered households, persons, relatives, regions
    truth/                             ground truth (only evaluation code reads it)
    manifest.json                      every file with source, period, format, encoding, rows
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from povguard.errors import ConfigError
from povguard.synth.dynamics import EVENT_KINDS, AssistanceHook, Simulator
from povguard.synth.feeds.builders import FeedBuilder
from povguard.synth.feeds.defects import LOG_SCHEMA, apply_defects, render_clean
from povguard.synth.feeds.sources import SOURCES
from povguard.synth.feeds.writers import write_feed
from povguard.synth.geography import (
    DISASTERS_EN,
    ETHNIC_GROUPS,
    INDUSTRIES,
    WATER_TYPES,
    build_geography,
)
from povguard.synth.params import SynthParams
from povguard.synth.population import (
    CAUSES,
    EDUCATION,
    EPOCH_DAY,
    HOUSE_GRADES,
    RELATIONS,
    SCHOOL,
    Population,
    build_population,
    days,
)
from povguard.synth.truth import TruthTracker

log = logging.getLogger(__name__)
BURN_IN = 12
_PARQUET = {"compression": "zstd", "use_dictionary": True}


@dataclass(frozen=True)
class TwinConfig:
    """What to generate (the command line's options)."""

    out: Path
    province: str = "52"
    households: int = 20000
    months: int = 12
    start: str = "2025-01"
    seed: int = 20250101
    counties: int | None = None
    county_codes: tuple[str, ...] = ()
    defect_rate: float | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` on a bad option."""
        if self.households < 100:
            raise ConfigError("--households must be at least 100")
        if not 1 <= self.months <= 120:
            raise ConfigError("--months must be between 1 and 120")
        try:
            np.datetime64(self.start, "M")
        except ValueError as exc:
            raise ConfigError(f"--start must be YYYY-MM, got {self.start!r}") from exc
        if len(self.start) != 7:
            raise ConfigError(f"--start must be YYYY-MM, got {self.start!r}")
        if self.defect_rate is not None and not 0 <= self.defect_rate <= 1:
            raise ConfigError("--defect-rate must be between 0 and 1")


@dataclass
class TwinSummary:
    """Counts of what was generated."""

    households: int
    persons: int
    files: int
    feed_rows: int
    at_risk_onsets: dict[str, int]
    manifest: Path


ProgressFn = Callable[[str, int, int], None]


def generate_twin(
    config: TwinConfig,
    params: SynthParams | None = None,
    progress: ProgressFn | None = None,
    hook: AssistanceHook | None = None,
) -> TwinSummary:
    """Generate the twin described by ``config`` under ``config.out``.

    Parameters
    ----------
    config:
        Output folder, province, size, months, start, seed.
    params:
        Model parameters (defaults when None); ``config.defect_rate`` rescales the defects.
    progress:
        Called as ``progress(stage, done, total)``.
    hook:
        Optional assistance hook changing trajectories (see :mod:`povguard.synth.dynamics`).

    Returns
    -------
    TwinSummary
        Counts and the manifest's path.
    """
    config.validate()
    params = params or SynthParams()
    if config.defect_rate is not None:
        params = params.model_copy(update={"defects": params.defects.scaled(config.defect_rate)})
    out = config.out
    for sub in ("feeds", "registry", "truth"):  # a previous twin in the folder is replaced
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    rng = np.random.default_rng(config.seed)
    start = np.datetime64(config.start, "M")
    first_month = start - BURN_IN
    geo = build_geography(
        config.province,
        config.households,
        params.population,
        rng,
        counties=config.counties,
        county_codes=list(config.county_codes) or None,
    )
    pop = build_population(geo, params, rng, today=days(first_month.astype("datetime64[D]")))
    downturn = BURN_IN + params.shocks.downturn_start if params.shocks.downturn_start >= 0 else -1
    sim = Simulator(geo, pop, params, rng, first_month, downturn, hook=hook)
    truth = TruthTracker(sim)
    last = BURN_IN + config.months - 1
    builder = FeedBuilder(sim, BURN_IN, last)
    defect_rng = np.random.default_rng(rng.integers(0, 2**63))
    county = geo.counties[0].name if len(geo.counties) == 1 else geo.province_name
    manifest: dict[str, Any] = {
        "generator": "povguard synth",
        "province": config.province,
        "province_name": geo.province_name,
        "counties": [c.code for c in geo.counties],
        "households": config.households,
        "months": config.months,
        "start": config.start,
        "seed": config.seed,
        "params_sha256": hashlib.sha256(params.model_dump_json().encode()).hexdigest(),
        "files": [],
        "registry": [],
        "truth": [],
    }
    truth_writer = _StreamWriter(out / "truth" / "households_monthly.parquet")
    event_writer = _StreamWriter(out / "truth" / "events.parquet")
    corrections: dict[str, pa.Table] = {}
    onsets: dict[str, int] = {}
    feed_rows = 0
    total = BURN_IN + config.months
    for m in range(total):
        out_m = sim.step(m)
        year = int((first_month + m).astype("datetime64[Y]").astype(int)) + 1970
        table = truth.update(out_m, year)
        builder.collect(out_m, truth.prev_status, truth.rings)
        if m == BURN_IN - 1:
            manifest["registry"] = _write_registry(out / "registry", geo, pop, sim)
        if m >= BURN_IN:
            truth_writer.write(table)
            event_writer.write(_events_table(out_m.events, pop, sim, m))
            st = table.filter(table["onset"])["status"].to_pylist()
            for s in st:
                onsets[s] = onsets.get(s, 0) + 1
            period = str(first_month + m)
            feed_rows += _write_month(
                out, period, m, builder, params, defect_rng, county, corrections, manifest
            )
        if progress:
            progress("months", m + 1, total)
    truth_writer.close()
    event_writer.close()
    cov = builder.coverage.finish()
    pq.write_table(
        pa.table(
            {
                "event_id": pa.array(cov["event_id"].astype(np.int64)),
                "source": pa.array(cov["source"].astype(str)),
                "covered": pa.array(cov["covered"].astype(bool)),
                "deliver_period": pa.array(
                    [
                        str(first_month + int(d)) if d >= 0 else None
                        for d in cov["deliver_month"].astype(np.int64)
                    ],
                    pa.string(),
                ),
            }
        ),
        out / "truth" / "event_coverage.parquet",
        **_PARQUET,
    )
    _write_truth_static(out / "truth", geo, pop)
    manifest["truth"] = sorted(str(p.relative_to(out)) for p in (out / "truth").rglob("*.parquet"))
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return TwinSummary(
        households=pop.households.n,
        persons=pop.persons.n,
        files=len(manifest["files"]),
        feed_rows=feed_rows,
        at_risk_onsets=onsets,
        manifest=path,
    )


class _StreamWriter:
    """Append tables to one Parquet file (one row group per month)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, **_PARQUET)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _write_month(
    out: Path,
    period: str,
    m: int,
    builder: FeedBuilder,
    params: SynthParams,
    rng: np.random.Generator,
    county: str,
    corrections: dict[str, pa.Table],
    manifest: dict[str, Any],
) -> int:
    feed_dir = out / "feeds" / period
    truth_dir = out / "truth" / "feeds" / period
    feed_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    created = (np.datetime64(period, "M") + 1).astype("datetime64[D]") + 2
    created_date = created.astype(object)
    rows = 0
    for spec in SOURCES:
        clean = builder.take(spec.source, m)
        fix = corrections.pop(spec.source, None)
        if clean is None and fix is None:
            continue
        cols = [c.key for c in spec.columns] + ["_row_uid"]
        parts_clean = []
        if clean is not None:
            result = apply_defects(clean.select(cols), spec, params.defects, rng, period)
            dirty, dlog = result.table, result.log
            if result.corrections.num_rows:
                corrections[spec.source] = result.corrections.select(cols)
            parts_clean.append(clean)
        else:
            dirty, dlog = None, None
        if fix is not None:  # corrected rows re-delivered from last period
            redo = render_clean(fix, spec)
            uid = pa.compute.binary_join_element_wise(redo["_row_uid"], "#fix", "")
            redo = redo.set_column(redo.schema.get_field_index("_row_uid"), "_row_uid", uid)
            redo = redo.append_column("_blank_after", pa.array(np.zeros(redo.num_rows, bool)))
            dirty = (
                redo
                if dirty is None
                else pa.concat_tables([dirty, redo.select(dirty.column_names)])
            )
            k = redo.num_rows
            fix_log = pa.table(
                {
                    "source": [spec.source] * k,
                    "period": [period] * k,
                    "row_uid": redo["_row_uid"],
                    "defect": ["correction_redelivered"] * k,
                    "column": [None] * k,
                    "clean_value": [None] * k,
                    "dirty_value": [None] * k,
                },
                schema=LOG_SCHEMA,
            )
            dlog = fix_log if dlog is None else pa.concat_tables([dlog, fix_log])
        assert dirty is not None and dlog is not None
        path = feed_dir / f"{spec.source}.{spec.extension}"
        n = write_feed(dirty, spec, path, county=county, period=period, created=created_date)
        rows += n
        if parts_clean:
            pq.write_table(parts_clean[0], truth_dir / f"{spec.source}.clean.parquet", **_PARQUET)
        pq.write_table(dlog, truth_dir / f"{spec.source}.defects.parquet", **_PARQUET)
        order = pa.table(
            {
                "row_index": pa.array(np.arange(dirty.num_rows, dtype=np.int64)),
                "row_uid": dirty["_row_uid"],
                "blank_after": dirty["_blank_after"],
            }
        )
        pq.write_table(order, truth_dir / f"{spec.source}.rows.parquet", **_PARQUET)
        manifest["files"].append(
            {
                "path": str(path.relative_to(out)),
                "source": spec.source,
                "department": spec.department,
                "department_en": spec.department_en,
                "period": period,
                "format": spec.fmt,
                "encoding": spec.encoding if spec.fmt == "csv" else "utf-8",
                "rows": n,
            }
        )
    return rows


def _date(days_arr: np.ndarray) -> pa.Array:
    return pa.array((EPOCH_DAY + days_arr.astype("timedelta64[D]")).astype("datetime64[D]"))


def _events_table(ev: dict[str, np.ndarray], pop: Population, sim: Simulator, m: int) -> pa.Table:
    person = ev["person"].astype(np.int64) if ev["person"].size else np.array([], np.int64)
    hh = ev["hh"].astype(np.int64) if ev["hh"].size else np.array([], np.int64)
    pid = np.where(person >= 0, pop.persons.id[np.maximum(person, 0)], "")
    return pa.table(
        {
            "event_id": pa.array(ev["event_id"].astype(np.int64)),
            "period": pa.array([str(sim.first_month + m)] * hh.size, pa.string()),
            "date": _date(ev["day"].astype(np.int64)),
            "household_id": pa.array(pop.households.code[hh].astype(object), pa.string()),
            "person_id": pa.array(pid.astype(object), pa.string()),
            "kind": pa.array(
                np.array(EVENT_KINDS, dtype=object)[ev["kind"].astype(np.int64)], pa.string()
            ),
            "amount": pa.array(ev["amount"].astype(np.float64)),
            "info": pa.array(ev["info"].astype(str).astype(object), pa.string()),
        }
    )


def _write_registry(folder: Path, geo: Any, pop: Population, sim: Simulator) -> list[str]:
    p, h = pop.persons, pop.households
    n = p.n
    active = np.flatnonzero(p.status[:n] == 0)
    members = np.bincount(p.hh[:n], weights=p.status[:n] == 0, minlength=h.n)
    hh_keep = np.flatnonzero(members > 0)
    village = h.village[hh_keep]
    regions = []
    regions.append(
        pa.table(
            {
                "region_code": [geo.province_code + "0" * 10],
                "name": [geo.province_name],
                "level": ["province"],
                "parent_code": [""],
                "lon": [None],
                "lat": [None],
            },
            schema=_REGION_SCHEMA,
        )
    )
    regions.append(
        pa.table(
            {
                "region_code": [c.code + "000000" for c in geo.counties],
                "name": [c.name for c in geo.counties],
                "level": ["county"] * len(geo.counties),
                "parent_code": [geo.province_code + "0" * 10] * len(geo.counties),
                "lon": [c.lon for c in geo.counties],
                "lat": [c.lat for c in geo.counties],
            },
            schema=_REGION_SCHEMA,
        )
    )
    regions.append(
        pa.table(
            {
                "region_code": np.char.add(geo.township_code, "000").astype(object),
                "name": geo.township_name.astype(object),
                "level": ["township"] * geo.township_code.size,
                "parent_code": [geo.counties[i].code + "000000" for i in geo.township_county],
                "lon": [None] * geo.township_code.size,
                "lat": [None] * geo.township_code.size,
            },
            schema=_REGION_SCHEMA,
        )
    )
    regions.append(
        pa.table(
            {
                "region_code": geo.village_code.astype(object),
                "name": geo.village_name.astype(object),
                "level": ["village"] * geo.n_villages,
                "parent_code": np.char.add(geo.township_code[geo.village_township], "000").astype(
                    object
                ),
                "lon": np.round(geo.village_lon, 5),
                "lat": np.round(geo.village_lat, 5),
            },
            schema=_REGION_SCHEMA,
        )
    )
    pq.write_table(pa.concat_tables(regions), folder / "regions.parquet", **_PARQUET)
    fp_status = np.array(["", "监测户", "风险已消除"], dtype=object)
    mtypes = np.array(["", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户"], dtype=object)
    head = h.head[hh_keep]
    pq.write_table(
        pa.table(
            {
                "household_id": h.code[hh_keep].astype(object),
                "village_code": geo.village_code[village].astype(object),
                "address": h.address[hh_keep].astype(object),
                "head_name": p.name[head].astype(object),
                "head_id": p.id[head].astype(object),
                "members": members[hh_keep].astype(np.int32),
                "former_poor": h.former_poor[hh_keep],
                "registered_year": h.reg_year[hh_keep].astype(np.int32),
                "exit_year": h.exit_year[hh_keep].astype(np.int32),
                "registration_cause": np.where(
                    h.reg_cause[hh_keep] >= 0,
                    np.array(CAUSES, dtype=object)[np.maximum(h.reg_cause[hh_keep], 0)],
                    "",
                ),
                "monitoring_status": fp_status[h.monitor[hh_keep]],
                "monitoring_type": mtypes[h.monitor_type[hh_keep]],
                "dibao": h.dibao[hh_keep],
                "tekun": h.tekun[hh_keep],
            }
        ),
        folder / "households.parquet",
        **_PARQUET,
    )
    age = (sim.month_start(BURN_IN) - p.birth[active]) / 365.25
    capacity = np.select(
        [
            (age < 16) | (p.school[active] == 1),
            (p.disab[active] > 0) & (p.disab[active] <= 2) | (age >= 75),
            (age >= 65) | p.chronic[active] | (p.disab[active] > 2),
        ],
        ["无劳动力(在校或未成年)", "丧失劳动力", "弱劳动力或半劳动力"],
        "普通劳动力",
    ).astype(object)
    pq.write_table(
        pa.table(
            {
                "household_id": h.code[p.hh[active]].astype(object),
                "name": p.name[active].astype(object),
                "id_number": p.id[active].astype(object),
                "sex": np.where(p.male[active], "男", "女").astype(object),
                "birth_date": _date(p.birth[active]),
                "relation": np.array(RELATIONS, dtype=object)[p.rel[active]],
                "ethnicity": np.array(ETHNIC_GROUPS, dtype=object)[p.ethnic[active]],
                "education": np.array(EDUCATION, dtype=object)[p.edu[active]],
                "school_status": np.array(SCHOOL, dtype=object)[p.school[active]],
                "chronic_illness": p.chronic[active],
                "serious_illness": p.serious[active] > 0,
                "disability_grade": p.disab[active].astype(np.int32),
                "work_capacity": capacity,
                "migrant_worker": p.migrant[active] | (p.unemployed[active] > 0),
                "medical_insured": p.insured[active],
            }
        ),
        folder / "persons.parquet",
        **_PARQUET,
    )
    r = pop.relatives
    pq.write_table(
        pa.table(
            {
                "household_id": h.code[r.hh].astype(object),
                "name": r.name.astype(object),
                "id_number": r.id.astype(object),
                "sex": np.where(r.male, "男", "女").astype(object),
                "birth_date": _date(r.birth),
                "relation": ["非同住子女"] * r.hh.size,
            }
        ),
        folder / "relatives.parquet",
        **_PARQUET,
    )
    return [f"registry/{n}.parquet" for n in ("regions", "households", "persons", "relatives")]


_REGION_SCHEMA = pa.schema(
    [
        ("region_code", pa.string()),
        ("name", pa.string()),
        ("level", pa.string()),
        ("parent_code", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
    ]
)


def _write_truth_static(folder: Path, geo: Any, pop: Population) -> None:
    """Village attributes and the final person table (truth only)."""
    cols: dict[str, Any] = {
        "village_code": geo.village_code.astype(object),
        "remoteness": np.round(geo.remoteness, 4),
        "water_supply": np.array(WATER_TYPES, dtype=object)[geo.water_type],
        "main_industry": np.array(INDUSTRIES, dtype=object)[geo.industry],
        "migrant_share": np.round(geo.migrant_share, 4),
    }
    for i, name in enumerate(DISASTERS_EN):
        cols[f"exposure_{name}"] = np.round(geo.exposure[:, i], 4)
    pq.write_table(pa.table(cols), folder / "villages.parquet", **_PARQUET)
    p, h = pop.persons, pop.households
    n = p.n
    pq.write_table(
        pa.table(
            {
                "person_id": p.id[:n].astype(object),
                "household_id": h.code[p.hh[:n]].astype(object),
                "name": p.name[:n].astype(object),
                "status": np.array(["member", "dead", "moved_out"], dtype=object)[p.status[:n]],
                "birth_date": _date(p.birth[:n]),
                "male": p.male[:n],
                "chronic": p.chronic[:n],
                "disability_grade": p.disab[:n].astype(np.int32),
                "insured": p.insured[:n],
                "public_employee": p.pub_emp[:n],
                "migrant": p.migrant[:n],
            }
        ),
        folder / "persons.parquet",
        **_PARQUET,
    )
    hh_cols = {
        "household_id": h.code.astype(object),
        "former_poor": h.former_poor,
        "house_grade": np.array(HOUSE_GRADES, dtype=object)[h.house],
        "car": h.car_owner >= 0,
        "commercial_housing": h.house_owner >= 0,
        "business": h.business_owner >= 0,
    }
    pq.write_table(pa.table(hh_cols), folder / "households_final.parquet", **_PARQUET)
