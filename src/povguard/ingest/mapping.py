"""Declarative source mappings: which file is which department's feed, and what it means.

One YAML file per source (``resources/mappings/<source>.yaml``) is validated by the
pydantic models below; an invalid file raises :class:`~povguard.errors.ConfigError`
naming the file and the field.
"""

from __future__ import annotations

import codecs
import datetime as dt
import fnmatch
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from povguard.errors import ConfigError

__all__ = [
    "FIELD_TYPES",
    "LINEAGE_COLUMNS",
    "FieldSpec",
    "HeaderOptions",
    "HouseholdKeys",
    "PersonKeys",
    "SourceMapping",
    "load_mapping",
    "load_mappings",
    "normalise_label",
]

FieldType = Literal[
    "id", "name", "pinyin", "date", "money", "int", "float", "code", "region", "text"
]
FileFormat = Literal["csv", "xlsx", "json"]

#: Field types and what they load as (see :mod:`povguard.ingest.normalise`).
FIELD_TYPES: tuple[str, ...] = (
    "id",
    "name",
    "pinyin",
    "date",
    "money",
    "int",
    "float",
    "code",
    "region",
    "text",
)
#: Columns every ``raw_<source>`` table carries besides the mapping's fields.
LINEAGE_COLUMNS: tuple[str, ...] = (
    "_issues",
    "period",
    "_source",
    "_file",
    "_file_sha256",
    "_sheet",
    "_row",
)
#: Suffixes of the two extra columns every ``id`` field gets.
ID_STATUS_SUFFIX = "_status"
ID_RAW_SUFFIX = "_raw"

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_SPACES = re.compile(r"\s+")
_FORMAT_EXTENSIONS = {"csv": (".csv", ".txt"), "xlsx": (".xlsx", ".xlsm"), "json": (".json",)}


def normalise_label(text: str) -> str:
    """Normalise a header or alias for matching (NFKC, no whitespace, lower case).

    Parameters
    ----------
    text:
        A column header as written in a file, or an alias from a mapping.

    Returns
    -------
    str
        ``"所属村（居） "`` and ``"所属村(居)"`` both give ``"所属村(居)"``.
    """
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Model):
    """One target field of a source mapping.

    Attributes
    ----------
    name:
        Target column name (English identifier, ``snake_case``).
    headers:
        Header aliases: the departments' Chinese headers (several allowed), JSON
        keys, or ``"group/sub"`` for a sub-header under a merged group label.
    type:
        ``id`` (resident ID number), ``name`` (Chinese personal name), ``pinyin``
        (romanised name), ``date``, ``money`` (yuan), ``int``, ``float``, ``code``
        (a value from a code list), ``region`` (12-digit region code) or ``text``.
    required:
        A row whose value is missing or invalid is quarantined.
    values:
        Allowed values of a ``code`` field (after ``value_map``); other values are
        loaded as null and noted in ``_issues``.
    value_map:
        Synonyms of a ``code`` field mapped to the canonical value (``男性: 男``).
    max_future_days:
        ``date`` only: dates later than the period's last day plus this many days
        are rejected; ``null`` accepts any future date (loan due dates).
    min_date:
        ``date`` only: earlier dates are rejected.
    description:
        Free text for people.
    """

    name: str
    headers: list[str] = Field(min_length=1)
    type: FieldType
    required: bool = False
    values: list[str] | None = None
    value_map: dict[str, str] = Field(default_factory=dict)
    max_future_days: int | None = Field(31, ge=0)
    min_date: dt.date = dt.date(1900, 1, 1)
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"field name {value!r} must be snake_case ASCII (a-z, 0-9, _)")
        return value

    @field_validator("headers")
    @classmethod
    def _non_empty_headers(cls, value: list[str]) -> list[str]:
        if any(not normalise_label(h) for h in value):
            raise ValueError("header aliases must not be empty")
        return value

    @field_validator("value_map", mode="before")
    @classmethod
    def _stringify_map(cls, value: Any) -> Any:
        # YAML reads 1: 男 as an int key; codes are strings.
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _stringify_values(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @model_validator(mode="after")
    def _options_fit_type(self) -> FieldSpec:
        if self.type != "code" and (self.values is not None or self.value_map):
            raise ValueError(f"field {self.name!r}: values/value_map are only for type code")
        if self.values is not None and self.value_map:
            unknown = sorted(set(self.value_map.values()) - set(self.values))
            if unknown:
                raise ValueError(
                    f"field {self.name!r}: value_map targets {unknown} are not in values"
                )
        return self

    @property
    def aliases(self) -> frozenset[str]:
        """The header aliases, normalised with :func:`normalise_label`."""
        return frozenset(normalise_label(h) for h in self.headers)


class HeaderOptions(_Model):
    """How the header row is found (CSV and XLSX).

    Attributes
    ----------
    scan_rows:
        Number of rows at the top of a sheet searched for the header.
    min_matches:
        Least number of fields a header must match (capped at the number of fields).
    """

    scan_rows: int = Field(10, ge=1, le=100)
    min_matches: int = Field(2, ge=1)


class PersonKeys(_Model):
    """Fields that identify the person a record is about (field names)."""

    id: str | None = None
    name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    name_pinyin: str | None = None


class HouseholdKeys(_Model):
    """Fields that identify the household a record is about (field names)."""

    head_id: str | None = None
    head_name: str | None = None
    household_no: str | None = None
    region: str | None = None
    village: str | None = None
    township: str | None = None
    address: str | None = None


_KEY_TYPES: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "head_id": ("id",),
    "name": ("name",),
    "head_name": ("name",),
    "birth_date": ("date",),
    "name_pinyin": ("pinyin",),
    "region": ("region",),
}


class SourceMapping(_Model):
    """How one department's files are read and what their columns mean.

    Attributes
    ----------
    source:
        Stable source id (``medical_claims``); tables are ``raw_<source>``.
    department, department_en:
        Sending department in Chinese and English.
    files:
        File-name glob patterns (case-insensitive), e.g. ``medical_claims.*``.
    format:
        ``csv``, ``xlsx`` or ``json``.
    encoding:
        ``auto`` (BOM, then strict UTF-8, then GB18030, then charset detection) or
        a Python codec name (``gbk``, ``utf-8-sig``...). XLSX ignores it.
    delimiter:
        CSV field delimiter.
    header:
        Header-row detection options.
    sheet:
        XLSX sheet to read; ``null`` reads every sheet whose header is recognised.
    records_path:
        JSON: dotted path of the list of records (``data``); ``null`` when the file
        is the list itself.
    fields:
        The target fields, in table order.
    record_key:
        Fields that identify a record for the department (a later delivery with
        the same key supersedes it).
    person_keys, household_keys:
        Which fields say who (person) and which household a record is about.
    identified_by:
        Alternatives, each a list of fields that together identify the record's
        subject; a row satisfying none of them is quarantined (``unidentifiable``).
        An ``id`` field counts when its ID is valid; ``<id field>_raw`` counts when
        the ID cell holds any text (even an invalid or Excel-mangled ID). Empty:
        no identity check.
    """

    source: str
    department: str
    department_en: str | None = None
    description: str | None = None
    files: list[str] = Field(min_length=1)
    format: FileFormat
    encoding: str = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1)
    header: HeaderOptions = Field(default_factory=HeaderOptions)
    sheet: str | None = None
    records_path: str | None = "data"
    fields: list[FieldSpec] = Field(min_length=1)
    record_key: list[str] = Field(default_factory=list)
    person_keys: PersonKeys | None = None
    household_keys: HouseholdKeys | None = None
    identified_by: list[list[str]] = Field(default_factory=list)

    @field_validator("source")
    @classmethod
    def _source_identifier(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError(f"source {value!r} must be snake_case ASCII (a-z, 0-9, _)")
        return value

    @field_validator("files", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceMapping:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate field names {dupes}")
        by_name = {f.name: f for f in self.fields}
        generated = {
            f.name + suffix
            for f in self.fields
            if f.type == "id"
            for suffix in (ID_STATUS_SUFFIX, ID_RAW_SUFFIX)
        }
        clash = sorted((set(names) & generated) | (set(names) & set(LINEAGE_COLUMNS)))
        if clash:
            raise ValueError(f"field names {clash} collide with generated columns")
        alias_owner: dict[str, str] = {}
        for f in self.fields:
            for alias in f.aliases:
                if alias in alias_owner and alias_owner[alias] != f.name:
                    raise ValueError(
                        f"header alias {alias!r} is given for both "
                        f"{alias_owner[alias]!r} and {f.name!r}"
                    )
                alias_owner[alias] = f.name
        for key in self.record_key:
            if key not in by_name:
                raise ValueError(f"record_key names unknown field {key!r}")
        for label, keys in (
            ("person_keys", self.person_keys),
            ("household_keys", self.household_keys),
        ):
            if keys is None:
                continue
            for role, field in keys.model_dump().items():
                if field is None:
                    continue
                if field not in by_name:
                    raise ValueError(f"{label}.{role} names unknown field {field!r}")
                allowed = _KEY_TYPES.get(role)
                if allowed and by_name[field].type not in allowed:
                    raise ValueError(
                        f"{label}.{role}: field {field!r} has type {by_name[field].type}, "
                        f"expected {' or '.join(allowed)}"
                    )
        raw_ids = {f.name + ID_RAW_SUFFIX for f in self.fields if f.type == "id"}
        for i, option in enumerate(self.identified_by):
            if not option:
                raise ValueError(f"identified_by[{i}] is empty")
            for field in option:
                if field not in by_name and field not in raw_ids:
                    raise ValueError(f"identified_by[{i}] names unknown field {field!r}")
        if self.format != "json" and self.records_path not in (None, "data"):
            raise ValueError("records_path is only for format json")
        return self

    # ------------------------------------------------------------------ helpers

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.source}: no field {name!r}")

    @property
    def id_fields(self) -> list[str]:
        """Names of the ``id`` fields."""
        return [f.name for f in self.fields if f.type == "id"]

    def matches(self, file_name: str) -> bool:
        """Whether ``file_name`` matches one of the :attr:`files` patterns."""
        name = file_name.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.files)

    def extension_conflict(self, file_name: str) -> str | None:
        """The other format a file's extension names, if it names one that is not ours."""
        suffix = Path(file_name).suffix.lower()
        for fmt, extensions in _FORMAT_EXTENSIONS.items():
            if suffix in extensions and fmt != self.format:
                return fmt
        return None


# ------------------------------------------------------------------------- loading


def _error_location(loc: tuple[int | str, ...], data: Any) -> str:
    """``fields[3] (admit_date).type`` for pydantic's ``("fields", 3, "type")``."""
    text = ""
    node = data
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
                text += f" ({name})" if name else ""
        else:
            text += ("." if text else "") + str(item)
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return text or "(top level)"


def _parse(text: str, origin: str) -> SourceMapping:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a mapping file must be a YAML mapping (key: value)")
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_error_location(tuple(err['loc']), data)}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{origin}: invalid source mapping: {problems}") from exc


def load_mapping(path: Path) -> SourceMapping:
    """Load and validate one mapping file.

    Parameters
    ----------
    path:
        A ``.yaml`` file.

    Returns
    -------
    SourceMapping
        The validated mapping.

    Raises
    ------
    ConfigError
        If the file cannot be read or is invalid (the message names file and field).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read mapping: {exc}") from exc
    return _parse(text, str(path))


def _yaml_files(folder: Traversable) -> Iterable[Traversable]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.name.endswith((".yaml", ".yml"))),
        key=lambda p: p.name,
    )


def load_mappings(folder: Path | None = None) -> dict[str, SourceMapping]:
    """Load every source mapping of a folder (default: the packaged mappings).

    Parameters
    ----------
    folder:
        Folder of ``*.yaml`` mapping files; ``None`` loads the mappings shipped in
        ``povguard/resources/mappings``.

    Returns
    -------
    dict[str, SourceMapping]
        Mappings by source id, in file-name order.

    Raises
    ------
    ConfigError
        If the folder does not exist, holds no mapping, a file is invalid or two
        files declare the same source.
    """
    root: Traversable
    if folder is None:
        root = resources.files("povguard") / "resources" / "mappings"
    else:
        if not Path(folder).is_dir():
            raise ConfigError(f"{folder}: mapping folder does not exist")
        root = Path(folder)
    out: dict[str, SourceMapping] = {}
    origin_of: dict[str, str] = {}
    for item in _yaml_files(root):
        origin = str(item) if folder is not None else f"povguard/resources/mappings/{item.name}"
        mapping = _parse(item.read_text(encoding="utf-8"), origin)
        if mapping.source in out:
            raise ConfigError(
                f"{origin}: source {mapping.source!r} is already declared in "
                f"{origin_of[mapping.source]}"
            )
        out[mapping.source] = mapping
        origin_of[mapping.source] = origin
    if not out:
        raise ConfigError(f"{folder or 'povguard/resources/mappings'}: no mapping files (*.yaml)")
    return out
