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
from povguard.policy.expr import (
    HistoryCall,
    compile_condition,
    history_calls,
    history_column,
    names,
)
from povguard.policy.pack import PackLibrary, PolicyPack, Rule, Trigger, template_fields

WARNINGS = "warnings"
#: Kind of the risk model's warnings (预测预警), written beside the rules' by the
#: cycle's predict stage (:mod:`povguard.risk.pipeline`); never a rule's kind.
PREDICTION_KIND = "prediction"
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


def _trees(pack: PolicyPack) -> list[tuple[Rule | Trigger, Any]]:
    items: list[Rule | Trigger] = [*pack.rules, *pack.triggers]
    return [(i, i.tree(f"{pack.id}:{i.id}")) for i in items]


def _history(engine: Engine, period: str, pack: PolicyPack) -> Any:
    """One row per household with a column per look-back call (``min_over`` ...) of the
    pack's conditions, or None when no condition looks back.

    ``min_over`` is unknown unless every one of the months has a value; ``max_over``
    and ``sum_over`` use the months that have one. Calls over the same months share
    one aggregation, and the result is cached in the engine (the caller releases it),
    so rules that look back do not aggregate the history again each.
    """
    params = pack.params_for(period)
    calls: set[HistoryCall] = set()
    for _, tree in _trees(pack):
        calls |= history_calls(tree, params)
    if not calls:
        return None
    by_months: dict[int, list[HistoryCall]] = {}
    for call in sorted(calls):
        by_months.setdefault(call[2], []).append(call)
    out: Any = None
    for months, group in sorted(by_months.items()):
        past = engine.table("indicators")
        past = past.filter(past.period.isin(window(period, months)))
        values: dict[str, Any] = {}
        for func, field, _ in group:
            column = past[field]
            value = {"min_over": column.min(), "max_over": column.max(), "sum_over": column.sum()}
            values[f"v__{func}__{field}"] = value[func]
            values[f"n__{field}"] = column.count()
        agg = past.group_by("household_id").aggregate(**values)
        columns = {}
        for call in group:
            func, field, _ = call
            count = agg[f"n__{field}"]
            complete = count >= months if func == "min_over" else count > 0
            columns[history_column(call)] = ibis.ifelse(complete, agg[f"v__{func}__{field}"], None)
        part = agg.select("household_id", **columns)
        if out is None:
            out = part
        else:
            part = part.rename(h_household="household_id")
            out = out.outer_join(part, out.household_id == part.h_household)
            out = out.mutate(household_id=out.household_id.fill_null(out.h_household))
            out = out.drop("h_household")
    return out.cache()


def _trigger_column(trigger: Trigger) -> str:
    return f"trigger__{trigger.id}"


def _screen(engine: Engine, plain: Any, period: str, pack: PolicyPack) -> list[dict[str, Any]]:
    history = _history(engine, period, pack)
    try:
        return _screen_with(engine, plain, history, period, pack)
    finally:
        if history is not None:
            history.release()


def _screen_with(
    engine: Engine, plain: Any, history: Any, period: str, pack: PolicyPack
) -> list[dict[str, Any]]:
    params = pack.params_for(period)
    trees = _trees(pack)
    with_history = plain  # joined to the cached history only for rules that look back
    if history is not None:
        h = history.rename(h_household="household_id")
        with_history = plain.left_join(h, plain.household_id == h.h_household).drop("h_household")
    trigger_trees = [(t, tree) for t, tree in trees if isinstance(t, Trigger)]
    triggers_look_back = any(history_calls(tree, params) for _, tree in trigger_trees)
    trigger_fields = set().union(
        *(template_fields(t.phrase_zh) | template_fields(t.phrase_en) for t in pack.triggers)
    )
    rows: list[dict[str, Any]] = []
    fired_screening: dict[str, list[str]] = {}
    for rule, tree in trees:
        if not isinstance(rule, Rule):
            continue
        calls = sorted(history_calls(tree, params))
        look_back = bool(calls) or (rule.needs_trigger and triggers_look_back)
        ind = with_history if look_back else plain
        used = sorted(names(tree) & set(ind.columns)) + [history_column(c) for c in calls]
        cond = compile_condition(tree, ind, params)
        shown = template_fields(rule.reason_zh) | template_fields(rule.reason_en)
        in_reason = names(tree) | shown  # parameters written into the warning's values
        cols = ["household_id", "former_poor", *used, *sorted(shown), *rule.evidence]
        cols += [f for f in pack.verify_missing if f not in cols]
        if rule.needs_trigger:
            cols += sorted(trigger_fields)
            in_reason |= trigger_fields
        cols = list(dict.fromkeys(c for c in cols if c in ind.columns))
        table = ind.filter(cond.fill_null(False))
        fired_cols = cols
        if rule.needs_trigger:
            triggers = {
                _trigger_column(t): compile_condition(t_tree, ind, params).fill_null(False)
                for t, t_tree in trigger_trees
            }
            table = table.mutate(**triggers)
            fired_cols = [*cols, *triggers]
        for r in engine.fetch(table.select(*fired_cols)).to_pylist():
            fired = [t for t in pack.triggers if r.pop(_trigger_column(t), False)]
            outcome = "untriggered" if rule.needs_trigger and not fired else "fired"
            rows.append(_warning(period, pack, rule, r, params, in_reason, outcome, fired=fired))
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
    fired: list[Trigger] | None = None,
) -> dict[str, Any]:
    """One warning row; ``outcome`` is fired, untriggered (a needs_trigger rule without
    any trigger) or unknown (the condition could not be evaluated)."""
    values = {k: v for k, v in params.items() if k in shown}
    values |= {k: v for k, v in row.items() if not k.startswith("ev_")}
    htype = None
    if rule.household_type == "by_registration":
        htype = "unstable_former_poor" if row.get("former_poor") else "edge"
    elif rule.household_type == "sudden_hardship":
        htype = "sudden_hardship"
    kind: str = rule.kind
    if outcome == "unknown":
        missing = [u for u in (used or []) if row.get(u) is None]
        zh = f"{rule.title_zh}：缺少 {'、'.join(missing)}，无法判定，需核实"
        en = f"{rule.title_en}: {', '.join(missing)} unknown, cannot be decided; verify"
        kind, htype = "needs_verification", None
    else:
        en_values = {**values, "region_name": pack.region_name_en}
        zh_parts = [_FMT.format(rule.reason_zh, **values)]
        en_parts = [_FMT.format(rule.reason_en, **en_values)]
        for t in fired or []:
            zh_parts.append(_FMT.format(t.phrase_zh, **values))
            en_parts.append(_FMT.format(t.phrase_en, **en_values))
        if rule.needs_trigger:
            values["triggers"] = ",".join(t.id for t in fired or [])
        if outcome == "untriggered":
            zh_parts.append("数据中未见返贫致贫风险因素，需入户核实是否存在风险")
            en_parts.append("no risk factor in the data: a home visit must establish the risk")
            kind, htype = "needs_verification", None
        zh, en = "；".join(zh_parts), "; ".join(en_parts)
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
