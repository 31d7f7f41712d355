"""Train, score, predict and monitor on a twin that ran every monthly cycle; the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from povguard.cli import app
from povguard.cycle import feed_periods, run_cycle
from povguard.engine import DuckDBEngine
from povguard.policy import load_policy
from povguard.risk import active_model, load_model, set_active
from povguard.risk.pipeline import (
    PREDICTION_KIND,
    SCORES_TABLE,
    build_panel,
    monitor_period,
    predict_period,
    score_period,
    train_model,
    training_sample,
)
from povguard.synth import TwinConfig, generate_twin

runner = CliRunner()
LAST = "2026-04"


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-county twin (1,000 households, 16 months) through every monthly cycle.

    The store lives in ``<twin>/home`` (the data directory of the CLI tests).
    """
    out = tmp_path_factory.mktemp("risk-pipeline")
    generate_twin(TwinConfig(out=out, households=1000, months=16, seed=7, counties=1))
    engine = DuckDBEngine(out / "home" / "analytics.duckdb")
    pack = load_policy(None)
    periods = feed_periods(out / "feeds")
    assert periods[-1] == LAST
    for p in periods:
        run_cycle(engine, p, out / "feeds", out / "registry", pack)
    build_panel(engine, pack)
    engine.close()
    return out


@pytest.fixture
def engine(twin: Path) -> Iterator[DuckDBEngine]:
    e = DuckDBEngine(twin / "home" / "analytics.duckdb")
    yield e
    e.close()


def test_training_sample_keeps_every_positive(engine: DuckDBEngine) -> None:
    full, rate = training_sample(engine, "y_3", None, "2025-12")
    assert rate == 1.0 and (full["weight"] == 1.0).all()
    assert full["y_3"].notna().all() and full["period"].max() == "2025-12"
    assert int((full["y_3"] == 1).sum()) >= 5
    sample, rate = training_sample(engine, "y_3", "2025-03", "2025-12", max_negatives=2000)
    assert sample["period"].min() == "2025-03"
    in_range = full[full["period"] >= "2025-03"]
    negatives = int((in_range["y_3"] == 0).sum())
    assert rate == round(2000 / negatives * 1_000_000) / 1_000_000  # the hash buckets kept
    assert int((sample["y_3"] == 1).sum()) == int((in_range["y_3"] == 1).sum())
    kept = int((sample["y_3"] == 0).sum())
    assert 1500 < kept < 2500  # a hash sample: about max_negatives
    assert np.allclose(sample.loc[sample["y_3"] == 0, "weight"], 1 / rate)
    assert (sample.loc[sample["y_3"] == 1, "weight"] == 1.0).all()
    again, _ = training_sample(engine, "y_3", "2025-03", "2025-12", max_negatives=2000)
    pd.testing.assert_frame_equal(sample, again)  # the same rows every run
    with pytest.raises(Exception, match="no label"):
        training_sample(engine, "y_9", None, "2025-12")


def test_train_score_predict_and_monitor(engine: DuckDBEngine, tmp_path: Path) -> None:
    pack = load_policy(None)
    result = train_model(
        engine,
        pack,
        horizon=3,
        holdout_months=3,
        capacity=2,
        build=False,
        home=tmp_path,
        model_id="m1",
    )
    card = result.card
    assert card is not None and card.id == "m1" and card.horizon_months == 3
    d = card.details
    # labels of y_3 are known up to 2026-01; held out 2025-11..2026-01; fit up to 2025-07
    assert d["test_periods"] == ["2025-11", "2026-01"]
    assert d["train_periods"] == ["2025-01", "2025-07"]
    assert set(card.metrics) >= {"auc", "pr_auc", "brier", "recall_at_capacity", "ratio_to_rules"}
    assert 0 <= card.metrics["brier"] <= 1
    # the rows actually used: outcomes of training rows known by the split (2025-10)
    assert result.report.split["train_periods"] == "2025-01..2025-07"
    assert result.report.split["test_periods"] == "2025-11..2026-01"
    assert "score" in d["reference"]["columns"]
    assert card.features == result.features and "income_line_ratio" in card.features

    loaded = load_model("m1", tmp_path)
    scores = score_period(engine, loaded, LAST, pack, capacity=2).to_pandas()
    households = engine.count(engine.table("indicators").filter(lambda t: t.period == LAST))
    assert len(scores) == households
    assert scores["score"].between(0, 1).all()
    listed = scores[scores["listed"]]
    assert not listed["at_risk_now"].any()
    per_village = listed.groupby("village_code").size()
    eligible = scores[~scores["at_risk_now"]].groupby("village_code").size()
    assert (per_village == eligible.clip(upper=2).loc[per_village.index]).all()
    assert set(listed["village_rank"]) <= {1, 2}
    # the listed are the village's highest scores among those not at risk
    for v, group in scores[~scores["at_risk_now"]].groupby("village_code"):
        top = group.sort_values(["score", "household_id"], ascending=[False, True]).head(2)
        assert set(top["household_id"]) == set(listed[listed.village_code == v]["household_id"])
    assert listed["reason_zh"].notna().all() and listed["reason_en"].notna().all()
    factors = json.loads(listed["factors"].iloc[0])
    assert factors and factors[0]["contribution"] > 0
    assert engine.count(engine.table(SCORES_TABLE)) == households

    w = engine.table("warnings")
    rules_before = engine.count(w.filter(w.period == LAST))

    def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
        w, s = engine.table("warnings"), engine.table(SCORES_TABLE)
        return tuple(  # type: ignore[return-value]
            engine.fetch(t.filter(t.period == LAST))
            .to_pandas()
            .sort_values(
                ["household_id", *(["rule_id"] if "rule_id" in t.columns else [])],
                ignore_index=True,
            )
            for t in (w, s)
        )

    combined = predict_period(engine, loaded, LAST, pack, capacity=2)
    first_run = tables()
    combined = predict_period(engine, loaded, LAST, pack, capacity=2)
    for a, b in zip(first_run, tables(), strict=True):  # idempotent, like every stage
        pd.testing.assert_frame_equal(a, b)
    stored = first_run[0]
    predicted = stored[stored["kind"] == PREDICTION_KIND]
    assert len(stored) == combined.num_rows == rules_before + len(listed)
    assert set(predicted["household_id"]) == set(listed["household_id"])
    assert (predicted["rule_version"] == "m1").all()
    first = predicted.iloc[0]
    assert first["reason_zh"].startswith("预测预警：未来 3 个月陷入风险的概率")
    assert json.loads(first["values"])["model_id"] == "m1"

    # an earlier month scored: its outcome (y_3) is known by LAST -> calibration
    score_period(engine, loaded, "2026-01", pack)
    report = monitor_period(engine, loaded, LAST, pack)
    assert report.calibration_summary["periods"] == ["2026-01"]
    assert report.calibration_summary["n"] > 0
    assert np.isfinite(report.score_psi)
    assert set(report.features["feature"]) <= set(card.features)
    # the monitored are the households the model ranks (none at risk now), as in training
    by = report.features.set_index("feature")
    assert by.loc["warn_risk", "psi"] == pytest.approx(0.0, abs=1e-9)
    assert by.loc["calendar_month", "status"] == "exempt"


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["risk", *args, "--home", str(home)])
    return result.exit_code, result.output


def test_cli_train_list_score_drift_evaluate(twin: Path, tmp_path: Path) -> None:
    home = twin / "home"
    code, out = _cli(home, "train", "--holdout", "3", "--id", "cli-1", "--activate", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["id"] == "cli-1" and data["label"] == "y_3" and "auc" in data["metrics"]
    assert active_model(home) == "cli-1"
    code, out = _cli(home, "list", "--json")
    assert code == 0 and json.loads(out)[0]["active"] is True
    code, out = _cli(home, "score", "--period", LAST, "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert rows and {"household_id", "score", "village_rank", "reason_zh"} <= set(rows[0])
    code, out = _cli(home, "score", "--period", LAST, "--csv", str(tmp_path / "list.csv"))
    assert code == 0 and len(pd.read_csv(tmp_path / "list.csv")) == len(rows)
    code, out = _cli(home, "drift", "--period", LAST, "--json")
    drift = json.loads(out)
    assert drift["model_id"] == "cli-1"
    assert code == (1 if drift["status"] == "major" else 0), out
    code, out = _cli(home, "evaluate", "--cutoff", "2025-12", "--horizon", "3",
                     "--out", str(tmp_path / "report"))  # fmt: skip
    assert code == 0, out
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "| rules |" in report and "| default |" in report
    code, out = _cli(home, "typology", "--period", LAST, "--json")
    assert code == 0, out
    typology = json.loads(out)
    assert typology["households"] >= 10 and -1 <= typology["stability"] <= 1
    assert sum(p["size"] for p in typology["profiles"]) == typology["households"]
    assert all(p["name_zh"] and p["name_en"] for p in typology["profiles"])
    # errors: bad period 2, unknown model 1, no active model 2
    assert _cli(home, "score", "--period", "2026-13")[0] == 2
    assert _cli(home, "score", "--period", LAST, "--model", "nope")[0] == 1
    assert _cli(home, "activate", "nope")[0] == 1
    assert _cli(home, "deactivate")[0] == 0 and active_model(home) is None
    code, out = _cli(home, "score", "--period", LAST)
    assert code == 2 and "activate" in out
    assert _cli(tmp_path / "empty", "train")[0] == 2  # no analytics store
    code, out = _cli(home, "train", "--cutoff", "2027-01")
    assert code == 2 and "after the last month" in out
    assert _cli(home, "score", "--period", LAST, "--model", "cli-1", "--capacity", "0")[0] == 2


def test_cycle_adds_the_active_models_warnings(twin: Path) -> None:
    home = twin / "home"
    code, out = _cli(home, "train", "--holdout", "0", "--id", "cycle-1", "--json")
    assert code == 0, out
    set_active("cycle-1", home)
    cycle = ["cycle", "--feeds", str(twin / "feeds"), "--period", LAST, "--home", str(home)]
    try:
        result = runner.invoke(app, cycle)
        assert result.exit_code == 0, result.output
        # an active model that no longer loads stops the cycle before any stage: exit 2
        card = home / "models" / "cycle-1" / "card.json"
        original = card.read_text(encoding="utf-8")
        card.write_text(original.replace('"horizon_months": 3', '"horizon_months": 6'))
        broken = runner.invoke(app, cycle)
        assert broken.exit_code == 2 and "risk deactivate" in broken.output
        card.write_text(original, encoding="utf-8")
    finally:
        set_active(None, home)
    engine = DuckDBEngine(home / "analytics.duckdb")
    try:
        w = engine.table("warnings")
        kinds = engine.fetch(w.filter(w.period == LAST).select("kind", "rule_version")).to_pandas()
    finally:
        engine.close()
    predicted = kinds[kinds["kind"] == PREDICTION_KIND]
    assert len(predicted) > 0 and (predicted["rule_version"] == "cycle-1").all()
    assert (kinds["kind"] == "risk").any()


@pytest.mark.spark
def test_panel_sample_and_scores_on_spark(engine: DuckDBEngine, tmp_path: Path) -> None:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (install a JDK 17+)")
    from povguard.engine.spark import SparkEngine

    spark = SparkEngine()
    for name in ("indicators", "warnings", "raw_income_survey", "links", "registry_persons",
                 "regions"):  # fmt: skip
        spark.replace_table(name, engine.fetch(engine.table(name)))
    pack = load_policy(None)
    assert build_panel(spark, pack) == engine.count(engine.table("risk_panel"))
    duck, _ = training_sample(engine, "y_3", None, "2025-12")
    other, _ = training_sample(spark, "y_3", None, "2025-12")
    keys = ["household_id", "period"]
    pd.testing.assert_frame_equal(
        duck[[*keys, "y_3", "income_line_ratio", "wage_pc_change_3"]],
        other[[*keys, "y_3", "income_line_ratio", "wage_pc_change_3"]],
        check_dtype=False,
    )
    # the hash sample differs by engine; both keep every positive at the same rate
    _, duck_rate = training_sample(engine, "y_3", None, "2025-12", max_negatives=3000)
    sampled, spark_rate = training_sample(spark, "y_3", None, "2025-12", max_negatives=3000)
    assert spark_rate == pytest.approx(duck_rate)
    assert int((sampled["y_3"] == 1).sum()) == int((duck["y_3"] == 1).sum())
    result = train_model(engine, pack, holdout_months=0, build=False, home=tmp_path, model_id="s")
    loaded = load_model("s", tmp_path)
    a = score_period(engine, loaded, LAST, pack, store=False).to_pandas()
    b = score_period(spark, loaded, LAST, pack, store=False).to_pandas()
    assert result.card is not None
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-9)
    assert a["listed"].tolist() == b["listed"].tolist()
