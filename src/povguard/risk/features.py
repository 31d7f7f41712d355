"""Panel features of household-months for the forward-looking risk models.

One row per ``(household_id, period)`` of table ``indicators``, built as one Ibis
expression (window functions over each household's months, ordered by a month
number), so the engine (DuckDB or Spark) does the work; nothing here loops over
rows in Python. Windows are *range* frames over the month number, so a household
missing from a month does not shift its history.

Changes are relative: ``(x_t - x_{t-k}) / x_{t-k}`` (NULL when the month ``t-k``
is not in the panel or ``x_{t-k}`` is not positive); a 60% drop is ``-0.6``.
Volatility is the sample standard deviation over the window. Event counts are
sums over the last ``k`` months including the current one. ``NULL`` means unknown
(e.g. no income survey yet, or no shock seen in the observed history).

Only indicators, the registry and the stored rule warnings of months up to ``t``
are used for the features of month ``t`` (no look-ahead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis

from povguard.engine import Engine
from povguard.policy import PackLibrary, PolicyPack

#: Months of the change, volatility and event-count windows.
WINDOWS = (3, 6, 12)
#: Event measures of the indicators (per month) and the name used in feature columns.
EVENTS: dict[str, str] = {
    "illness": "new_serious_illness",
    "disability": "new_disability",
    "severe_disability": "new_severe_disability",
    "death": "deaths",
    "working_age_death": "working_age_deaths",
    "disaster": "disaster_loss",  # counted as months with a loss > 0
    "disaster_house": "disaster_house_severe",
    "job_loss": "unemployment_registrations",
    "project_failure": "project_failed",
    "loan_overdue": "loan_overdue",
    "inpatient": "inpatient_oop_max",  # months with an inpatient stay paid out of pocket
    "assistance_started": "assistance_started",
    "assistance_ended": "assistance_ended",
    "self_report": "self_reports",
    "hotline": "hotline_reports",
}
#: Events that count as a *shock* (for ``months_since_shock`` and village context).
SHOCKS = (
    "illness",
    "severe_disability",
    "working_age_death",
    "disaster",
    "job_loss",
    "project_failure",
)
#: Income components of the cadres' survey (joined on the survey behind ``income_pc_12m``).
COMPONENTS = ("wage", "production", "property", "transfer")
#: Warning kinds counted per household-month (the rules' own signals).
WARNING_KINDS = ("risk", "needs_verification", "screening", "guarantee", "ineligibility")

_LEVELS = [
    # demographics
    "members",
    "labour_members",
    "elderly_members",
    "severe_disabled_members",
    "uninsured_members",
    "dependency_ratio",  # members who are not ordinary labour / members
    "elderly_share",
    "no_labour",
    # registry
    "former_poor",
    "dibao",
    "tekun",
    "monitored",
    # income and spending (12-month accounting of the latest survey)
    "income_12m",
    "income_pc_12m",
    "rigid_12m",
    "rigid_share",  # rigid spending / net income
    "medical_oop_12m",
    "education_cost_12m",
    "outpatient_oop_period",
    "dropouts_12m",
    "out_of_school_members",
    "months_since_survey",
    "calendar_month",
    # housing, water, assets
    "house_unsafe",
    "water_quantity",
    "water_fetch_minutes",
    "water_short_days",
    "water_quality_bad",
    "vehicles",
    "businesses",
    # income components per member (latest survey) and the wage share of income
    *[f"{c}_pc" for c in COMPONENTS],
    "wage_share",
]
_CHANGES = [
    f"{x}_change_{k}"
    for x in ("income_pc_12m", "income_12m", "wage_pc", "production_pc", "transfer_pc")
    for k in WINDOWS
]
_VOLATILITY = [f"{x}_std_{k}" for x in ("income_pc_12m", "wage_pc") for k in (6, 12)]
_EVENT_COUNTS = [f"{e}_{k}m" for e in EVENTS for k in WINDOWS]
_SHOCK = ["shocks_12m", "months_since_shock"]
_HISTORY = [
    *[f"warn_{k}" for k in WARNING_KINDS],
    "risk_months_12",
    "warning_months_12",
    "risk_exits_12",
    "months_since_risk",
]
_VILLAGE = [
    "village_shock_share",
    "village_income_pc_mean",
    "village_risk_share",
    "village_distance_km",
]
_LINE = ["monitoring_line", "income_line_ratio"]

#: Every model feature, in a fixed order (numeric or boolean; NULL = unknown).
#:
#: - levels: demographics (members, labour, elderly, severe disability, uninsured,
#:   ``dependency_ratio`` = non-labour members / members, ``elderly_share``,
#:   ``no_labour``), registry (``former_poor``, ``dibao``, ``tekun``, ``monitored``),
#:   income and rigid spending of the latest survey (``rigid_share`` = rigid / income),
#:   medical and schooling costs, dropouts, ``months_since_survey``,
#:   ``calendar_month``, housing grade C/D, water measures, assets, income components
#:   per member (``wage_pc``, ``production_pc``, ``property_pc``, ``transfer_pc``) and
#:   ``wage_share``;
#: - ``<x>_change_<k>``: relative change over ``k`` months of per-capita and total
#:   income and of the wage, production and transfer income per member;
#: - ``<x>_std_<k>``: volatility (standard deviation) over ``k`` months;
#: - ``<event>_<k>m``: events in the last ``k`` months (see :data:`EVENTS`);
#: - ``shocks_12m`` (months with a shock of :data:`SHOCKS`) and
#:   ``months_since_shock`` (NULL: none in the observed history);
#: - rule history: ``warn_<kind>`` warnings this month by kind, ``risk_months_12``,
#:   ``warning_months_12``, ``risk_exits_12`` (months a risk warning ended: earlier
#:   episodes), ``months_since_risk``;
#: - village context: share of the village's households with a shock this month,
#:   mean per-capita income, share with a risk warning, distance to the county seat;
#: - with a pack: ``monitoring_line`` of the month and ``income_line_ratio``.
FEATURE_COLUMNS: tuple[str, ...] = (
    *_LEVELS,
    *_CHANGES,
    *_VOLATILITY,
    *_EVENT_COUNTS,
    *_SHOCK,
    *_HISTORY,
    *_VILLAGE,
    *_LINE,
)
#: Identifiers carried along (not features).
KEY_COLUMNS = ("household_id", "period", "village_code")
#: Attributes for fairness reports (not features): head's sex and ethnicity, head
#: aged 60 or more, village in the most remote quarter of its county.
GROUP_COLUMNS = ("head_sex", "head_ethnicity", "head_elderly", "remote_village")


def month_number(period: Any) -> Any:
    """``YYYY-MM`` string expression -> months since year 0 (``year * 12 + month - 1``)."""
    return period.substr(0, 4).cast("int64") * 12 + period.substr(5, 2).cast("int64") - 1


def _frame(lo: int | None, hi: int) -> Any:
    """A household's months ``t+lo .. t+hi`` (range frame over the month number;
    ``lo=None``: every earlier month)."""
    return ibis.window(group_by="household_id", order_by="t", range=(lo, hi))


def _ratio(num: Any, den: Any) -> Any:
    """``num / den``, NULL unless ``den`` is positive."""
    return ibis.ifelse(den > 0, num / den, None)


def _change(x: Any, k: int) -> Any:
    before = x.max().over(_frame(-k, -k))
    return _ratio(x - before, before)


def _survey_components(engine: Engine) -> Any:
    """Income components per household and survey period, or None without surveys."""
    if not (engine.exists("raw_income_survey") and engine.exists("links")):
        return None
    raw = engine.table("raw_income_survey")
    links = engine.table("links")
    links = links.filter((links.source == "income_survey") & links.household_id.notnull())
    links = links.select(
        l_period=links.period, l_file=links._file, l_row=links._row, c_household=links.household_id
    )
    j = raw.join(
        links,
        (raw.period == links.l_period) & (raw._file == links.l_file) & (raw._row == links.l_row),
    )
    w = ibis.window(group_by=[j.c_household, j.period], order_by=ibis.desc(j._row))
    j = j.mutate(_k=ibis.row_number().over(w)).filter(ibis._._k == 0)
    members = ibis.greatest(j.members.cast("float64").fill_null(1.0), 1.0)
    return j.select(
        c_household=j.c_household,
        c_period=j.period,
        **{f"{c}_pc": j[c].cast("float64") / members for c in COMPONENTS},
        wage_share=_ratio(j.wage.cast("float64"), j.net_income.cast("float64")),
    )


def _warning_counts(engine: Engine) -> Any:
    if not engine.exists("warnings"):
        return None
    w = engine.table("warnings")
    return w.group_by(w_household=w.household_id, w_period=w.period).aggregate(
        **{f"warn_{k}": (w.kind == k).cast("int64").sum() for k in WARNING_KINDS}
    )


def _heads(engine: Engine) -> Any:
    """Sex, ethnicity and birth year of each household's head, or None."""
    if not engine.exists("registry_persons"):
        return None
    p = engine.table("registry_persons")
    p = p.filter(p.is_head.fill_null(False))
    w = ibis.window(group_by=p.household_id, order_by=p.id_number)
    p = p.mutate(_k=ibis.row_number().over(w)).filter(ibis._._k == 0)
    return p.select(
        g_household=p.household_id,
        head_sex=p.sex.cast("string"),
        head_ethnicity=p.ethnicity.cast("string"),
        head_birth_year=p.birth_date.year(),
    )


def _village_distance(engine: Engine) -> Any:
    """Distance (km) of each village to its county seat and a remote flag, or None.

    ``remote_village``: in the most remote quarter of the villages of its county.
    """
    if not engine.exists("regions"):
        return None
    r = engine.table("regions").filter(ibis._.lon.notnull() & ibis._.lat.notnull())
    county = r.select(c_code=r.region_code, c_lon=r.lon, c_lat=r.lat)
    v = r.filter(r.region_code.length() == 12).select(
        d_village=r.region_code,
        d_county=r.region_code.substr(0, 6) + "000000",
        v_lon=r.lon,
        v_lat=r.lat,
    )
    j = v.join(county, v.d_county == county.c_code)
    rad = (j.v_lat * 3.141592653589793 / 180).cos()
    km = (((j.v_lon - j.c_lon) * rad * 111.32) ** 2 + ((j.v_lat - j.c_lat) * 110.57) ** 2).sqrt()
    j = j.mutate(village_distance_km=km)
    rank = j.village_distance_km.percent_rank().over(
        ibis.window(group_by=j.d_county, order_by=j.village_distance_km)
    )
    return j.select("d_village", "village_distance_km", remote_village=rank >= 0.75)


def _line(t: Any, pack: PolicyPack | PackLibrary, periods: Sequence[str]) -> Any:
    """The monitoring line of each row: the most specific pack in force for the
    period and the household's region (NULL where no pack applies)."""
    branches = []
    for p in periods:
        packs = pack.in_force(p) if isinstance(pack, PackLibrary) else [pack]
        for one in packs:  # most specific region first
            line = one.params_for(p).get("monitoring_line")
            if line is None:
                continue
            where = t.period == p
            if one.region:
                where = where & t.village_code.startswith(one.region).fill_null(False)
            branches.append((where, ibis.literal(float(line))))
    if not branches:
        return ibis.null("float64")
    return ibis.cases(*branches, else_=ibis.null("float64"))


def _left(table: Any, other: Any, on: list[tuple[str, str]]) -> Any:
    pred = [table[a] == other[b] for a, b in on]
    return table.left_join(other, pred).drop(*[b for _, b in on])


def build_features(
    engine: Engine,
    periods: Sequence[str] | None = None,
    *,
    pack: PolicyPack | PackLibrary | None = None,
) -> Any:
    """The panel features of every household-month (an Ibis table, not executed).

    Parameters
    ----------
    engine:
        The analytics store with table ``indicators`` (and, when present, the
        registry, ``raw_income_survey`` + ``links`` and the stored ``warnings``).
    periods:
        Keep only these ``YYYY-MM`` periods (windows still look back before them).
        Default: every period of the indicators.
    pack:
        A policy pack or library; adds ``monitoring_line`` of each period and
        ``income_line_ratio`` (otherwise both are NULL); with a library, the line of
        the most specific pack in force for the household's region.

    Returns
    -------
    ibis.Table
        Columns :data:`KEY_COLUMNS`, :data:`FEATURE_COLUMNS` and
        :data:`GROUP_COLUMNS`, one row per household and period.
    """
    ind = engine.table("indicators")
    if periods is not None:
        wanted = sorted(periods)
        if not wanted:
            raise ValueError("periods is empty")
        earliest = wanted[0]
        y, m = int(earliest[:4]), int(earliest[5:7])
        start = y * 12 + m - 1 - max(WINDOWS)
        ind = ind.filter(month_number(ind.period) >= start)
        ind = ind.filter(ind.period <= wanted[-1])
    t = ind.mutate(t=month_number(ind.period))
    members = t.members.cast("float64")
    shock = ibis.or_(
        *[
            (t[EVENTS[e]] > 0).fill_null(False)
            for e in SHOCKS  # every shock measure is zero when absent
        ]
    )
    t = t.mutate(
        dependency_ratio=_ratio(members - t.labour_members.cast("float64"), members),
        elderly_share=_ratio(t.elderly_members.cast("float64"), members),
        no_labour=t.labour_members == 0,
        monitored=(t.monitoring_status == "监测户").fill_null(False),
        rigid_share=_ratio(t.rigid_12m, t.income_12m),
        months_since_survey=t.t - month_number(t.survey_period),
        calendar_month=t.period.substr(5, 2).cast("int64"),
        house_unsafe=t.house_grade.isin(["C", "D"]),
        water_quality_bad=t.water_quality == "否",
        _shock=shock,
    )
    # income components of the survey the income indicators come from
    comp = _survey_components(engine)
    if comp is not None:
        t = _left(t, comp, [("household_id", "c_household"), ("survey_period", "c_period")])
    else:
        t = t.mutate(
            **{f"{c}_pc": ibis.null("float64") for c in COMPONENTS},
            wage_share=ibis.null("float64"),
        )
    warn = _warning_counts(engine)
    if warn is not None:
        t = _left(t, warn, [("household_id", "w_household"), ("period", "w_period")])
        t = t.mutate(**{f"warn_{k}": t[f"warn_{k}"].fill_null(0) for k in WARNING_KINDS})
    else:
        t = t.mutate(**{f"warn_{k}": ibis.null("int64") for k in WARNING_KINDS})

    # one pass of windows per household
    windows: dict[str, Any] = {}
    for k in WINDOWS:
        for x in ("income_pc_12m", "income_12m", "wage_pc", "production_pc", "transfer_pc"):
            windows[f"{x}_change_{k}"] = _change(t[x], k)
        for e, col in EVENTS.items():
            happened = (t[col] > 0).cast("int64") if e in ("disaster", "inpatient") else t[col]
            windows[f"{e}_{k}m"] = happened.fill_null(0).sum().over(_frame(-(k - 1), 0))
    for k in (6, 12):
        for x in ("income_pc_12m", "wage_pc"):
            windows[f"{x}_std_{k}"] = t[x].std().over(_frame(-(k - 1), 0))
    last12 = _frame(-11, 0)
    windows["shocks_12m"] = t._shock.cast("int64").sum().over(last12)
    last_shock = ibis.ifelse(t._shock, t.t, None).max().over(_frame(None, 0))
    windows["months_since_shock"] = t.t - last_shock
    risk = (t.warn_risk > 0).cast("int64")
    windows["risk_months_12"] = risk.sum().over(last12)
    any_warning = ibis.or_(*[t[f"warn_{k}"] > 0 for k in WARNING_KINDS]).cast("int64")
    windows["warning_months_12"] = any_warning.sum().over(last12)
    windows["_risk_prev"] = risk.max().over(_frame(-1, -1))
    last_risk = ibis.ifelse(risk > 0, t.t, None).max().over(_frame(None, 0))
    windows["months_since_risk"] = t.t - last_risk
    village_month = ibis.window(group_by=[t.village_code, t.period])
    windows["village_shock_share"] = t._shock.cast("float64").mean().over(village_month)
    windows["village_income_pc_mean"] = t.income_pc_12m.mean().over(village_month)
    windows["village_risk_share"] = risk.cast("float64").mean().over(village_month)
    t = t.mutate(**windows)
    exits = ((t._risk_prev == 1) & (t.warn_risk == 0)).cast("int64").fill_null(0)
    t = t.mutate(risk_exits_12=exits.sum().over(last12))

    heads = _heads(engine)
    if heads is not None:
        t = _left(t, heads, [("household_id", "g_household")])
        t = t.mutate(head_elderly=(t.t // 12 - t.head_birth_year) >= 60)
    else:
        t = t.mutate(
            head_sex=ibis.null("string"),
            head_ethnicity=ibis.null("string"),
            head_elderly=ibis.null("boolean"),
        )
    dist = _village_distance(engine)
    if dist is not None:
        t = _left(t, dist, [("village_code", "d_village")])
    else:
        t = t.mutate(village_distance_km=ibis.null("float64"), remote_village=ibis.null("boolean"))
    if pack is not None:
        found = engine.fetch(t.select("period").distinct())["period"].to_pylist()
        t = t.mutate(monitoring_line=_line(t, pack, sorted(found)))
        t = t.mutate(income_line_ratio=_ratio(t.income_pc_12m, t.monitoring_line))
    else:
        t = t.mutate(monitoring_line=ibis.null("float64"), income_line_ratio=ibis.null("float64"))
    if periods is not None:
        t = t.filter(t.period.isin(list(periods)))
    return t.select(*KEY_COLUMNS, *FEATURE_COLUMNS, *GROUP_COLUMNS)
