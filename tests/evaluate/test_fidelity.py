"""Rule fidelity against the truth: on the twin's clean records, each rule decides
what the truth says, on every household-month where the rule's inputs were observed.

The twin's survey is made exact (no measurement error) so the income test can be
judged; everything else is the default twin, 12 months from 2025-06 so that both
income surveys (June, December) and both student rosters (September, March) fall in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from povguard.evaluate import TRUTH_RULES, RuleFidelity, truth_fidelity
from povguard.policy import load_packs
from povguard.synth import TwinConfig, generate_twin
from povguard.synth.params import load_params

PERIODS = ["2025-06", "2025-09", "2025-12", "2026-03"]


@pytest.fixture(scope="module")
def fidelity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RuleFidelity]:
    out = tmp_path_factory.mktemp("fidelity-twin")
    params = load_params(overrides={"coverage.survey_noise_sigma": 0.0})
    generate_twin(
        TwinConfig(out=out, households=4000, months=10, start="2025-06", seed=11, counties=1),
        params,
    )
    return truth_fidelity(Path(out), PERIODS, load_packs())


def test_every_rule_the_truth_encodes_is_judged(fidelity: dict[str, RuleFidelity]) -> None:
    assert list(fidelity) == [r.rule_id for r in TRUTH_RULES]
    rules = {r.id for p in load_packs().packs for r in p.rules}
    assert set(fidelity) <= rules


@pytest.mark.parametrize("rule", [r.rule_id for r in TRUTH_RULES])
def test_the_rule_decides_what_the_truth_says(fidelity: dict[str, RuleFidelity], rule: str) -> None:
    f = fidelity[rule]
    assert f.judged > 0, f"{rule}: nothing observed to judge"
    assert (f.score.fp, f.score.fn) == (0, 0), f.as_dict()


@pytest.mark.parametrize(
    "rule", ["income_below_line", "rigid_expenditure_hardship", "school_age_out_of_school"]
)
def test_the_rule_is_tested_on_positive_cases(fidelity: dict[str, RuleFidelity], rule: str) -> None:
    """A rule that never fires would agree trivially: the truth has positives here."""
    assert fidelity[rule].positives >= 5 and fidelity[rule].score.tp == fidelity[rule].positives


def test_a_noisy_survey_is_a_measurement_error_not_a_rule_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With the default survey error the income test disagrees with the truth, and
    the judgement shows it (the test can fail)."""
    out = tmp_path_factory.mktemp("noisy-twin")
    generate_twin(
        TwinConfig(out=out, households=1500, months=1, start="2025-06", seed=3, counties=1)
    )
    f = truth_fidelity(Path(out), ["2025-06"], load_packs())["income_below_line"]
    assert f.judged > 300
    assert f.score.fp + f.score.fn > 0
