"""Model registry: trained risk models saved with a card that says what they are.

A model lives in ``<home>/models/<id>/`` as two files:

- ``model.joblib``: the fitted estimator bundled with a copy of its card;
- ``card.json``: the model card: training-data fingerprint, feature list, policy-pack
  id and version, horizon, metrics, creation time, povguard version, and the
  SHA-256 of ``model.joblib``.

Loading checks that ``model.joblib`` matches the card's hash (before unpickling),
that the card equals the copy bundled with the model, and that the model's own
feature names equal the card's: an edited card (say, a changed feature list) or a
swapped file is refused. The caller may also pass the features and the fingerprint
(or the feature table) it is about to use. Note that joblib files are pickles: the
checks catch accidents and careless edits, not a deliberate attacker who can write
to the data directory; load only models from a directory you trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from povguard import __version__
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError

__all__ = [
    "LoadedModel",
    "ModelCard",
    "fingerprint",
    "list_models",
    "load_model",
    "models_dir",
    "save_model",
]

log = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MODEL_FILE = "model.joblib"
_CARD_FILE = "card.json"


@dataclass(frozen=True)
class ModelCard:
    """What a saved model is and what it was trained on.

    Attributes
    ----------
    id : str
        Registry id (folder name).
    name : str
        Model family name (e.g. ``"risk"``).
    created : str
        Creation time, ISO 8601 in UTC.
    povguard_version : str
        povguard version that saved the model.
    model_class : str
        Import path of the estimator class.
    features : list[str]
        Feature names, in the order the model expects them.
    n_rows : int
        Training rows.
    fingerprint : str
        SHA-256 fingerprint of the training data (:func:`fingerprint`).
    policy_pack_id, policy_pack_version : str
        Policy pack whose at-risk definition gave the label.
    horizon_months : int
        Months ahead the label looks.
    metrics : dict[str, float]
        Evaluation metrics (e.g. out-of-time AUC, recall at capacity).
    params : dict[str, Any]
        The estimator's hyper-parameters (``get_params(deep=False)``), JSON-safe.
    model_sha256 : str
        SHA-256 of ``model.joblib``.
    details : dict[str, Any]
        Anything else the trainer records, JSON-safe (label, training periods,
        capacity, negative sampling rate, the drift reference distributions).
    """

    id: str
    name: str
    created: str
    povguard_version: str
    model_class: str
    features: list[str]
    n_rows: int
    fingerprint: str
    policy_pack_id: str
    policy_pack_version: str
    horizon_months: int
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    model_sha256: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The card as JSON.

        Returns
        -------
        str
            Indented JSON with keys in a stable order, ending in a newline.
        """
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelCard:
        """A card from its JSON mapping.

        Parameters
        ----------
        data : Mapping
            Parsed ``card.json``.

        Returns
        -------
        ModelCard
            The card.

        Raises
        ------
        DataError
            If fields are missing or unknown.
        """
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise DataError(f"invalid model card: {exc}") from exc


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from the registry with its card."""

    model: Any
    card: ModelCard


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # JSON has no NaN
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)


def _frame(X: Any) -> Any:
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise DataError(f"a feature table must be 2-D, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def fingerprint(X: Any, y: Any = None) -> str:
    """SHA-256 fingerprint of a feature table (and optionally its label).

    Columns are taken in name order with their dtypes; each row is hashed
    (``pandas.util.hash_pandas_object``, index ignored) and the row hashes are
    sorted, so the fingerprint does not depend on column or row order but changes
    with any value, column name or dtype.

    Parameters
    ----------
    X : DataFrame or 2-D array-like
        Feature table (array columns are named ``x0``, ``x1``, ...).
    y : array-like of shape (n_samples,), optional
        Label, hashed as one more column named ``__label__``.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    import pandas as pd

    frame = _frame(X)
    if y is not None:
        frame = frame.assign(__label__=np.asarray(y))
    columns = sorted(str(c) for c in frame.columns)
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)[columns]
    digest = hashlib.sha256()
    digest.update(
        json.dumps([[c, str(frame[c].dtype)] for c in columns], ensure_ascii=False).encode()
    )
    digest.update(str(len(frame)).encode())
    if len(frame) and columns:
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        digest.update(np.sort(rows).tobytes())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def models_dir(home: Path | str | None = None) -> Path:
    """Folder of the registry: ``<home>/models``.

    Parameters
    ----------
    home : Path or str, optional
        Data directory; ``POVGUARD_HOME`` (settings) by default.

    Returns
    -------
    Path
        The models folder (not created).
    """
    if home is None:
        from povguard.settings import get_settings

        home = get_settings().home
    return Path(home) / "models"


def _check_id(model_id: str) -> str:
    if not _ID.match(model_id) or model_id.startswith("."):
        raise ConfigError(
            f"invalid model id {model_id!r}: use letters, digits, '.', '_' and '-' (max 128)"
        )
    return model_id


def _model_features(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    if names is None and hasattr(model, "steps"):  # a Pipeline: ask its first step
        names = getattr(model.steps[0][1], "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def save_model(
    model: Any,
    X: Any,
    *,
    policy_pack_id: str,
    policy_pack_version: str,
    horizon_months: int,
    metrics: Mapping[str, float] | None = None,
    y: Any = None,
    home: Path | str | None = None,
    name: str = "risk",
    model_id: str | None = None,
    created: datetime | None = None,
    details: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Save a fitted model with its card under ``<home>/models/<id>/``.

    Parameters
    ----------
    model : estimator
        A fitted estimator (anything joblib can pickle).
    X : DataFrame or 2-D array-like
        The training feature table (fingerprinted; its columns are the feature list).
    policy_pack_id, policy_pack_version : str
        Policy pack whose at-risk definition gave the label.
    horizon_months : int
        Months ahead the label looks (e.g. 3 or 6).
    metrics : Mapping[str, float], optional
        Evaluation metrics to record.
    y : array-like, optional
        Training label, included in the fingerprint when given.
    home : Path or str, optional
        Data directory; the settings' ``home`` by default.
    name : str, default="risk"
        Model family name, the start of the default id.
    model_id : str, optional
        Registry id; default ``<name>-<YYYYmmddTHHMMSSZ>-<fingerprint[:8]>``.
    created : datetime, optional
        Creation time (UTC now by default).
    details : Mapping[str, Any], optional
        Further JSON-safe facts to keep on the card.

    Returns
    -------
    ModelCard
        The card written to ``card.json``.

    Raises
    ------
    DataError
        If the model's feature names differ from the table's columns.
    ConflictError
        If a model with this id exists.
    """
    import joblib

    if horizon_months < 1:
        raise ConfigError(f"horizon_months must be >= 1, got {horizon_months}")
    frame = _frame(X)
    features = [str(c) for c in frame.columns]
    fitted = _model_features(model)
    if fitted is not None and fitted != features:
        raise DataError(
            f"the model was fitted on features {fitted[:5]}... but the table has "
            f"{features[:5]}...: pass the training table"
        )
    fp = fingerprint(frame, y)
    when = (created or datetime.now(UTC)).astimezone(UTC)
    mid = _check_id(model_id or f"{name}-{when:%Y%m%dT%H%M%SZ}-{fp[:8]}")
    params = _jsonable(model.get_params(deep=False)) if hasattr(model, "get_params") else {}
    card = ModelCard(
        id=mid,
        name=name,
        created=when.isoformat(timespec="seconds"),
        povguard_version=__version__,
        model_class=f"{type(model).__module__}.{type(model).__qualname__}",
        features=features,
        n_rows=len(frame),
        fingerprint=fp,
        policy_pack_id=policy_pack_id,
        policy_pack_version=str(policy_pack_version),
        horizon_months=int(horizon_months),
        metrics={str(k): float(v) for k, v in (metrics or {}).items()},
        params=params,
        details=_jsonable(dict(details or {})),
    )
    root = models_dir(home)
    final = root / mid
    if final.exists():
        raise ConflictError(f"model {mid!r} already exists in {root}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{mid}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        joblib.dump({"model": model, "card": asdict(card)}, tmp / _MODEL_FILE)
        card = ModelCard(**{**asdict(card), "model_sha256": _file_sha256(tmp / _MODEL_FILE)})
        (tmp / _CARD_FILE).write_text(card.to_json(), encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError as exc:
            raise ConflictError(f"model {mid!r} already exists in {root}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("saved model %s (%d features, %d rows)", mid, len(features), len(frame))
    return card


def _read_card(folder: Path) -> ModelCard:
    try:
        data = json.loads((folder / _CARD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFoundError(f"model {folder.name!r} has no {_CARD_FILE}") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"model {folder.name!r}: {_CARD_FILE} is not valid JSON: {exc}") from exc
    return ModelCard.from_mapping(data)


def load_model(
    model_id: str,
    home: Path | str | None = None,
    *,
    features: Sequence[str] | None = None,
    expected_fingerprint: str | None = None,
    X: Any = None,
    y: Any = None,
) -> LoadedModel:
    """Load a model and its card, checking that they belong together.

    Parameters
    ----------
    model_id : str
        Registry id.
    home : Path or str, optional
        Data directory; the settings' ``home`` by default.
    features : Sequence[str], optional
        Feature list the caller will score with; must equal the card's (in order).
    expected_fingerprint : str, optional
        Expected training-data fingerprint.
    X : DataFrame or 2-D array-like, optional
        The training table: its fingerprint must match the card's.
    y : array-like, optional
        The training label, when the model was saved with one.

    Returns
    -------
    LoadedModel
        ``model`` and ``card``.

    Raises
    ------
    NotFoundError
        If there is no such model.
    DataError
        If the model file, the card, the model's features or the caller's
        expectations disagree.
    """
    import joblib

    folder = models_dir(home) / _check_id(model_id)
    if not folder.is_dir():
        raise NotFoundError(f"no model {model_id!r} in {folder.parent}")
    card = _read_card(folder)
    if card.id != model_id:
        raise DataError(f"model {model_id!r}: its card names id {card.id!r}")
    path = folder / _MODEL_FILE
    if not path.is_file():
        raise NotFoundError(f"model {model_id!r} has no {_MODEL_FILE}")
    if _file_sha256(path) != card.model_sha256:
        raise DataError(f"model {model_id!r}: {_MODEL_FILE} does not match its card's SHA-256")
    bundle = joblib.load(path)
    embedded = asdict(ModelCard.from_mapping(bundle["card"]))  # fields added since: defaults
    written = asdict(card)
    written.pop("model_sha256")
    embedded.pop("model_sha256", None)
    if embedded != written:
        changed = sorted(k for k in written if written.get(k) != embedded.get(k))
        raise DataError(f"model {model_id!r}: card.json was changed after saving ({changed})")
    model = bundle["model"]
    fitted = _model_features(model)
    if fitted is not None and fitted != card.features:
        raise DataError(f"model {model_id!r}: the card's feature list is not the model's")
    if features is not None and list(features) != card.features:
        missing = sorted(set(card.features) - set(features))
        extra = sorted(set(features) - set(card.features))
        raise DataError(
            f"model {model_id!r} expects its {len(card.features)} features in card order; "
            f"missing {missing[:5]}, unexpected {extra[:5]}"
            + ("" if missing or extra else " (same names, different order)")
        )
    if expected_fingerprint is not None and expected_fingerprint != card.fingerprint:
        raise DataError(f"model {model_id!r} was trained on other data (fingerprint differs)")
    if X is not None and fingerprint(X, y) != card.fingerprint:
        raise DataError(f"model {model_id!r} was not trained on this table (fingerprint differs)")
    return LoadedModel(model=model, card=card)


def list_models(home: Path | str | None = None) -> list[ModelCard]:
    """Cards of all saved models, newest first.

    Parameters
    ----------
    home : Path or str, optional
        Data directory; the settings' ``home`` by default.

    Returns
    -------
    list[ModelCard]
        One card per model folder with a readable card (others are logged and skipped).
    """
    root = models_dir(home)
    if not root.is_dir():
        return []
    cards = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            cards.append(_read_card(folder))
        except DataError as exc:
            log.warning("skipping model folder %s: %s", folder, exc)
    return sorted(cards, key=lambda c: (c.created, c.id), reverse=True)


_ACTIVE_FILE = "active.json"


def set_active(model_id: str | None, home: Path | str | None = None) -> None:
    """Make ``model_id`` the model the monthly cycle predicts with (None: none).

    Parameters
    ----------
    model_id : str or None
        A saved model's id; None switches the predict stage off.
    home : Path or str, optional
        Data directory; the settings' ``home`` by default.

    Raises
    ------
    NotFoundError
        If there is no such model.
    DataError
        If the model does not load (see :func:`load_model`).
    """
    root = models_dir(home)
    path = root / _ACTIVE_FILE
    if model_id is None:
        path.unlink(missing_ok=True)
        return
    load_model(model_id, home)  # refuse a model that does not load
    tmp = root / f".{_ACTIVE_FILE}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps({"id": model_id}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def active_model(home: Path | str | None = None) -> str | None:
    """The id of the model the cycle predicts with, or None.

    Parameters
    ----------
    home : Path or str, optional
        Data directory; the settings' ``home`` by default.

    Returns
    -------
    str or None
        The active model's id.
    """
    path = models_dir(home) / _ACTIVE_FILE
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["id"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path} is not a valid active-model file: {exc}") from exc
