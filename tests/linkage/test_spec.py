"""Declarative link specs: the built-in person spec, validation errors, YAML loading."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from povguard.errors import ConfigError
from povguard.linkage.spec import (
    DEFAULT_LEVELS,
    Comparison,
    Level,
    LinkSpec,
    load_spec,
    parse_spec,
)

BASE: dict[str, Any] = {
    "name": "people",
    "unique_id": "uid",
    "comparisons": [
        {"name": "surname", "kind": "levenshtein", "thresholds": [1, 2]},
        {"name": "dob", "kind": "exact"},
    ],
    "blocking": [["surname"], ["dob"]],
}


def doc(**changes: Any) -> dict[str, Any]:
    """A copy of BASE with top-level keys replaced."""
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


def with_comparison(**fields: Any) -> dict[str, Any]:
    """BASE whose first comparison gets ``fields`` (a value None removes the key)."""
    out = copy.deepcopy(BASE)
    first = {**out["comparisons"][0], **fields}
    out["comparisons"][0] = {k: v for k, v in first.items() if v is not None}
    return out


# --------------------------------------------------------------------------- built-in


def test_builtin_person_spec_loads_with_its_documented_model() -> None:
    spec = load_spec("person")
    assert spec.name == "person"
    assert spec.unique_id == "record_id"
    assert spec.exact == ["id_number__18"]
    assert [(c.name, c.kind) for c in spec.comparisons] == [
        ("name", "chinese_name"),
        ("id_number", "resident_id"),
        ("birth_date", "birth_date"),
        ("sex", "exact"),
        ("village_code", "region_code"),
    ]
    assert spec.input_columns() == [
        "record_id",
        "name",
        "id_number",
        "birth_date",
        "sex",
        "village_code",
    ]
    assert (spec.match_threshold, spec.review_threshold) == (0.95, 0.6)
    assert spec.u_max_pairs == 300_000
    name = spec.comparisons[0]
    assert name.term_frequency is True
    ident = spec.comparisons[1]
    assert (ident.birth, ident.sex) == ("birth_date", "sex")
    assert [label for label, _ in ident.ladder()] == [
        lab for lab, _ in DEFAULT_LEVELS["resident_id"]
    ]
    sex = spec.comparisons[3]
    assert sex.ladder() == [("exact", 0.99), ("else", 0.01)]  # the m override applies
    assert len(spec.blocking) == 8 and ["id_number__p14"] in spec.blocking


def test_builtin_name_and_path_load_the_same_spec(tmp_path: Path) -> None:
    from importlib import resources

    text = (resources.files("povguard") / "resources/linkage/person.yaml").read_text("utf-8")
    path = tmp_path / "person.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_spec(path) == load_spec("person")
    assert load_spec(str(path)) == load_spec("person")


# --------------------------------------------------------------------------- YAML files


def test_spec_from_a_yaml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        """
name: people
version: "2"
unique_id: uid
exact: [email]
comparisons:
  - {name: first_name, kind: jaro_winkler, thresholds: [0.92, 0.8]}
  - {name: surname, kind: levenshtein, thresholds: [1], m: {exact: 0.9}}
  - {name: email, kind: exact}
  - name: code
    kind: custom
    levels:
      - {label: same_prefix, sql: 'substr("code_l", 1, 2) = substr("code_r", 1, 2)', m: 0.7}
blocking:
  - [surname]
  - ["substr(email, 1, 3)"]
match_threshold: 0.9
review_threshold: 0.4
prior: 0.001
""",
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert (spec.name, spec.version, spec.unique_id, spec.exact) == (
        "people",
        "2",
        "uid",
        ["email"],
    )
    assert spec.comparisons[0].ladder() == [
        ("exact", 0.85),
        ("similarity>=0.92", 0.05),
        ("similarity>=0.8", 0.05),
        ("else", 0.05),
    ]
    assert spec.comparisons[1].ladder() == [("exact", 0.9), ("distance<=1", 0.1), ("else", 0.05)]
    assert spec.comparisons[3].ladder() == [("same_prefix", 0.7), ("else", 0.01)]
    assert spec.blocking == [["surname"], ["substr(email, 1, 3)"]]
    assert (spec.match_threshold, spec.review_threshold, spec.prior) == (0.9, 0.4, 0.001)
    assert spec.input_columns() == ["uid", "first_name", "surname", "email", "code"]


def test_load_spec_on_a_missing_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "spec.yaml"
    with pytest.raises(ConfigError, match=r"nowhere/spec\.yaml"):
        load_spec(missing)
    with pytest.raises(ConfigError, match="no_such_builtin_spec"):
        load_spec("no_such_builtin_spec")


def test_load_spec_on_invalid_yaml_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\ncomparisons: {", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml.*not valid YAML"):
        load_spec(path)


def test_load_spec_on_valid_yaml_with_a_bad_field_names_path_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\ncomparisons: [{name: a, kind: soundex}]\nblocking: [[a]]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"bad\.yaml.*comparisons\.0\.kind"):
        load_spec(path)


def test_load_spec_on_an_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"empty\.yaml"):
        load_spec(path)


# --------------------------------------------------------------------------- validation


def test_the_base_document_is_valid() -> None:
    spec = parse_spec(BASE, "base.yaml")
    assert isinstance(spec, LinkSpec)
    assert spec.comparisons[0].ladder() == [
        ("exact", 0.85),
        ("distance<=1", 0.05),
        ("distance<=2", 0.05),
        ("else", 0.05),
    ]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (with_comparison(kind="soundex"), "comparisons.0.kind", "Input should be"),
        (doc(bogus=1), "bogus", "Extra inputs are not permitted"),
        (with_comparison(colour="red"), "comparisons.0.colour", "Extra inputs are not permitted"),
        (doc(match_threshold=0.5, review_threshold=0.7), "(top)", "review_threshold must not"),
        (with_comparison(m={"close": 0.5}), "comparisons.0", "unknown levels ['close']"),
        (with_comparison(m={"exact": 1.5}), "comparisons.0", "between 0 and 1"),
        (with_comparison(kind="custom", thresholds=None), "comparisons.0", "needs levels"),
        (with_comparison(kind="exact"), "comparisons.0", "thresholds are only for"),
        (with_comparison(birth="dob"), "comparisons.0", "only for resident_id"),
        (with_comparison(name="first name"), "comparisons.0.name", "pattern"),
        (doc(comparisons=[]), "comparisons", "at least 1"),
        (doc(blocking=[[]]), "(top)", "at least one column"),
        (doc(match_threshold=1.0), "match_threshold", "less than 1"),
        (doc(review_threshold=0), "review_threshold", "greater than 0"),
        (doc(comparisons=BASE["comparisons"] * 2), "(top)", "unique"),
        ([1, 2], "(top)", "valid dictionary"),
    ],
)
def test_parse_spec_errors_name_the_origin_and_the_field(
    data: object, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(data, "specs/people.yaml")
    message = str(info.value)
    assert message.startswith("link spec specs/people.yaml: ")
    assert f"{field}: " in message
    assert words in message


def test_parse_spec_reports_every_failing_field() -> None:
    data = doc(bogus=1, match_threshold=2)
    data["comparisons"][1]["kind"] = "nope"
    with pytest.raises(ConfigError) as info:
        parse_spec(data)
    message = str(info.value)
    assert message.startswith("link spec <spec>: ")
    for field in ("bogus: ", "match_threshold: ", "comparisons.1.kind: "):
        assert field in message


def test_a_custom_level_rejects_unknown_keys_and_bad_m() -> None:
    level = {"label": "x", "sql": "1 = 1", "m": 0.5, "u": 0.1}
    with pytest.raises(ConfigError, match=r"comparisons\.0\.levels\.0\.u: Extra inputs"):
        parse_spec(with_comparison(kind="custom", thresholds=None, levels=[level]))
    level = {"label": "x", "sql": "1 = 1", "m": 1}
    with pytest.raises(ConfigError, match=r"comparisons\.0\.levels\.0\.m"):
        parse_spec(with_comparison(kind="custom", thresholds=None, levels=[level]))


def test_levels_are_only_for_custom_comparisons() -> None:
    level = {"label": "x", "sql": "1 = 1", "m": 0.5}
    with pytest.raises(ConfigError, match="levels are only for custom comparisons"):
        parse_spec(with_comparison(levels=[level]))


def test_review_threshold_may_equal_the_match_threshold() -> None:
    spec = parse_spec(doc(match_threshold=0.8, review_threshold=0.8))
    assert spec.review_threshold == spec.match_threshold == 0.8


def test_m_overrides_apply_to_threshold_levels_too() -> None:
    c = Comparison(name="s", kind="jaro_winkler", thresholds=[0.9], m={"similarity>=0.9": 0.2})
    assert c.ladder() == [("exact", 0.85), ("similarity>=0.9", 0.2), ("else", 0.05)]
    assert c.col == "s"
    assert Comparison(name="s", kind="exact", column="surname").col == "surname"


def test_a_custom_comparison_ladder_ends_with_else() -> None:
    c = Comparison(
        name="code",
        kind="custom",
        levels=[Level(label="same", sql='"code_l" = "code_r"', m=0.8)],
        m={"else": 0.05},
    )
    assert c.ladder() == [("same", 0.8), ("else", 0.05)]


def test_input_columns_include_birth_sex_and_renamed_columns_once() -> None:
    spec = LinkSpec(
        name="p",
        unique_id="rid",
        comparisons=[
            Comparison(name="ident", kind="resident_id", column="id_no", birth="dob", sex="sex"),
            Comparison(name="dob", kind="birth_date"),
            Comparison(name="sex", kind="exact"),
        ],
        blocking=[["id_no"]],
    )
    assert spec.input_columns() == ["rid", "id_no", "dob", "sex"]
