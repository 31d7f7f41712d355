"""The screen stage: apply a policy pack to the period's indicators -> warnings.

Conditions are compiled to engine expressions and evaluated in the engine; only
the flagged households (a bounded result) come back to Python, where the reason
texts are written from the real values. A NULL condition means the rule could not
be evaluated: with ``unknown: verify`` it yields a "needs verification" warning
naming the missing fields. A fired screening or guarantee rule on a household whose
``verify_missing`` fields (the income test) are unknown adds a "needs verification"
warning too: unknown is never "no risk".
"""

from __future__ import annotations

import json
import string
from typing import Any

import ibis
import pyarrow as pa

from povguard.engine import Engine
from povguard.errors import ConfigError
from povguard.indicators import window
from povguard.policy.expr import compile_condition, history_calls, history_column, names
from povguard.policy.pack import PackLibrary, PolicyPack, Rule, template_fields

WARNINGS = "warnings"
WARNING_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("household_id", pa.string()),
        ("rule_id", pa.string()),
        ("rule_version", pa.string()),
        ("kind", pa.string()),
        ("severity", pa.string()),
        ("household_type", pa.string()),
        ("reason_zh", pa.string()),
        ("reason_en", pa.string()),
        ("values", pa.string()),
        ("evidence", pa.string()),
    ]
)
_FIELD_ZH = {
    "income_pc_12m": "人均纯收入（收入调查）",
    "house_grade": "房屋安全等级",
    "water_quantity": "饮水核查",
}


class _Safe(string.Formatter):
    """Formats None as an em dash instead of failing on a format spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "—"
        return str(super().format_field(value, format_spec))


_FMT = _Safe()


def _evidence(row: dict[str, Any], cols: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for c in cols:
        v = row.get(c)
        if v:
            source, file, line = str(v).split("|")
            out.append({"source": source, "file": file, "row": int(line)})
    return out


def _json(values: dict[str, Any]) -> str:
    return json.dumps(
        {
            k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
            for k, v in values.items()
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def screen_period(
    engine: Engine, period: str, pack: PolicyPack | PackLibrary, *, store: bool = True
) -> pa.Table:
    """Evaluate the policy on the indicators of ``period`` and store table ``warnings``.

    ``pack`` is one pack (applied to the households of its region; every household
    for a national pack), or a library: each household is screened with the most
    specific pack in force in ``period`` for its village code (a provincial
    override beats the national pack). Returns the period's
    warnings (one row per household and rule). With ``store=False`` nothing is
    written (what-if simulation).
    """
    packs = pack.in_force(period) if isinstance(pack, PackLibrary) else [pack]
    if not packs:
        raise ConfigError(f"no policy pack in force for {period}")
    rows: list[dict[str, Any]] = []
    claimed: list[str] = []
    for p in packs:  # most specific region first
        ind = engine.table("indicators").filter(ibis._.period == period)
        if p.region:
            ind = ind.filter(ind.village_code.startswith(p.region).fill_null(False))
        for other in claimed:
            if other.startswith(p.region) and other != p.region:
                ind = ind.filter(~ind.village_code.startswith(other).fill_null(False))
        claimed.append(p.region)
        if len(packs) > 1 and engine.count(ind) == 0:
            continue  # no household left for this pack in the period
        rows += _screen(engine, ind, period, p)
    table = pa.Table.from_pylist(rows, schema=WARNING_SCHEMA)
    if store:
        engine.replace_period(WARNINGS, period, table)
    return table


def _with_history(engine: Engine, ind: Any, period: str, pack: PolicyPack) -> Any:
    """``ind`` with a column per ``min_over(field, months)`` call of the pack's rules."""
    params = pack.params_for(period)
    calls: set[tuple[str, int]] = set()
    for rule in pack.rules:
        calls |= history_calls(rule.tree(f"{pack.id}:{rule.id}"), params)
    for field, months in sorted(calls):
        past = engine.table("indicators")
        past = past.filter(past.period.isin(window(period, months)))
        agg = past.group_by("household_id").aggregate(
            h_min=past[field].min(), h_n=past[field].count()
        )
        agg = agg.select(
            h_household=agg.household_id,
            **{history_column(field, months): ibis.ifelse(agg.h_n >= months, agg.h_min, None)},
        )
        ind = ind.left_join(agg, ind.household_id == agg.h_household).drop("h_household")
    return ind


def _screen(engine: Engine, plain: Any, period: str, pack: PolicyPack) -> list[dict[str, Any]]:
    params = pack.params_for(period)
    with_history = _with_history(engine, plain, period, pack)
    rows: list[dict[str, Any]] = []
    fired_screening: dict[str, list[str]] = {}
    for rule in pack.rules:
        tree = rule.tree(f"{pack.id}:{rule.id}")
        history = sorted(history_calls(tree, params))
        ind = with_history if history else plain  # the look-back join only where used
        used = sorted(names(tree) & set(ind.columns))
        used += [history_column(f, n) for f, n in history]
        cond = compile_condition(tree, ind, params)
        shown = template_fields(rule.reason_zh) | template_fields(rule.reason_en)
        in_reason = names(tree) | shown  # parameters written into the warning's values
        cols = ["household_id", "former_poor", *used, *sorted(shown), *rule.evidence]
        cols += [f for f in pack.verify_missing if f not in cols]
        cols = list(dict.fromkeys(c for c in cols if c in ind.columns))
        hit = engine.fetch(ind.filter(cond.fill_null(False)).select(*cols)).to_pylist()
        for r in hit:
            rows.append(_warning(period, pack, rule, r, params, in_reason, "fired"))
            if rule.kind in ("screening", "guarantee"):
                missing = [f for f in pack.verify_missing if r.get(f) is None]
                if missing:
                    fired_screening.setdefault(r["household_id"], []).extend(
                        [rule.id] + [f"missing:{m}" for m in missing]
                    )
        if rule.unknown == "verify":
            unknown = engine.fetch(ind.filter(cond.isnull()).select(*cols)).to_pylist()
            for r in unknown:
                rows.append(_warning(period, pack, rule, r, params, in_reason, "unknown", used))
    for household_id, items in fired_screening.items():
        rules = [i for i in items if not i.startswith("missing:")]
        missing = sorted({i.removeprefix("missing:") for i in items if i.startswith("missing:")})
        zh = "、".join(_FIELD_ZH.get(m, m) for m in missing)
        rows.append(
            {
                "period": period,
                "household_id": household_id,
                "rule_id": "needs_verification",
                "rule_version": pack.ref,
                "kind": "needs_verification",
                "severity": "medium",
                "household_type": None,
                "reason_zh": f"已触发 {'、'.join(rules)}，但缺少{zh}，"
                "无法判定是否低于监测线，需入户核实",
                "reason_en": f"{', '.join(rules)} fired but {', '.join(missing)} is unknown: "
                "the income test cannot be made, a home visit must verify",
                "values": _json({"rules": ",".join(rules), "missing": ",".join(missing)}),
                "evidence": "[]",
            }
        )
    return rows


def _warning(
    period: str,
    pack: PolicyPack,
    rule: Rule,
    row: dict[str, Any],
    params: dict[str, Any],
    shown: set[str],
    outcome: str,
    used: list[str] | None = None,
) -> dict[str, Any]:
    values = {k: v for k, v in params.items() if k in shown}
    values |= {k: v for k, v in row.items() if not k.startswith("ev_")}
    htype = None
    if rule.household_type == "by_registration":
        htype = "unstable_former_poor" if row.get("former_poor") else "edge"
    elif rule.household_type == "sudden_hardship":
        htype = "sudden_hardship"
    kind: str = rule.kind
    if outcome == "fired":
        zh = _FMT.format(rule.reason_zh, **values)
        en = _FMT.format(rule.reason_en, **{**values, "region_name": pack.region_name_en})
    else:
        missing = [u for u in (used or []) if row.get(u) is None]
        zh = f"{rule.title_zh}：缺少 {'、'.join(missing)}，无法判定，需核实"
        en = f"{rule.title_en}: {', '.join(missing)} unknown, cannot be decided; verify"
        kind, htype = "needs_verification", None
    return {
        "period": period,
        "household_id": row["household_id"],
        "rule_id": rule.id,
        "rule_version": pack.ref,
        "kind": kind,
        "severity": rule.severity,
        "household_type": htype,
        "reason_zh": zh,
        "reason_en": en,
        "values": _json(values),
        "evidence": json.dumps(_evidence(row, rule.evidence), ensure_ascii=False),
    }
