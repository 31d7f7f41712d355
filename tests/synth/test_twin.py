"""End-to-end checks of a generated twin: files, distributions, truth, defects."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from povguard.synth import SOURCE_BY_NAME, SOURCES, TwinConfig, TwinSummary, generate_twin
from povguard.synth.feeds.spec import Role

Twin = tuple[Path, TwinSummary]


def _read_rows(path: Path, fmt: str, encoding: str, header_rows: int = 1) -> list[list[str]]:
    """Data rows of a feed file (blank rows and XLSX title/header/footer excluded)."""
    if fmt == "csv":
        text = path.read_bytes().decode(encoding)
        rows = list(csv.reader(io.StringIO(text)))[1:]
        return [r for r in rows if any(c.strip() for c in r)]
    if fmt == "json":
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        return [
            [str(v) for v in d.values()] for d in data if any(v is not None for v in d.values())
        ]
    ws = openpyxl.load_workbook(path, read_only=True).active
    rows = [[("" if c is None else str(c)) for c in r] for r in ws.iter_rows(values_only=True)]
    # title, sub-title, 1-2 header rows; footer starts with 合计
    body = [r for r in rows[2 + header_rows :] if any(c.strip() for c in r)]
    return [r for r in body if not r[0].startswith(("合计", "制表人"))]


def test_manifest_lists_every_file_with_true_row_counts(twin: Twin) -> None:
    out, summary = twin
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    assert len(files) == summary.files > 0
    sources = {f["source"] for f in files}
    assert len(sources) >= 14
    assert {f["format"] for f in files} == {"xlsx", "csv", "json"}
    assert {"gbk", "utf-8-sig"} <= {f["encoding"] for f in files}
    on_disk = sorted(str(p.relative_to(out)) for p in (out / "feeds").rglob("*.*"))
    assert on_disk == sorted(f["path"] for f in files)
    for f in files[:: max(1, len(files) // 40)]:
        spec = SOURCE_BY_NAME[f["source"]]
        rows = _read_rows(
            out / f["path"], f["format"], f["encoding"], 2 if spec.header_groups else 1
        )
        assert len(rows) == f["rows"], f["path"]


def test_registry_ids_are_valid_unique_and_consistent(twin: Twin) -> None:
    out, _ = twin
    persons = pq.read_table(out / "registry" / "persons.parquet").to_pydict()
    ids = persons["id_number"]
    assert len(set(ids)) == len(ids)
    assert all(ric.is_valid(i) for i in ids)
    for i, sex, birth in zip(ids[:5000], persons["sex"], persons["birth_date"], strict=False):
        assert (int(i[16]) % 2 == 1) == (sex == "男")
        assert i[6:14] == birth.strftime("%Y%m%d")
    households = pq.read_table(out / "registry" / "households.parquet")
    assert households.num_rows > 5500
    regions = pq.read_table(out / "registry" / "regions.parquet").to_pydict()
    villages = [
        c
        for c, lvl in zip(regions["region_code"], regions["level"], strict=True)
        if lvl == "village"
    ]
    assert all(len(c) == 12 and c.isdigit() for c in villages)
    assert set(households.column("village_code").to_pylist()) <= set(villages)


def test_population_distributions(twin: Twin) -> None:
    out, _ = twin
    hh = pq.read_table(out / "registry" / "households.parquet").to_pydict()
    persons = pq.read_table(out / "registry" / "persons.parquet").to_pydict()
    size = np.array(hh["members"])
    assert 2.8 <= size.mean() <= 3.6
    assert 0.26 <= np.mean(hh["former_poor"]) <= 0.34
    births = np.array([b.year for b in persons["birth_date"]])
    elderly = np.mean(2024 - births >= 60)
    assert 0.15 <= elderly <= 0.35  # aging rural population
    assert 0.94 <= np.mean(persons["medical_insured"]) <= 0.995
    disabled = np.mean(np.array(persons["disability_grade"]) > 0)
    assert 0.04 <= disabled <= 0.09


def test_truth_volumes_and_causes_are_plausible(twin: Twin) -> None:
    out, summary = twin
    truth = pq.read_table(out / "truth" / "households_monthly.parquet")
    months = pc.unique(truth["period"]).to_pylist()
    assert len(months) == 14
    at_risk = pc.mean(pc.not_equal(truth["status"], "none").cast("int8")).as_py()
    assert 0.01 <= at_risk <= 0.10
    onsets = truth.filter(truth["onset"])
    per_month_per_100k = onsets.num_rows / len(months) / summary.households * 100_000
    assert 50 <= per_month_per_100k <= 2000, per_month_per_100k  # hundreds, not tens of thousands
    causes = onsets.filter(pc.not_equal(onsets["main_cause"], "other"))["main_cause"].to_pylist()
    counts = {c: causes.count(c) for c in set(causes)}
    assert max(counts, key=counts.__getitem__) == "illness", counts
    below = truth.filter(truth["below_line"])
    assert pc.all(pc.less(below["income_pc_12m"], below["monitoring_line"])).as_py()


def test_every_death_reaches_public_security_unless_not_covered(twin: Twin) -> None:
    out, _ = twin
    events = pq.read_table(out / "truth" / "events.parquet")
    deaths = set(events.filter(pc.equal(events["kind"], "death"))["event_id"].to_pylist())
    cov = pq.read_table(out / "truth" / "event_coverage.parquet")
    ps = cov.filter(pc.equal(cov["source"], "public_security"))
    covered = {
        e
        for e, c, d in zip(
            ps["event_id"].to_pylist(),
            ps["covered"].to_pylist(),
            ps["deliver_period"].to_pylist(),
            strict=True,
        )
        if c and d is not None and d <= "2026-02"
    }
    assert deaths and deaths <= set(ps["event_id"].to_pylist())
    delivered: set[int] = set()
    for path in (out / "truth" / "feeds").glob("*/public_security.clean.parquet"):
        delivered |= set(pq.read_table(path)["_event_id"].to_pylist())
    assert (deaths & covered) <= delivered
    flags = zip(ps["event_id"].to_pylist(), ps["covered"].to_pylist(), strict=True)
    recorded = {e for e, c in flags if c and e in deaths}
    assert 0.9 <= len(recorded) / len(deaths) < 1.0  # coverage 97%: some deaths never recorded


def test_defects_are_recorded_at_realistic_rates(twin: Twin) -> None:
    out, _ = twin
    rows = 0
    defective: set[str] = set()
    kinds: dict[str, int] = {}
    named = 0
    for path in (out / "truth" / "feeds").glob("*/*.rows.parquet"):
        rows += pq.read_table(path).num_rows
    for path in (out / "truth" / "feeds").glob("*/*.defects.parquet"):
        log = pq.read_table(path).to_pydict()
        for uid, kind in zip(log["row_uid"], log["defect"], strict=True):
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind != "correction_redelivered":
                defective.add(uid)
    for path in (out / "truth" / "feeds").glob("*/*.clean.parquet"):
        named += pq.read_table(path).num_rows
    share = len(defective) / rows
    assert 0.06 <= share <= 0.11, share
    for kind in (
        "name_homophone",
        "name_wrong_char",
        "id_digit",
        "id_transposition",
        "id_check_char",
        "id_legacy15",
        "id_fullwidth",
        "id_excel_float",
        "missing_id",
        "duplicate_row",
        "late_correction",
        "date_format_mixed",
        "stray_space",
        "name_order_swap",
        "correction_redelivered",
    ):
        assert kinds.get(kind, 0) > 0, kind
    typos = kinds["name_homophone"] + kinds["name_wrong_char"]
    assert typos / named >= 0.02


def test_no_truth_leaks_into_feeds(twin: Twin) -> None:
    out, _ = twin
    forbidden = (
        "监测",
        "风险",
        "致贫",
        "返贫",
        "status_truth",
        "below_line",
        "main_cause",
        "ineligible",
    )
    for spec in SOURCES:
        for col in spec.columns:
            assert not any(f in col.header or f in col.key for f in forbidden), (spec.source, col)
    f = next((out / "feeds").glob("*/medical_claims.csv"))
    header = f.read_bytes().decode("utf-8-sig").splitlines()[0]
    assert "_row_uid" not in header and "_event_id" not in header


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_same_seed_gives_byte_identical_outputs(tmp_path: Path) -> None:
    cfg = {"households": 1500, "months": 3, "start": "2025-05", "seed": 11, "counties": 1}
    generate_twin(TwinConfig(out=tmp_path / "a", **cfg))  # type: ignore[arg-type]
    generate_twin(TwinConfig(out=tmp_path / "b", **cfg))  # type: ignore[arg-type]
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    generate_twin(TwinConfig(out=tmp_path / "c", **{**cfg, "seed": 12}))  # type: ignore[arg-type]
    assert _digest(tmp_path / "c") != a


def test_defect_rate_zero_gives_clean_feeds(tmp_path: Path) -> None:
    generate_twin(
        TwinConfig(out=tmp_path, households=800, months=2, seed=3, counties=1, defect_rate=0.0)
    )
    for path in (tmp_path / "truth" / "feeds").glob("*/*.defects.parquet"):
        assert pq.read_table(path).num_rows == 0


def test_logged_defects_are_exactly_what_the_files_hold(twin: Twin) -> None:
    """Every logged cell defect is found, with its dirty value, in the delivered file."""
    out, _ = twin
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    checked = 0
    for f in manifest["files"]:
        if f["period"] not in ("2025-03", "2025-09"):
            continue
        spec = SOURCE_BY_NAME[f["source"]]
        rows = _read_rows(
            out / f["path"], f["format"], f["encoding"], 2 if spec.header_groups else 1
        )
        truth_dir = out / "truth" / "feeds" / f["period"]
        order = pq.read_table(truth_dir / f"{spec.source}.rows.parquet")["row_uid"].to_pylist()
        assert len(order) == len(rows)
        where = {uid: i for i, uid in enumerate(order)}
        keys = [c.key for c in spec.columns]
        log = pq.read_table(truth_dir / f"{spec.source}.defects.parquet").to_pylist()
        for entry in log:
            if entry["column"] is None:
                assert entry["row_uid"] in where
                continue
            cell = rows[where[entry["row_uid"]]][keys.index(entry["column"])]
            dirty = entry["dirty_value"]
            if dirty is None:
                assert cell in ("", "None")
            elif f["format"] == "xlsx" and cell != dirty:
                assert float(cell) == float(dirty)  # numeric cell (Excel-mangled ID, serial)
            else:
                assert cell == dirty, (f["path"], entry)
            checked += 1
    assert checked > 100


def test_clean_department_records_carry_valid_ids(twin: Twin) -> None:
    """What departments meant to record: every ID valid (python-stdnum), before defects."""
    out, _ = twin
    checked = 0
    for path in sorted((out / "truth" / "feeds").glob("*/*.clean.parquet")):
        spec = SOURCE_BY_NAME[path.name.split(".")[0]]
        table = pq.read_table(path)
        for key in spec.keys_with_role(Role.ID):
            ids = [i for i in table[key].to_pylist() if i is not None]
            bad = [i for i in ids if not ric.is_valid(i)]
            assert not bad, (path, bad[:3])
            checked += len(ids)
    assert checked > 10_000
