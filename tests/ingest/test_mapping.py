"""Source mappings: the packaged YAML files, validation and error messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from povguard.errors import ConfigError
from povguard.ingest import SourceMapping, load_mapping, load_mappings
from povguard.ingest.mapping import normalise_label
from povguard.synth import SOURCES
from povguard.synth.feeds.spec import Role

from .conftest import person_mapping

ROLE_TYPES = {
    Role.KEY: "text",
    Role.ID: "id",
    Role.NAME: "name",
    Role.NAME_PINYIN: "pinyin",
    Role.DATE: "date",
    Role.MONEY: "money",
    Role.INT: "int",
    Role.FLOAT: "float",
    Role.CODE: "code",
    Role.REGION: "region",
    Role.TEXT: "text",
}
INGEST_SRC = Path(__file__).parents[2] / "src" / "povguard" / "ingest"


def test_packaged_mappings_cover_every_twin_source() -> None:
    mappings = load_mappings()
    assert set(mappings) == {s.source for s in SOURCES}
    for spec in SOURCES:
        m = mappings[spec.source]
        assert m.format == spec.fmt
        assert m.matches(f"{spec.source}.{spec.extension}")
        for col in spec.columns:
            f = m.field(col.key)
            assert f.type == ROLE_TYPES[col.role], (spec.source, col.key)
            assert normalise_label(col.header) in f.aliases, (spec.source, col.key)
            if col.json_key:
                assert normalise_label(col.json_key) in f.aliases
        for key in spec.record_key:
            assert key in m.record_key
        assert m.identified_by, spec.source


def test_ingest_code_does_not_import_the_twin() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+povguard\.synth", re.MULTILINE)
    for path in INGEST_SRC.glob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_file_matching_is_a_case_insensitive_glob() -> None:
    m = person_mapping(files=["claims.*", "*医保结算*"])
    assert m.matches("claims.csv")
    assert m.matches("CLAIMS.CSV")
    assert m.matches("贞丰县2025年5月医保结算明细.csv")
    assert not m.matches("claims_old.csv")
    assert m.extension_conflict("claims.xlsx") == "xlsx"
    assert m.extension_conflict("claims.csv") is None
    assert m.extension_conflict("claims.dat") is None


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
source: claims
department: 医疗保障局
files: claims.*
format: csv
fields:
  - {name: claim_no, headers: [结算单号], type: text, required: true}
  - {name: name, headers: [姓名], type: name}
  - {name: id_number, headers: [身份证号], type: id}
identified_by:
  - [id_number]
  - [name, id_number_raw]
"""


def test_load_a_folder(tmp_path: Path) -> None:
    _write(tmp_path, "claims.yaml", GOOD)
    _write(tmp_path, "notes.txt", "not a mapping")
    mappings = load_mappings(tmp_path)
    assert list(mappings) == ["claims"]
    assert mappings["claims"].files == ["claims.*"]
    assert mappings["claims"].encoding == "auto"
    assert load_mapping(tmp_path / "claims.yaml") == mappings["claims"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("type: name", "type: person"), r"fields\[1\] \(name\)\.type"),
        (("format: csv", "format: xls"), r"format"),
        (("name: claim_no", "name: ClaimNo"), r"fields\[0\] \(ClaimNo\)\.name"),
        (("[name, id_number_raw]", "[name, birth]"), r"unknown field 'birth'"),
        (("headers: [姓名]", "headers: [结算单号]"), r"alias '结算单号' is given for both"),
        (("files: claims.*", "files: claims.*\nencoding: klingon"), r"encoding"),
        (("department: 医疗保障局", "department: 医疗保障局\nsheets: 1"), r"sheets"),
    ],
)
def test_invalid_mapping_names_file_and_field(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    path = _write(tmp_path, "claims.yaml", GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_mappings(tmp_path)
    assert str(path) in str(err.value)
    assert re.search(where, str(err.value)), str(err.value)


def test_other_mapping_errors(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(ConfigError, match="already declared"):
        load_mappings(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad, "x.yaml", "source: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mappings(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_mappings(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no mapping files"):
        load_mappings(empty)


def test_model_rules() -> None:
    with pytest.raises(ValueError, match="only for type code"):
        person_mapping(fields=[{"name": "a", "headers": ["A"], "type": "text", "values": ["x"]}])
    with pytest.raises(ValueError, match="not in values"):
        person_mapping(
            fields=[
                {
                    "name": "sex",
                    "headers": ["性别"],
                    "type": "code",
                    "values": ["男", "女"],
                    "value_map": {"M": "male"},
                }
            ],
            identified_by=[],
            person_keys=None,
            record_key=[],
        )
    with pytest.raises(ValueError, match="expected date"):
        person_mapping(person_keys={"birth_date": "name"})
    with pytest.raises(ValueError, match="collide"):
        person_mapping(
            fields=[
                {"name": "id_number", "headers": ["身份证号"], "type": "id"},
                {"name": "id_number_status", "headers": ["状态"], "type": "text"},
            ],
            identified_by=[],
            person_keys=None,
            record_key=[],
        )
    m = person_mapping(
        fields=[{"name": "sex", "headers": ["性别"], "type": "code", "value_map": {1: "男"}}],
        identified_by=[],
        person_keys=None,
        record_key=[],
    )
    assert m.field("sex").value_map == {"1": "男"}
    assert isinstance(m, SourceMapping)
