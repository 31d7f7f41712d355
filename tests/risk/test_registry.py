"""Model registry: round trip, listing, refusal of tampered cards and files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from povguard import __version__
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError
from povguard.risk.models import RiskClassifier
from povguard.risk.registry import (
    fingerprint,
    list_models,
    load_model,
    models_dir,
    save_model,
)

CREATED = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


def table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income_pc_12m": rng.normal(9000, 2000, n),
            "wage_pc_change_3": rng.normal(0, 0.3, n),
            "elderly_members": rng.integers(0, 3, n).astype(float),
        }
    )
    y = ((X["income_pc_12m"] < 8000) | (X["wage_pc_change_3"] < -0.3)).astype(int).to_numpy()
    return X, y


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, RiskClassifier, pd.DataFrame, np.ndarray, str]:
    X, y = table()
    model = RiskClassifier(n_estimators=20, min_child_samples=10, n_jobs=1).fit(X, y)
    card = save_model(
        model,
        X,
        y=y,
        home=tmp_path,
        policy_pack_id="national",
        policy_pack_version="2026.1",
        horizon_months=3,
        metrics={"auc": np.float64(0.91), "recall_at_capacity": 0.5},
        created=CREATED,
    )
    return tmp_path, model, X, y, card.id


def test_round_trip(saved: tuple[Path, RiskClassifier, pd.DataFrame, np.ndarray, str]) -> None:
    home, model, X, y, model_id = saved
    assert model_id == f"risk-20261101T083000Z-{fingerprint(X, y)[:8]}"
    folder = home / "models" / model_id
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.joblib"]
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert card["features"] == ["income_pc_12m", "wage_pc_change_3", "elderly_members"]
    assert card["fingerprint"] == fingerprint(X, y)
    assert card["policy_pack_id"] == "national" and card["policy_pack_version"] == "2026.1"
    assert card["horizon_months"] == 3
    assert card["metrics"] == {"auc": 0.91, "recall_at_capacity": 0.5}
    assert card["created"] == "2026-11-01T08:30:00+00:00"
    assert card["povguard_version"] == __version__
    assert card["model_class"] == "povguard.risk.models.RiskClassifier"
    assert card["n_rows"] == 300
    assert card["params"]["n_estimators"] == 20
    assert len(card["model_sha256"]) == 64

    loaded = load_model(
        model_id, home, features=list(X.columns), expected_fingerprint=card["fingerprint"]
    )
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    assert loaded.card.id == model_id and loaded.card.horizon_months == 3
    assert load_model(model_id, home, X=X, y=y).card.n_rows == 300

    (listed,) = list_models(home)
    assert listed == loaded.card


def test_refuses_a_tampered_card(
    saved: tuple[Path, RiskClassifier, pd.DataFrame, np.ndarray, str],
) -> None:
    home, _, _, _, model_id = saved
    path = home / "models" / model_id / "card.json"
    card = json.loads(path.read_text(encoding="utf-8"))
    card["features"] = ["income_pc_12m", "elderly_members", "wage_pc_change_3"]
    path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(DataError, match=r"card.json was changed after saving \(\['features'\]\)"):
        load_model(model_id, home)
    # even a consistent-looking change of another field is caught
    card = json.loads(path.read_text(encoding="utf-8"))
    card["features"] = ["income_pc_12m", "wage_pc_change_3", "elderly_members"]
    card["horizon_months"] = 6
    path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(DataError, match="horizon_months"):
        load_model(model_id, home)


def test_refuses_a_swapped_model_file(
    saved: tuple[Path, RiskClassifier, pd.DataFrame, np.ndarray, str],
) -> None:
    home, _, _, _, model_id = saved
    path = home / "models" / model_id / "model.joblib"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(DataError, match="SHA-256"):
        load_model(model_id, home)


def test_checks_callers_expectations(
    saved: tuple[Path, RiskClassifier, pd.DataFrame, np.ndarray, str],
) -> None:
    home, _, X, y, model_id = saved
    with pytest.raises(DataError, match=r"missing \['elderly_members'\], unexpected \['age'\]"):
        load_model(model_id, home, features=["income_pc_12m", "wage_pc_change_3", "age"])
    with pytest.raises(DataError, match="different order"):
        load_model(model_id, home, features=list(reversed(X.columns)))
    with pytest.raises(DataError, match="fingerprint"):
        load_model(model_id, home, expected_fingerprint="0" * 64)
    changed = X.copy()
    changed.iloc[0, 0] += 1
    with pytest.raises(DataError, match="fingerprint"):
        load_model(model_id, home, X=changed, y=y)


def test_fingerprint() -> None:
    X, y = table(50)
    fp = fingerprint(X)
    assert len(fp) == 64 and fp == fingerprint(X.copy())
    # row and column order do not matter, the index does not either
    assert fingerprint(X.iloc[::-1][list(reversed(X.columns))].reset_index(drop=True)) == fp
    assert fingerprint(X.set_axis(range(100, 150))) == fp
    # values, names, dtypes and the label do
    changed = X.copy()
    changed.iloc[3, 2] = 9.0
    assert fingerprint(changed) != fp
    assert fingerprint(X.rename(columns={"elderly_members": "old"})) != fp
    assert fingerprint(X.astype({"elderly_members": "float32"})) != fp
    assert fingerprint(X, y) != fp
    assert fingerprint(X.to_numpy()) == fingerprint(X.set_axis(["x0", "x1", "x2"], axis=1))


def test_errors_and_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = table(100)
    model = RiskClassifier(n_estimators=5, n_jobs=1).fit(X, y)
    kwargs: dict[str, Any] = {"policy_pack_id": "national", "policy_pack_version": "2026.1"}
    assert list_models(tmp_path) == []
    with pytest.raises(DataError, match="fitted on features"):
        save_model(model, X[["elderly_members", "income_pc_12m", "wage_pc_change_3"]],
                   home=tmp_path, horizon_months=3, **kwargs)  # fmt: skip
    with pytest.raises(ConfigError, match="invalid model id"):
        save_model(model, X, home=tmp_path, horizon_months=3, model_id="../evil", **kwargs)
    with pytest.raises(ConfigError, match="horizon"):
        save_model(model, X, home=tmp_path, horizon_months=0, **kwargs)
    first = save_model(model, X, home=tmp_path, horizon_months=3, model_id="m-3", created=CREATED,
                       **kwargs)  # fmt: skip
    with pytest.raises(ConflictError):
        save_model(model, X, home=tmp_path, horizon_months=3, model_id="m-3", **kwargs)
    monkeypatch.setenv("POVGUARD_HOME", str(tmp_path))
    assert models_dir() == tmp_path / "models"
    later = save_model(model, X, horizon_months=6, model_id="m-6",
                       created=datetime(2026, 12, 1, tzinfo=UTC), **kwargs)  # fmt: skip
    (tmp_path / "models" / "broken").mkdir()
    (tmp_path / "models" / "broken" / "card.json").write_text("{", encoding="utf-8")
    assert [c.id for c in list_models()] == [later.id, first.id]
    assert [c.horizon_months for c in list_models(tmp_path)] == [6, 3]
    with pytest.raises(NotFoundError):
        load_model("m-9", tmp_path)
    with pytest.raises(DataError, match="not valid JSON"):
        load_model("broken", tmp_path)
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".tmp")]
