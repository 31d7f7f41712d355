"""The indicators stage: one row per registered household and period.

Everything is an Ibis expression run by the engine (DuckDB or Spark); nothing here
pulls a table into Python. Measures are raw facts (amounts, counts, grades, water
measures); thresholds belong to the policy pack. ``NULL`` means *unknown* (no
record in the window), never zero risk.

Windows: "12 months" means the 12 delivery periods up to and including the
period; records re-delivered with the same department key supersede the earlier
delivery (late corrections); duplicate rows count once.
"""

from __future__ import annotations

from typing import Any

import ibis

from povguard.engine import Engine

INDICATORS = "indicators"
_F, _I, _S = "float64", "int64", "string"
#: Every indicator column and its type (a source without data still yields the column).
INDICATOR_TYPES: dict[str, str] = {
    "members": _I,
    "former_poor": "boolean",
    "dibao": "boolean",
    "tekun": "boolean",
    "monitoring_status": _S,
    "village_code": _S,
    "uninsured_members": _I,
    "labour_members": _I,
    "severe_disabled_members": _I,
    "elderly_members": _I,
    "income_12m": _F,
    "income_pc_12m": _F,
    "survey_members": _I,
    "survey_period": _S,
    "rigid_12m": _F,
    "medical_oop_12m": _F,
    "inpatient_oop_max": _F,
    "medical_oop_12m_prev": _F,
    "house_period": _S,
    "water_period": _S,
    "outpatient_oop_period": _F,
    "dropouts_12m": _I,
    "education_cost_12m": _F,
    "out_of_school_members": _I,
    "roster_period": _S,
    "house_grade": _S,
    "house_assessed": "date",
    "water_quantity": _F,
    "water_quality": _S,
    "water_fetch_minutes": _F,
    "water_short_days": _F,
    "water_supply": _S,
    "new_severe_disability": _I,
    "new_disability": _I,
    "new_serious_illness": _I,
    "deaths": _I,
    "working_age_deaths": _I,
    "disaster_loss": _F,
    "disaster_house_severe": _I,
    "unemployment_registrations": _I,
    "project_failed": _I,
    "loan_overdue": _I,
    "assistance_started": _I,
    "assistance_ended": _I,
    "self_reports": _I,
    "hotline_reports": _I,
    "vehicles": _I,
    "vehicles_relatives": _I,
    "businesses": _I,
    "businesses_relatives": _I,
    "commercial_housing": _I,
    "commercial_housing_relatives": _I,
    "public_employees": _I,
    "public_employees_relatives": _I,
}
EVIDENCE_COLUMNS = tuple(
    f"ev_{s}"
    for s in [
        "income",
        "medical",
        "education",
        "housing",
        "water",
        "disability",
        "health",
        "public_security",
        "disaster",
        "hrss",
        "agriculture",
        "civil_affairs",
        "self_reports",
        "hotline",
        "vehicles",
        "businesses",
        "commercial_housing",
        "public_employees",
    ]
)
#: Measures where "no record" means zero (counts of events, sums of amounts).
ZERO_WHEN_ABSENT = frozenset(
    [
        "medical_oop_12m",
        "medical_oop_12m_prev",
        "inpatient_oop_max",
        "outpatient_oop_period",
        "dropouts_12m",
        "education_cost_12m",
        "new_severe_disability",
        "new_disability",
        "new_serious_illness",
        "deaths",
        "working_age_deaths",
        "disaster_loss",
        "disaster_house_severe",
        "unemployment_registrations",
        "project_failed",
        "loan_overdue",
        "assistance_started",
        "assistance_ended",
        "self_reports",
        "hotline_reports",
        "vehicles",
        "vehicles_relatives",
        "businesses",
        "businesses_relatives",
        "commercial_housing",
        "commercial_housing_relatives",
        "public_employees",
        "public_employees_relatives",
        "uninsured_members",
        "labour_members",
        "severe_disabled_members",
        "elderly_members",
    ]
)


def window(period: str, months: int) -> list[str]:
    """The ``months`` delivery periods ending with ``period`` (``YYYY-MM`` strings)."""
    y, m = int(period[:4]), int(period[5:7])
    out = []
    for back in range(months):
        mm = (y * 12 + m - 1) - back
        out.append(f"{mm // 12:04d}-{mm % 12 + 1:02d}")
    return out


def _pick(evidence: Any, weight: Any) -> Any:
    """Evidence of the record with the largest ``weight`` (ties: the largest evidence key).

    Written as ``max`` over a sortable key so DuckDB and Spark choose the same record.
    """
    key = (weight.fill_null(0).clip(lower=0) * 100).round().cast("int64").cast("string")
    best = (key.lpad(15, "0") + "#" + evidence).max()
    return best.re_replace(r"^[0-9]+#", "")


def _money(expr: Any) -> Any:
    """A sum of money rounded to cents (identical on every engine)."""
    return expr.sum().round(2)


def _records(engine: Engine, source: str, periods: list[str], key: list[str]) -> Any:
    """Linked records of ``source`` delivered in ``periods``, one per department key.

    The latest delivery of a key wins (a late correction supersedes the original, whose
    row stays in the raw table as history); ``first_period`` is the key's first
    delivery, so a correction does not move the record to a later month.
    """
    name = f"raw_{source}"
    if not engine.exists(name):
        return None
    raw = engine.table(name).filter(ibis._.period.isin(periods))
    links = engine.table("links").filter(
        (ibis._.source == source) & ibis._.period.isin(periods) & ibis._.household_id.notnull()
    )
    links = links.select(
        l_period=links.period,
        l_file=links._file,
        l_row=links._row,
        hh=links.household_id,
        person=links.person_id,
        method=links.method,
    )
    j = raw.join(
        links,
        (raw.period == links.l_period) & (raw._file == links.l_file) & (raw._row == links.l_row),
    )
    keys = [j[k] for k in key if k in raw.columns]
    if keys:
        w = ibis.window(group_by=keys, order_by=[ibis.desc(j.period), ibis.desc(j._row)])
        first = j.period.min().over(ibis.window(group_by=keys))
        j = j.mutate(_rank=ibis.row_number().over(w), first_period=first)
        j = j.filter(ibis._._rank == 0).drop("_rank")
    else:
        j = j.mutate(first_period=j.period)
    return j.mutate(evidence=ibis.literal(source + "|") + j._file + "|" + j._row.cast("string"))


#: A delivery of at least this share of the window's largest student roster is a roster.
ROSTER_SHARE = 0.5


def _out_of_school(engine: Engine, records: Any, persons: Any) -> Any:
    """Members of compulsory-school age (6-15) missing from the latest student roster.

    Education delivers the roster of students (status 在读) each term; a registered
    member aged 6 to 15 on the roster month's first day who is not on it is out of
    school, unless severely disabled (grade 1-2: home schooling or exemption). A
    roster is a delivery with at least :data:`ROSTER_SHARE` of the largest one in the
    window: a few late rows delivered the month after are not a new roster.
    """
    enrolled = records.filter(records.status == "在读")
    sizes = engine.fetch(enrolled.group_by("period").aggregate(n=enrolled.count())).to_pylist()
    if not sizes:
        return None
    largest = max(r["n"] for r in sizes)
    latest = max(r["period"] for r in sizes if r["n"] >= ROSTER_SHARE * largest)
    on_roster = enrolled.filter(enrolled.period == latest).select(on_roster=enrolled.person)
    first_day = ibis.date(int(latest[:4]), int(latest[5:7]), 1)
    age = (first_day.epoch_days() - persons.birth_date.epoch_days()) / 365.25
    exempt = (persons.disability_grade >= 1) & (persons.disability_grade <= 2)
    school_age = (age >= 6) & (age < 16) & ~exempt.fill_null(False)
    marked = persons.mutate(school_age=school_age)
    out = marked.left_join(on_roster, marked.id_number == on_roster.on_roster)
    missing = out.school_age & out.on_roster.isnull()
    return out.group_by("household_id").aggregate(
        out_of_school_members=missing.cast("int64").sum(),
        roster_period=ibis.literal(latest),
    )


#: Public-security changes after which a registered person no longer counts as a member.
DEPARTED = ("死亡注销", "迁出")


def _departed(engine: Engine, period: str) -> Any:
    """Persons (``gone``: link person id) public security deregistered up to ``period``."""
    r = _records(engine, "public_security", _history(engine, "public_security", period), [])
    if r is None:
        return None
    return r.filter(r.change_type.isin(DEPARTED) & r.person.notnull()).select(gone=r.person)


def _current_persons(engine: Engine, period: str) -> Any:
    """The registry's persons without those deregistered since (death, moving out):
    a dead member is not uninsured, nor of school age."""
    persons = engine.table("registry_persons")
    gone = _departed(engine, period)
    return persons if gone is None else persons.anti_join(gone, persons.id_number == gone.gone)


def build_indicators(engine: Engine, period: str) -> int:
    """Compute the household indicators of ``period`` into table ``indicators``."""
    w12 = window(period, 12)
    year = int(period[:4])
    hh = engine.table("registry_households")
    persons = _current_persons(engine, period)
    base = hh.select(
        "household_id",
        "village_code",
        "members",
        "former_poor",
        "dibao",
        "tekun",
        "monitoring_status",
    )
    ppl = persons.group_by("household_id").aggregate(
        uninsured_members=(~persons.medical_insured).cast("int64").sum(),
        labour_members=(persons.work_capacity == "普通劳动力").cast("int64").sum(),
        severe_disabled_members=((persons.disability_grade > 0) & (persons.disability_grade <= 2))
        .cast("int64")
        .sum(),
        elderly_members=((year - persons.birth_date.year()) >= 60).cast("int64").sum(),
    )
    parts: list[Any] = [ppl]

    # income: the latest cadres' survey within 12 months
    r = _records(engine, "income_survey", w12, ["household_no"])
    if r is not None:
        wl = ibis.window(group_by=r.hh, order_by=[ibis.desc(r.period), ibis.desc(r._row)])
        latest = r.mutate(_k=ibis.row_number().over(wl)).filter(ibis._._k == 0)
        parts.append(
            latest.select(
                household_id=latest.hh,
                income_12m=latest.net_income,
                income_pc_12m=latest.per_capita,
                survey_members=latest.members,
                survey_period=latest.period,
                # rigid spending in the same accounting: medical, schooling, rehabilitation
                rigid_12m=latest.medical.fill_null(0)
                + latest.education.fill_null(0)
                + latest.rehab.fill_null(0),
                ev_income=latest.evidence,
            )
        )
    # medical: out-of-pocket over 12 months; this period's largest inpatient claim
    r = _records(engine, "medical_claims", window(period, 13), ["settlement_no"])
    if r is not None:
        inpatient = r.visit_type == "住院"
        this = r.first_period == period
        # the 12-month window as it stood last period (to see a threshold being crossed)
        prev_window = r.first_period.isin(window(window(period, 2)[1], 12))
        parts.append(
            r.group_by(household_id=r.hh).aggregate(
                medical_oop_12m=_money(r.first_period.isin(w12).ifelse(r.out_of_pocket, 0)),
                medical_oop_12m_prev=_money(prev_window.ifelse(r.out_of_pocket, 0)),
                inpatient_oop_max=(inpatient & this).ifelse(r.out_of_pocket, 0).max(),
                outpatient_oop_period=_money(((~inpatient) & this).ifelse(r.out_of_pocket, 0)),
                ev_medical=_pick(r.evidence, this.ifelse(r.out_of_pocket, -1)),
            )
        )
    # education: dropouts of compulsory-school age; school costs over 12 months
    r = _records(engine, "education", w12, ["student_no", "status"])
    if r is not None:
        age = year - r.birth_date.year()
        drop = (r.status == "辍学") & (age >= 6) & (age <= 16)
        parts.append(
            r.group_by(household_id=r.hh).aggregate(
                dropouts_12m=drop.cast("int64").sum(),
                education_cost_12m=_money(r.fees.fill_null(0) - r.aid.fill_null(0)),
                ev_education=_pick(r.evidence, drop.cast("int64")),
            )
        )
        roster = _out_of_school(engine, r, persons)
        if roster is not None:
            parts.append(roster)
    # housing and water: the latest assessment / inspection ever delivered
    for source, key, cols in (
        (
            "housing",
            ["record_no"],
            {
                "house_grade": "grade",
                "house_assessed": "assess_date",
                "house_period": "period",
            },
        ),
        (
            "water",
            ["check_no"],
            {
                "water_quantity": "quantity",
                "water_quality": "quality_ok",
                "water_fetch_minutes": "fetch_minutes",
                "water_short_days": "short_days",
                "water_supply": "supply_type",
                "water_period": "period",
            },
        ),
    ):
        r = _records(engine, source, _history(engine, source, period), key)
        if r is None:
            continue
        wl = ibis.window(group_by=r.hh, order_by=[ibis.desc(r.period), ibis.desc(r._row)])
        latest = r.mutate(_k=ibis.row_number().over(wl)).filter(ibis._._k == 0)
        parts.append(
            latest.select(
                household_id=latest.hh,
                **{k: latest[v] for k, v in cols.items()},
                **{f"ev_{source}": latest.evidence},
            )
        )
    parts += _period_counts(engine, period)
    # ineligibility: assets of members and declared relatives, cumulative
    parts += _assets(engine, period)

    out = base
    for part in parts:
        p = part.rename(_hid="household_id")
        out = out.left_join(p, out.household_id == p._hid).drop("_hid")
    # columns of sources without data yet, then: counts and amounts of "no record" are
    # zero; everything else stays unknown (NULL)
    missing = {c: ibis.null(t) for c, t in INDICATOR_TYPES.items() if c not in out.columns}
    missing |= {c: ibis.null("string") for c in EVIDENCE_COLUMNS if c not in out.columns}
    if missing:
        out = out.mutate(**missing)
    out = out.mutate(
        **{c: out[c].cast(INDICATOR_TYPES[c]) for c in INDICATOR_TYPES},
    )
    out = out.mutate(
        **{c: out[c].fill_null(0) for c in ZERO_WHEN_ABSENT},
        period=ibis.literal(period),
    )
    out = out.select(
        "period",
        "household_id",
        *[c for c in INDICATOR_TYPES if c != "household_id"],
        *EVIDENCE_COLUMNS,
    )
    return engine.replace_period(INDICATORS, period, out)


def _history(engine: Engine, source: str, period: str) -> list[str]:
    """Every delivery period of ``source`` up to ``period``."""
    t = engine.table(f"raw_{source}") if engine.exists(f"raw_{source}") else None
    if t is None:
        return [period]
    periods = engine.fetch(t.select("period").distinct())["period"].to_pylist()
    return sorted(p for p in periods if p <= period) or [period]


def _period_counts(engine: Engine, period: str) -> list[Any]:
    now = [period]
    year = int(period[:4])
    out: list[Any] = []
    r = _records(engine, "disability", now, ["cert_no"])
    if r is not None:
        severe = r.grade.isin(["一级", "二级"])
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                new_severe_disability=severe.cast("int64").sum(),
                new_disability=r.count(),
                ev_disability=_pick(r.evidence, severe.cast("int64")),
            )
        )
    r = _records(engine, "health_diagnoses", now, ["report_no"])
    if r is not None:
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                new_serious_illness=r.count(),
                ev_health=r.evidence.max(),
            )
        )
    r = _records(engine, "public_security", now, ["record_no"])
    if r is not None:
        age = year - r.birth_date.year()
        death = r.change_type == "死亡注销"
        working = death & (age >= 16) & (age < 60)
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                deaths=death.cast("int64").sum(),
                working_age_deaths=working.cast("int64").sum(),
                ev_public_security=_pick(r.evidence, working.cast("int64")),
            )
        )
    r = _records(engine, "disaster_losses", now, ["report_no"])
    if r is not None:
        severe = r.house_damage.isin(["严重损坏", "倒塌"])
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                disaster_loss=_money(r.direct_loss),
                disaster_house_severe=severe.cast("int64").sum(),
                ev_disaster=_pick(r.evidence, r.direct_loss),
            )
        )
    r = _records(engine, "hrss_employment", now, ["record_no"])
    if r is not None:
        lost = r.register_type == "失业登记"
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                unemployment_registrations=lost.cast("int64").sum(),
                ev_hrss=_pick(r.evidence, lost.cast("int64")),
            )
        )
    r = _records(engine, "agriculture", now, ["record_no"])
    if r is not None:
        failed = r.project_status == "失败"
        overdue = r.overdue == "是"
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                project_failed=failed.cast("int64").sum(),
                loan_overdue=overdue.cast("int64").sum(),
                ev_agriculture=_pick(r.evidence, (failed | overdue).cast("int64")),
            )
        )
    r = _records(engine, "civil_affairs", now, ["record_no", "id_number"])
    if r is not None:
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                assistance_started=(r.change_type == "新增").cast("int64").sum(),
                assistance_ended=(r.change_type == "停保").cast("int64").sum(),
                ev_civil_affairs=r.evidence.max(),
            )
        )
    for source, col in (("self_reports", "self_reports"), ("hotline", "hotline_reports")):
        key = ["report_id"] if source == "self_reports" else ["ticket_no"]
        r = _records(engine, source, now, key)
        if r is not None:
            out.append(
                r.group_by(household_id=r.hh).aggregate(
                    **{col: r.count(), f"ev_{source}": r.evidence.max()}
                )
            )
    return out


def _assets(engine: Engine, period: str) -> list[Any]:
    """Ineligibility counts; a departed member's assets no longer count."""
    out: list[Any] = []
    gone = _departed(engine, period)
    for source, key, col, flt in (
        ("vehicles", ["plate"], "vehicles", None),
        ("market_registrations", ["credit_code"], "businesses", None),
        ("real_estate", ["cert_no"], "commercial_housing", ("nature", "商品房")),
        ("public_employees", ["id_number"], "public_employees", None),
    ):
        periods = _history(engine, source, period)
        if source == "public_employees":
            periods = periods[-1:]  # the latest roster
        r = _records(engine, source, periods, key)
        if r is None:
            continue
        if flt:
            r = r.filter(r[flt[0]] == flt[1])
        if gone is not None:
            r = r.anti_join(gone, r.person == gone.gone)
        out.append(
            r.group_by(household_id=r.hh).aggregate(
                **{
                    col: r.count(),
                    f"{col}_relatives": (r.method == "relative").cast("int64").sum(),
                    f"ev_{col}": r.evidence.max(),
                }
            )
        )
    return out
