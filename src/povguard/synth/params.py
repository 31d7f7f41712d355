"""Parameters of the synthetic province twin.

Every number the twin uses lives here with its default and its source (a published
statistic, or "assumed"). ``docs/synth-parameters.md`` is generated from these
models by ``povguard synth --list-params`` and a test keeps the two in step.
Rates are per person-year or per household-year unless the description says
"per month".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from povguard.errors import ConfigError
from povguard.synth.defect_params import DefectRates

ASSUMED = "assumed"


def P(default: Any, description: str, source: str = ASSUMED, **kw: Any) -> Any:  # noqa: N802
    """A documented parameter: default, description and the source of the default."""
    return Field(default, description=description, json_schema_extra={"source": source}, **kw)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationParams(_Section):
    """Households, people and registration history."""

    household_size_shares: tuple[float, ...] = P(
        (0.13, 0.22, 0.20, 0.19, 0.14, 0.08, 0.03, 0.01),
        "share of registered rural households with 1..8 members",
        "2020 census, Guizhou rural family households (average 3.1 persons); rounded",
    )
    villages_per_township: tuple[int, int] = P((8, 18), "villages per township (min, max)")
    households_per_village: tuple[int, int] = P(
        (120, 480), "registered households per administrative village (min, max)"
    )
    district_weight: float = P(
        0.35, "rural households in an urban district relative to a county", ASSUMED
    )
    head_male_share: float = P(0.86, "share of household heads who are men", ASSUMED)
    births_sex_ratio_male: float = P(
        0.53, "share of boys among births", "2020 census sex ratio at birth 111.3"
    )
    former_poor_share: float = P(
        0.30,
        "share of rural households that were registered poor (脱贫户)",
        "Guizhou 9.23 million people lifted 2013-2020 out of ~28 million rural residents",
    )
    former_poor_remote_tilt: float = P(
        1.5, "odds multiplier of former-poor status per unit of village remoteness"
    )
    monitored_share: float = P(
        0.025,
        "share of households identified as monitoring objects before the start (2021-)",
        "national: ~6.7 million people identified by 2024 of ~500 million rural residents; "
        "higher in Guizhou; assumed",
    )
    monitored_eliminated_share: float = P(
        0.6, "of those, share whose risk was already eliminated", "NRRA: >60% by Sept 2024"
    )
    dibao_share: float = P(
        0.065,
        "share of rural persons on minimum living guarantee (低保)",
        "Guizhou civil affairs 2023: ~2.4 million rural dibao recipients",
    )
    tekun_share_elderly_alone: float = P(
        0.25, "share of lone elderly (70+) supported as extreme poor (特困)"
    )
    chronic_prevalence: tuple[float, float, float] = P(
        (0.04, 0.16, 0.38),
        "chronic-illness prevalence for ages <40, 40-59, 60+",
        "6th National Health Services Survey 2018 (rural chronic prevalence 35% of 15+)",
    )
    disability_prevalence: float = P(
        0.063, "share of persons with a disability", "2006 national disability sample survey 6.34%"
    )
    severe_disability_share: float = P(
        0.35, "share of disabled persons with grade 1 or 2", "CDPF statistics; assumed"
    )
    disability_certified_share: float = P(
        0.8, "share of disabled persons holding a certificate (残疾人证)"
    )
    insured_share: float = P(
        0.99,
        "share of persons enrolled in basic medical insurance",
        "NHSA: resident enrolment >95%; former-poor kept >99%",
    )
    insured_share_former_poor: float = P(
        0.997, "enrolment among members of former-poor households", "NHSA 2023: >99%"
    )
    house_grade_shares: tuple[float, float, float, float] = P(
        (0.55, 0.41, 0.03, 0.01),
        "house safety grade A, B, C, D shares at start",
        "MOHURD rural dangerous-house renovation completed by 2020; residual C/D assumed",
    )
    migrant_share_mean: float = P(
        0.30,
        "mean share of working-age able adults doing migrant work (by village)",
        "Guizhou ~8 million outbound migrant workers; assumed per village",
    )
    local_work_share: float = P(
        0.7,
        "share of non-migrant able adults 18-64 with local wage work",
        "Guizhou: wages are ~45% of rural income; assumed",
    )
    minority_share_non_autonomous: float = P(
        0.15, "share of ethnic-minority persons in counties that are not autonomous"
    )
    titular_share: float = P(
        0.55, "share of titular ethnic groups in an autonomous county or prefecture"
    )
    car_share_ordinary: float = P(
        0.22, "share of ordinary households with a registered passenger car"
    )
    car_share_former_poor: float = P(
        0.006,
        "share of former-poor households with a car (ineligible registrants)",
        "Mashan 2015 audit: 2,454 of registered poor owned cars; assumed rate",
    )
    commercial_house_share_ordinary: float = P(
        0.08, "share of ordinary households owning commercial housing in town"
    )
    commercial_house_share_former_poor: float = P(0.003, "same, former-poor households")
    business_share_ordinary: float = P(
        0.07, "share of ordinary households with a registered business"
    )
    business_share_former_poor: float = P(0.006, "same, former-poor households")
    public_employee_share_ordinary: float = P(
        0.03, "share of ordinary households with a public-employee member"
    )
    public_employee_share_former_poor: float = P(0.002, "same, former-poor households")
    nonresident_children_mean: float = P(
        0.8, "mean number of non-resident adult children (own household registration) per household"
    )
    nonresident_asset_share: float = P(
        0.10, "share of non-resident children owning a car, house or business"
    )
    nonresident_asset_share_former_poor: float = P(
        0.002, "same, children of former-poor households (ineligible registrants)"
    )


class IncomeParams(_Section):
    """Income and expenditure (yuan)."""

    migrant_wage_median: float = P(
        4200.0,
        "median monthly wage of a migrant worker",
        "NBS 2024 migrant worker monitoring report: 4,961 national, western region lower",
    )
    migrant_wage_sigma: float = P(0.30, "log-sd of migrant wages")
    migrant_months_off: tuple[int, ...] = P(
        (1, 2), "months (1-12) when migrants earn half (Spring Festival)"
    )
    local_wage_median: float = P(
        1800.0, "median monthly local wage (odd jobs, public-welfare posts)"
    )
    local_wage_sigma: float = P(0.40, "log-sd of local wages")
    local_work_month_prob: float = P(0.75, "probability that a local worker has work in a month")
    farm_net_median: float = P(
        6000.0,
        "median yearly net farming income per household",
        "Guizhou rural per-capita net business income ~3,500 (2023); household level assumed",
    )
    farm_net_sigma: float = P(0.5, "log-sd of farming income")
    project_share: float = P(0.15, "share of households with a supported industry project")
    project_net_median: float = P(6000.0, "median yearly net income of an industry project")
    project_loan_share: float = P(
        0.5, "share of projects financed by a poverty-alleviation small loan (<= 50,000)"
    )
    business_net_monthly_median: float = P(2500.0, "median monthly net income of a family business")
    property_income_median: float = P(
        350.0,
        "median yearly property income per household (land rent, dividends)",
        "Guizhou rural per-capita property income ~200 (2023)",
    )
    remittance_yearly_median: float = P(
        3000.0, "median money sent home per non-resident adult child and year (transfer income)"
    )
    child_support_yearly_median: float = P(
        6000.0, "median money migrant parents send per left-behind grandchild and year"
    )
    policy_transfer_yearly: float = P(
        500.0,
        "other policy transfers per person and year (eco-compensation, subsidies)",
        "Guizhou rural per-capita transfer income ~2,900 (2023) incl. pensions and remittances",
    )
    welfare_job_share_former_poor: float = P(
        0.12, "share of former-poor households with a member in a public-welfare post (公益性岗位)"
    )
    welfare_job_monthly: float = P(700.0, "monthly pay of a public-welfare post")
    pension_monthly: float = P(
        160.0, "basic rural pension per person aged 60+", "Guizhou minimum 2024: ~148 yuan/month"
    )
    dibao_standard_yearly: float = P(
        5800.0, "rural dibao standard per person and year", "Guizhou 2024 rural standard ~5,600"
    )
    tekun_support_yearly: float = P(
        7500.0, "extreme-poverty support per person and year", ">= 1.3 x dibao standard"
    )
    disability_allowance_monthly: float = P(
        90.0, "allowance per severely disabled person (两项补贴)", "Guizhou 2023 ~80-90 yuan"
    )
    farm_subsidy_yearly: float = P(
        600.0, "agricultural support subsidies per household, paid in April"
    )
    rehab_monthly_severe: float = P(150.0, "rehabilitation spending per severely disabled person")
    school_cost_senior: float = P(
        4000.0, "yearly out-of-pocket cost of senior high or vocational school per student"
    )
    school_cost_college: float = P(
        13000.0, "yearly out-of-pocket cost of college per student (tuition and living)"
    )
    school_aid_former_poor: float = P(
        0.5, "share of school costs covered by grants for former-poor and dibao students"
    )


class HealthParams(_Section):
    """Illness, insurance and reimbursement."""

    serious_onset: tuple[float, float, float, float] = P(
        (0.001, 0.004, 0.012, 0.025),
        "yearly serious-illness onset rate for ages <15, 15-44, 45-59, 60+",
        "cancer incidence ~0.3%/yr plus other catastrophic illness; assumed",
    )
    serious_cost_median: float = P(
        70000.0,
        "median total treatment cost of a serious illness",
        "cancer treatment 50,000-100,000 yuan in county/provincial hospitals; assumed",
    )
    serious_cost_sigma: float = P(0.7, "log-sd of serious-illness costs")
    serious_months: tuple[int, int] = P((2, 8), "months of treatment (min, max)")
    serious_death_prob: float = P(0.12, "probability of death at the end of treatment")
    serious_chronic_prob: float = P(0.6, "probability that a serious illness becomes chronic")
    serious_disability_prob: float = P(
        0.08, "probability that a serious illness leaves a disability"
    )
    caregiver_return_prob: float = P(
        0.35, "probability that a migrant member returns home to care for a serious patient"
    )
    inpatient_rate: tuple[float, float, float] = P(
        (0.06, 0.12, 0.28),
        "yearly ordinary inpatient episodes for ages <15, 15-59, 60+",
        "NHC statistical yearbook 2022: inpatient rate ~18% of population",
    )
    inpatient_cost_median: float = P(6500.0, "median total cost of an ordinary inpatient stay")
    inpatient_cost_sigma: float = P(0.6, "log-sd of ordinary inpatient costs")
    chronic_onset: float = P(0.01, "yearly chronic-illness onset rate (adults, rising with age)")
    chronic_claim_month_prob: float = P(
        0.35, "probability a chronic patient has an outpatient chronic-disease claim in a month"
    )
    chronic_claim_median: float = P(320.0, "median outpatient chronic-disease claim")
    deductible: float = P(
        800.0, "inpatient deductible of basic medical insurance", "Guizhou 2024 county hospitals"
    )
    reimburse_rate: float = P(
        0.58,
        "basic insurance share of inpatient cost above the deductible",
        "NHSA 2023: policy-scope reimbursement ~68%, actual share of total cost lower",
    )
    reimburse_cap: float = P(200000.0, "yearly cap of basic insurance")
    outpatient_reimburse_rate: float = P(0.6, "basic insurance share of chronic outpatient costs")
    serious_insurance_threshold: float = P(
        10000.0, "out-of-pocket threshold of serious-illness insurance (大病保险)"
    )
    serious_insurance_threshold_poor: float = P(
        5000.0, "threshold for former-poor, dibao and tekun members", "halved for them (NHSA 2021)"
    )
    serious_insurance_rate: float = P(
        0.6, "share paid by serious-illness insurance above threshold"
    )
    medical_assistance_rate: float = P(
        0.7, "share of the remaining cost paid by medical assistance for dibao/tekun members"
    )
    mortality_gompertz: tuple[float, float] = P(
        (-10.6, 0.097),
        "yearly mortality q(age) = exp(a + b*age)",
        "fitted to China life table 2020 (q60~1%, q80~5.5%); assumed fit",
    )
    infant_mortality: float = P(0.005, "yearly mortality under age 5", "NHC 2023: 4.5 per mille")
    disability_onset: float = P(0.0015, "yearly disability onset (rising with age)")
    accident_rate: float = P(
        0.004, "yearly serious accidents (injury needing inpatient care) of persons 16-70"
    )
    accident_death_prob: float = P(0.06, "probability that a serious accident is fatal")
    accident_disability_prob: float = P(0.25, "probability that an accident leaves a disability")


class ShockParams(_Section):
    """Work, farming and household events."""

    job_loss_monthly: float = P(
        0.004,
        "monthly probability that a migrant worker loses the job",
        "NBS urban surveyed unemployment of migrants ~5%; assumed turnover",
    )
    reemploy_monthly: float = P(0.25, "monthly probability that an unemployed migrant finds work")
    downturn_start: int = P(6, "months after the start when a regional downturn begins (-1: none)")
    downturn_months: int = P(4, "duration of the downturn")
    downturn_multiplier: float = P(3.0, "job-loss multiplier during the downturn")
    downturn_county_share: float = P(
        0.5, "share of counties whose migrants work in the affected destination"
    )
    project_failure_monthly: float = P(0.003, "monthly probability that an industry project fails")
    project_failure_disaster_multiplier: float = P(
        4.0, "failure multiplier in the 3 months after a crop disaster in the village"
    )
    loan_term_years: int = P(
        3, "term of a poverty-alleviation small loan", "policy: at most 3 years"
    )
    loan_overdue_share: float = P(
        0.03,
        "share of loans not repaid at the due date (more after a failed project)",
        "small-loan overdue rates ~1-3% (assumed)",
    )
    project_loss: tuple[float, float] = P((4000.0, 20000.0), "investment lost on failure (yuan)")
    dropout_monthly_compulsory: float = P(
        0.0004,
        "monthly dropout probability at ages 12-15",
        "MOE: compulsory-education consolidation rate 95.7% (2023); assumed",
    )
    dropout_monthly_senior: float = P(0.002, "monthly dropout probability at ages 16-18 in school")
    dropout_multiplier_vulnerable: float = P(
        3.0, "dropout multiplier for left-behind children or households under the line"
    )
    fertility: float = P(0.055, "yearly births per married woman aged 20-39", "Guizhou TFR ~2.0")
    marriage_rate: float = P(0.09, "yearly marriage rate of unmarried women aged 20-32")
    marriage_within_share: float = P(
        0.6, "share of marrying women who move to another household of the twin"
    )
    marriage_in_rate: float = P(
        0.03, "yearly rate at which unmarried men 24-40 bring in a wife from outside"
    )
    dibao_enrol_monthly: float = P(
        0.01, "monthly probability that an eligible household (income below standard) is enrolled"
    )
    dibao_exit_monthly: float = P(
        0.05, "monthly probability of leaving dibao when income is above 1.2x the standard"
    )
    temp_assistance_prob: float = P(
        0.10, "probability of temporary assistance after a serious illness or disaster"
    )
    temp_assistance_amount: tuple[float, float] = P((1000.0, 5000.0), "temporary assistance (yuan)")
    house_repair_monthly: float = P(
        0.06, "monthly probability that a grade C/D house is renovated to grade B"
    )


class DisasterParams(_Section):
    """Natural disasters: seasonal, spatially correlated."""

    events_per_month: tuple[float, float, float, float] = P(
        (0.35, 0.25, 0.12, 0.30),
        "expected events per month and 10 counties in peak season: flood, landslide, drought, hail",
        "Guizhou emergency management yearbooks; assumed scale",
    )
    radius_km: tuple[float, float, float, float] = P(
        (25.0, 6.0, 45.0, 12.0), "radius of an event: flood, landslide, drought, hail"
    )
    household_hit: tuple[float, float, float, float] = P(
        (0.25, 0.06, 0.7, 0.45), "share of households of a hit village affected"
    )
    crop_loss: tuple[float, float, float, float] = P(
        (0.45, 0.3, 0.5, 0.4), "mean share of farming income lost by an affected household"
    )
    house_damage: tuple[float, float, float, float] = P(
        (0.06, 0.4, 0.0, 0.02), "probability that an affected house becomes grade C or D"
    )
    loss_months: int = P(6, "months over which a crop loss reduces farming income")


class CoverageParams(_Section):
    """What share of real events each department records, and how late."""

    medical_claims_latency: tuple[float, float, float] = P(
        (0.55, 0.35, 0.10), "share of claims settled 0, 1, 2 months after discharge"
    )
    death_coverage: float = P(0.97, "share of deaths recorded by public security")
    death_latency_max: int = P(2, "max months until a death is deregistered")
    birth_latency_max: int = P(3, "max months until a birth is registered")
    disability_coverage: float = P(0.85, "share of new disabilities that get a certificate")
    disability_latency: tuple[int, int] = P((1, 6), "months from onset to certificate")
    diagnosis_coverage: float = P(0.8, "share of serious illnesses reported by health")
    unemployment_coverage: float = P(
        0.35,
        "share of migrant job losses registered as unemployed",
        "low registration among rural migrants; assumed",
    )
    employment_coverage: float = P(0.5, "share of new migrant jobs reported by HR&SS")
    disaster_coverage: float = P(0.88, "share of affected households in the loss report")
    disaster_latency_max: int = P(1, "max months until losses are reported")
    housing_after_disaster: float = P(0.9, "share of damaged houses assessed after a disaster")
    housing_routine_monthly: float = P(
        0.01, "monthly share of houses assessed in routine inspections"
    )
    water_inspection_monthly: float = P(
        0.08, "monthly share of villages whose households are inspected"
    )
    dropout_coverage: float = P(0.95, "share of dropouts reported by education")
    project_report_coverage: float = P(0.8, "share of project failures reported by agriculture")
    survey_months: tuple[int, ...] = P(
        (6, 12),
        "months (1-12) of the cadres' income survey",
        "semi-annual monitoring of former-poor households; annual for others",
    )
    survey_coverage_former_poor: float = P(1.0, "share of former-poor households surveyed")
    survey_coverage_ordinary: float = P(0.35, "share of ordinary households surveyed (December)")
    survey_noise_sigma: float = P(0.12, "log-sd of survey error in reported income")
    self_report_prob: float = P(0.06, "monthly probability that a household at risk reports itself")
    self_report_false_rate: float = P(0.0002, "monthly self-reports by households not at risk")
    hotline_rate: float = P(0.00015, "monthly hotline reports per household")
    public_employee_roster_month: int = P(1, "month (1-12) when the yearly roster arrives")
    vehicle_new_monthly: float = P(0.002, "monthly new car registrations per ordinary household")
    business_new_monthly: float = P(0.0015, "monthly new business registrations per household")
    property_new_monthly: float = P(0.0008, "monthly commercial housing purchases per household")


class PolicyTruthParams(_Section):
    """Policy values the ground truth is computed with (the policy engine reads packs)."""

    monitoring_line: dict[int, float] = P(
        {2021: 6000.0, 2022: 6500.0, 2023: 6800.0, 2024: 7000.0, 2025: 7100.0, 2026: 7300.0},
        "monitoring line per year (yuan per person)",
        "2021 national 6,000; later years Guizhou examples / assumed (DOMAIN.md section 2)",
    )
    hardship_rigid_share: float = P(
        0.6,
        "rigid spending above this share of yearly income can make a sudden hardship",
        "civil affairs 2024 rigid-expenditure rule; local shares 60-80% of income; assumed lower "
        "because income here is net of rigid spending",
    )
    medical_burden_share: float = P(
        0.5, "12-month medical out-of-pocket above this share of income is a medical burden"
    )
    education_burden: float = P(10000.0, "12-month schooling cost above this is a burden")
    income_drop_share: float = P(
        0.5, "income of the last 3 months below this share of the usual level is a sharp drop"
    )
    collapse_share: float = P(
        0.5,
        "a sharp drop is a sudden hardship when the current yearly income rate per person "
        "is below this share of the line",
    )
    onset_gap_months: int = P(
        6, "a new at-risk spell (onset) needs this many months without risk before it"
    )


class SynthParams(_Section):
    """All parameters of the twin (load overrides from YAML with :func:`load_params`)."""

    population: PopulationParams = PopulationParams()
    income: IncomeParams = IncomeParams()
    health: HealthParams = HealthParams()
    shocks: ShockParams = ShockParams()
    disasters: DisasterParams = DisasterParams()
    coverage: CoverageParams = CoverageParams()
    truth: PolicyTruthParams = PolicyTruthParams()
    defects: DefectRates = DefectRates()

    def line_for(self, year: int) -> float:
        """Monitoring line for ``year`` (the latest earlier year if not listed)."""
        lines = self.truth.monitoring_line
        years = sorted(y for y in lines if y <= year) or sorted(lines)
        return lines[years[-1]]


def load_params(path: Path | None = None, overrides: dict[str, Any] | None = None) -> SynthParams:
    """Build parameters from defaults, an optional YAML file and dotted overrides.

    Parameters
    ----------
    path:
        YAML file with a subset of the sections, e.g. ``{"shocks": {"job_loss_monthly": 0.01}}``.
    overrides:
        Dotted names to values, e.g. ``{"defects.name_typo": 0.05}``.

    Raises
    ------
    ConfigError
        When the file cannot be read or a name or value is invalid.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read parameter file: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: parameter file must be a mapping of sections")
        data = loaded
    for dotted, value in (overrides or {}).items():
        section, _, name = dotted.partition(".")
        if not name:
            raise ConfigError(f"parameter {dotted!r}: use section.name")
        data.setdefault(section, {})[name] = value
    try:
        return SynthParams.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}parameter {loc}: {first['msg']}") from exc


def parameter_table(params: SynthParams | None = None) -> list[tuple[str, str, str, str]]:
    """Rows ``(name, default, description, source)`` for every parameter."""
    params = params or SynthParams()
    rows: list[tuple[str, str, str, str]] = []
    for section_name, section_field in SynthParams.model_fields.items():
        section = getattr(params, section_name)
        for name, field in type(section).model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            source = str(extra.get("source", ASSUMED))
            if section_name == "defects":
                source = "assumed; sets ~8% of rows with a defect (issue 2)"
            value = getattr(section, name)
            rows.append((f"{section_name}.{name}", _fmt(value), field.description or "", source))
        del section_field
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:g}" for k, v in value.items())
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
