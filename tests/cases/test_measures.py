"""The measure catalogue, recommendations and cadre edits of a plan."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from povguard.cases import (
    Plan,
    RiskCause,
    accept_all,
    accept_measure,
    add_measure,
    check_limits,
    continuing_measures,
    default_catalogue,
    load_catalogue,
    recommend,
    remove_measure,
    replace_measure,
)
from povguard.cases.measures import KIND_CATEGORY, parse_catalogue
from povguard.errors import ConfigError, ConflictError, DataError, NotFoundError

CAT = default_catalogue()
PACKAGED = Path(__file__).parents[2] / "src/povguard/resources/cases/measures.yaml"


def ids(plan: Plan) -> list[str]:
    return list(plan.measure_ids)


# ------------------------------------------------------------------------- catalogue


def test_packaged_catalogue_values() -> None:
    assert load_catalogue() is CAT
    loan = CAT.measure("small_loan")
    assert (loan.category, loan.kind) == ("development", "industry")
    assert (loan.limits.max_amount, loan.limits.max_years) == (50000, 3)
    assert loan.limits.collateral_free and loan.limits.interest_subsidised
    assert loan.continues_after_elimination == "loan_contract_end"
    grant = CAT.measure("vocational_student_grant")
    assert (grant.typical_amount, grant.unit, grant.limits.max_amount) == (
        2000,
        "yuan_per_term",
        2000,
    )
    assert grant.continues_after_elimination == "school_stage_end"
    assert CAT.measure("public_welfare_job").continues_after_elimination == "agreement_end"
    assert CAT.measure("dibao").name_zh == "农村最低生活保障（低保）"
    kinds = {m.kind for m in CAT.measures}
    assert kinds == set(KIND_CATEGORY)  # every kind has at least one measure
    for m in CAT.measures:
        assert KIND_CATEGORY[m.kind] == m.category
        assert m.name_zh and m.name_en
    assert "small_loan" in CAT and "magic" not in CAT
    with pytest.raises(NotFoundError, match="magic"):
        CAT.measure("magic")


def test_every_cause_has_options() -> None:
    assert set(CAT.recommendation.causes) == set(RiskCause)


Edit = Callable[[Any], None]


def _broken(tmp_path: Path, edit: Edit) -> Path:
    """The packaged catalogue with one edit, written to a temporary file."""
    data = yaml.safe_load(PACKAGED.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "measures.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _set(path: list[str | int], value: object) -> Edit:
    """An edit that sets the value at ``path`` (keys and list indexes)."""

    def edit(data: Any) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _set(["measures", 0, "category"], "charity"),
            r"measures\[0\] \(small_loan\)\.category: Input should be",
        ),
        (
            _set(["measures", 0, "limits", "max_amount"], -5),
            r"measures\[0\] \(small_loan\)\.limits\.max_amount: Input should be greater than 0",
        ),
        (
            _set(["measures", 1, "colour"], "red"),
            r"measures\[1\] \(industry_subsidy\)\.colour: Extra inputs are not permitted",
        ),
        (
            _set(["measures", 0, "causes"], ["bad_luck"]),
            r"measures\[0\] \(small_loan\)\.causes\[0\]: Input should be \'illness\'",
        ),
        (
            _set(["measures", 0, "kind"], "medical"),
            r"measures\[0\] \(small_loan\): kind: 'medical' belongs to category 'guarantee'",
        ),
        (
            _set(["measures", 0, "typical_amount"], 60000),
            r"measures\[0\] \(small_loan\): typical_amount: 60,000 above limits.max_amount 50,000",
        ),
        (
            _set(["measures", 1, "id"], "small_loan"),
            r"measures\[1\] \(small_loan\): id: duplicate measure id",
        ),
        (
            _set(["recommendation", "causes", "illness", 0, "measure"], "magic"),
            r"recommendation.causes.illness\[0\]: measure: unknown measure 'magic'",
        ),
        (
            _set(["recommendation", "causes", "illness", 0, "measure"], "small_loan"),
            r"recommendation.causes.illness\[0\]: measure: 'small_loan' does not list cause",
        ),
        (
            _set(["recommendation", "causes", "other"], []),
            r"recommendation.causes.other: no options",
        ),
        (
            _set(["recommendation", "development", 0, "measure"], "dibao"),
            r"recommendation.development\[0\]: measure: 'dibao' is not a development measure",
        ),
        (
            _set(["recommendation", "social_assistance", "tekun", "measure"], "dibao"),
            r"recommendation.social_assistance.tekun: measure: 'dibao' is not of kind 'tekun'",
        ),
        (
            _set(["recommendation", "exclusive"], [["dibao", "ghost"]]),
            r"recommendation.exclusive\[0\]: unknown measure 'ghost'",
        ),
    ],
    ids=[
        "category",
        "max_amount",
        "extra_field",
        "cause",
        "kind_category",
        "typical_above_limit",
        "duplicate_id",
        "unknown_rule_measure",
        "rule_cause_mismatch",
        "cause_without_options",
        "development_category",
        "tekun_kind",
        "exclusive_unknown",
    ],
)
def test_invalid_catalogue_names_file_entry_and_field(
    tmp_path: Path, edit: Edit, message: str
) -> None:
    path = _broken(tmp_path, edit)
    with pytest.raises(ConfigError, match=message) as info:
        load_catalogue(path)
    assert str(info.value).startswith(str(path))


def test_unreadable_or_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_catalogue("measures: [", "x.yaml")
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_catalogue(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------- recommendation


def test_single_risk_with_labour() -> None:
    plan = recommend("illness", labour_members=2, has_stable_income=True)
    assert ids(plan) == ["medical_assistance", "job_placement"]
    first, second = plan.measures
    assert (first.basis, first.causes) == ("cause", (RiskCause.ILLNESS,))
    assert first.reason_zh == "因病：医疗救助减轻看病自付负担"
    assert first.reason_en == "illness: medical assistance lowers out-of-pocket treatment costs"
    assert (second.basis, second.causes) == ("development", ())
    assert second.reason_zh == "家中有劳动力 2 人，至少安排一项就业或产业帮扶"
    assert plan.warnings == ()
    assert not plan.accepted


def test_single_risk_without_labour_gets_dibao() -> None:
    plan = recommend("illness", labour_members=0, has_stable_income=False)
    assert ids(plan) == ["medical_assistance", "dibao"]
    assert plan.get("dibao").basis == "social_assistance"
    assert plan.warnings == ()


def test_tekun_needs_no_labour_no_income_no_supporter() -> None:
    alone = recommend(
        "lack_of_labour", labour_members=0, has_stable_income=False, has_legal_supporter=False
    )
    assert ids(alone) == ["tekun"]
    assert alone.measures[0].causes == (RiskCause.LACK_OF_LABOUR,)
    assert alone.warnings == ()
    supported = recommend("lack_of_labour", labour_members=0, has_stable_income=False)
    assert ids(supported) == ["dibao"]


def test_labour_without_stable_income_gets_dibao_and_development() -> None:
    plan = recommend("schooling", labour_members=1, has_stable_income=False)
    assert ids(plan) == ["education_grant", "dibao", "job_placement"]
    assert plan.warnings == ()


def test_several_risks_get_combined_different_measures() -> None:
    plan = recommend(
        "illness", ["accident", "natural_disaster"], labour_members=2, has_stable_income=True
    )
    assert ids(plan) == ["medical_assistance", "temporary_assistance", "industry_subsidy"]
    assert [m.causes for m in plan.measures] == [
        (RiskCause.ILLNESS,),
        (RiskCause.ACCIDENT,),
        (RiskCause.NATURAL_DISASTER,),
    ]
    # industry_subsidy is a development measure: no extra job placement needed
    assert plan.warnings == ()


def test_cause_measure_counts_as_development() -> None:
    plan = recommend("unstable_work", labour_members=1, has_stable_income=True)
    assert ids(plan) == ["job_placement"]
    assert plan.measures[0].basis == "cause"


def test_gaps_and_current_measures() -> None:
    plan = recommend(
        "natural_disaster",
        labour_members=0,
        has_stable_income=False,
        guarantee_gaps=["housing", "water"],
        current_measures=["dibao"],
    )
    assert ids(plan) == ["temporary_assistance", "dangerous_house_renovation", "water_supply_works"]
    assert "dibao" not in ids(plan)  # already received, and it counts
    assert plan.warnings == ()


def test_every_option_taken_lets_an_existing_measure_cover_the_risk() -> None:
    plan = recommend(
        "accident", ["other"], labour_members=0, has_stable_income=True, has_legal_supporter=True
    )
    # accident -> temporary assistance; "other" has only temporary assistance: shared
    assert ids(plan) == ["temporary_assistance", "dibao"]
    shared = plan.get("temporary_assistance")
    assert shared.causes == (RiskCause.ACCIDENT, RiskCause.OTHER)
    assert shared.reason_en.endswith("also addresses other")
    assert plan.warnings == ()


CAUSE_SETS = [
    (main, others)
    for main in RiskCause
    for n in range(3)
    for others in itertools.combinations([c for c in RiskCause if c is not main], n)
]


@pytest.mark.parametrize("labour", [0, 2])
@pytest.mark.parametrize("stable", [True, False])
@pytest.mark.parametrize("supporter", [True, False])
def test_principles_hold_for_every_cause_combination(
    labour: int, stable: bool, supporter: bool
) -> None:
    for main, others in CAUSE_SETS:
        plan = recommend(
            main,
            others,
            labour_members=labour,
            has_stable_income=stable,
            has_legal_supporter=supporter,
        )
        got = ids(plan)
        assert len(got) == len(set(got)), got  # no duplicates
        assert not {"dibao", "tekun"} <= set(got)
        assert plan.warnings == (), (main, others, plan.warnings)
        categories = {CAT.measure(m).category for m in got}
        assert ("development" in categories) == (labour > 0)
        basic = {CAT.measure(m).kind for m in got} & {"dibao", "tekun"}
        assert bool(basic) == (labour == 0 or not stable)
        for cause in (main, *others):
            assert any(cause in m.causes for m in plan.measures)
        # one measure per risk: never more measures aimed at risks than there are risks
        assert sum(1 for m in plan.measures if m.basis == "cause") <= 1 + len(others)
        assert all(m.reason_zh and m.reason_en for m in plan.measures)


def test_invalid_inputs() -> None:
    with pytest.raises(DataError, match="main_cause"):
        recommend("bad_luck", labour_members=1, has_stable_income=True)
    with pytest.raises(DataError, match="at most 2"):
        recommend(
            "illness",
            ["schooling", "accident", "other"],
            labour_members=1,
            has_stable_income=True,
        )
    with pytest.raises(DataError, match="repeat"):
        recommend("illness", ["illness"], labour_members=1, has_stable_income=True)
    with pytest.raises(DataError, match="labour_members"):
        recommend("illness", labour_members=-1, has_stable_income=True)
    with pytest.raises(DataError, match="guarantee_gaps"):
        recommend("illness", labour_members=1, has_stable_income=True, guarantee_gaps=["roads"])
    with pytest.raises(NotFoundError, match="ghost"):
        recommend("illness", labour_members=1, has_stable_income=True, current_measures=["ghost"])


# ----------------------------------------------------------------------------- editing


def test_removing_the_development_measure_warns() -> None:
    plan = recommend("illness", labour_members=3, has_stable_income=True)
    edited = remove_measure(plan, "job_placement")
    assert ids(edited) == ["medical_assistance"]
    assert edited.warning_codes == ("no_development_measure",)
    warning = edited.warnings[0]
    assert warning.message_zh == "家中有劳动力 3 人，但计划中没有产业或就业帮扶措施"
    assert "3 member(s) able to work" in warning.message_en
    assert ids(plan) == ["medical_assistance", "job_placement"]  # the original is unchanged


def test_removing_social_assistance_warns() -> None:
    plan = recommend("illness", labour_members=0, has_stable_income=False)
    edited = remove_measure(plan, "dibao")
    assert edited.warning_codes == ("no_social_assistance",)


def test_removing_the_only_measure_of_a_risk_warns() -> None:
    plan = recommend("illness", ["schooling"], labour_members=1, has_stable_income=True)
    edited = remove_measure(plan, "education_grant")
    assert edited.warning_codes == ("uncovered_cause",)
    assert edited.warnings[0].message_zh == "因学风险没有对应的帮扶措施"


def test_replace_keeps_place_and_risks() -> None:
    plan = recommend("unstable_work", labour_members=1, has_stable_income=True)
    edited = replace_measure(
        plan,
        "job_placement",
        "skills_training",
        reason_zh="本人希望先学电焊",
        reason_en="wants welding training first",
    )
    assert ids(edited) == ["skills_training"]
    new = edited.measures[0]
    assert (new.basis, new.causes, new.accepted) == ("cadre", (RiskCause.UNSTABLE_WORK,), True)
    assert new.reason_zh == "本人希望先学电焊"
    assert edited.warnings == ()
    assert edited.accepted


def test_replace_with_social_assistance_for_labour_household_warns() -> None:
    plan = recommend("unstable_work", labour_members=1, has_stable_income=True)
    edited = replace_measure(
        plan, "job_placement", "temporary_assistance", reason_zh="临时困难", reason_en="bridge"
    )
    assert edited.warning_codes == ("no_development_measure",)


def test_add_measure_rules() -> None:
    plan = recommend("industry_failure", labour_members=2, has_stable_income=True)
    assert ids(plan) == ["industry_subsidy"]
    with pytest.raises(ConflictError, match="already in the plan"):
        add_measure(plan, "industry_subsidy", reason_zh="重复", reason_en="again")
    with pytest.raises(DataError, match="above the limit of 50,000"):
        add_measure(plan, "small_loan", reason_zh="扩大养殖", reason_en="more pigs", amount=50001)
    with pytest.raises(DataError, match="4 years above the limit of 3"):
        add_measure(plan, "small_loan", reason_zh="扩大养殖", reason_en="more pigs", years=4)
    with pytest.raises(DataError, match="reason"):
        add_measure(plan, "small_loan", reason_zh=" ", reason_en="more pigs")
    with pytest.raises(NotFoundError):
        add_measure(plan, "ghost", reason_zh="x", reason_en="x")
    edited = add_measure(
        plan, "small_loan", reason_zh="扩大养殖", reason_en="more pigs", amount=50000, years=3
    )
    loan = edited.get("small_loan")
    assert (loan.amount, loan.years, loan.accepted, loan.basis) == (50000, 3, True, "cadre")
    assert loan.causes == (RiskCause.INDUSTRY_FAILURE,)
    # a single risk with two measures aimed at it: welfare-trap warning
    assert edited.warning_codes == ("several_measures_single_risk",)
    assert "industry_subsidy、small_loan" in edited.warnings[0].message_zh


def test_exclusive_and_development_without_labour_warn() -> None:
    plan = recommend("lack_of_labour", labour_members=0, has_stable_income=False)
    assert ids(plan) == ["dibao"]
    both = add_measure(plan, "tekun", reason_zh="误选", reason_en="mistake")
    assert "exclusive_measures" in both.warning_codes
    job = add_measure(plan, "skills_training", reason_zh="培训", reason_en="training")
    assert job.warning_codes == ("development_without_labour",)
    assert job.warnings[0].message_zh == "家中无劳动力，职业技能培训难以落实"


def test_accepting_measures() -> None:
    plan = recommend("illness", labour_members=1, has_stable_income=True)
    one = accept_measure(plan, "medical_assistance")
    assert [m.accepted for m in one.measures] == [True, False]
    assert not one.accepted
    assert accept_all(plan).accepted
    with pytest.raises(NotFoundError):
        accept_measure(plan, "dibao")
    with pytest.raises(NotFoundError):
        remove_measure(plan, "dibao")
    assert not Plan(needs=plan.needs, measures=()).accepted


def test_limits_and_continuation() -> None:
    grant = CAT.measure("vocational_student_grant")
    check_limits(grant, 2000)
    with pytest.raises(DataError, match="above the limit of 2,000"):
        check_limits(grant, 2500)
    with pytest.raises(DataError, match=">= 0"):
        check_limits(grant, -1)
    plan = recommend("schooling", ["industry_failure"], labour_members=1, has_stable_income=True)
    plan = add_measure(plan, "small_loan", reason_zh="贷款", reason_en="loan", amount=30000)
    plan = add_measure(plan, "public_welfare_job", reason_zh="护林员", reason_en="forest ranger")
    assert continuing_measures(plan) == (
        ("education_grant", "school_stage_end"),
        ("small_loan", "loan_contract_end"),
        ("public_welfare_job", "agreement_end"),
    )
