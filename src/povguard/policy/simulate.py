"""What-if simulation of policy changes, and differences between two packs.

:func:`simulate` screens one period's indicators twice without writing anything:
once with a base pack and once with a modified pack (the base pack with some
parameters overridden, e.g. a higher monitoring line), and reports per rule, per
kind, per region and per household type how many households are flagged before
and after, and which households are newly flagged or no longer flagged. It is the
answer to "what happens to the warning volume if we raise the line to 7,500?"
before a bureau changes its pack.

:func:`diff_packs` compares two packs field by field: parameters (per year) and
rules (condition, severity, reasons...).

Both results render as JSON-ready dicts, rich tables (Chinese labels by default,
English when the language setting is ``en``) and Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

import ibis
import pyarrow as pa
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from povguard.engine import Engine
from povguard.errors import ConfigError, NotFoundError
from povguard.policy.pack import PackLibrary, PolicyPack
from povguard.policy.screen import screen_period

RegionLevel = Literal["county", "township", "village"]
#: Length of the region-code prefix of each level (a village code has 12 digits).
REGION_LEVELS: Final[dict[str, int]] = {"county": 6, "township": 9, "village": 12}
#: Rule id of the screen's summary "needs verification" warning.
NEEDS_VERIFICATION: Final = "needs_verification"
#: Household ids listed per list by default in API answers (counts are always complete).
MAX_IDS_LISTED: Final = 100

_TYPE_ORDER: Final = ("unstable_former_poor", "edge", "sudden_hardship")
_KIND_ORDER: Final = (
    "risk",
    "screening",
    "guarantee",
    "ineligibility",
    "tier",
    "elimination",
    NEEDS_VERIFICATION,
)

#: Labels of kinds, household types and the report, Chinese and English.
KIND_LABELS: Final[dict[str, tuple[str, str]]] = {
    "risk": ("风险", "risk"),
    "screening": ("部门筛查", "department screening"),
    "guarantee": ("三保障及饮水", "guarantees and water"),
    "ineligibility": ("不符合条件", "ineligibility"),
    "tier": ("分层救助", "assistance tier"),
    "elimination": ("风险消除", "risk elimination"),
    NEEDS_VERIFICATION: ("需核实", "needs verification"),
}
TYPE_LABELS: Final[dict[str | None, tuple[str, str]]] = {
    "unstable_former_poor": ("脱贫不稳定户", "unstable former-poor"),
    "edge": ("边缘易致贫户", "edge household"),
    "sudden_hardship": ("突发严重困难户", "sudden severe hardship"),
    None: ("未分类", "unclassified"),
}
_LEVEL_LABELS: Final[dict[str, tuple[str, str]]] = {
    "county": ("县", "county"),
    "township": ("乡镇", "township"),
    "village": ("村", "village"),
}
_L: Final[dict[str, tuple[str, str]]] = {
    "title": ("政策模拟", "Policy simulation"),
    "item": ("项目", "item"),
    "value": ("值", "value"),
    "period": ("期间", "period"),
    "pack": ("模拟政策包", "simulated pack"),
    "base": ("对照政策包", "base pack"),
    "overrides": ("参数调整", "parameter overrides"),
    "parameter": ("参数", "parameter"),
    "households": ("预警户数", "households flagged"),
    "newly": ("新增预警户", "newly flagged"),
    "no_longer": ("不再预警户", "no longer flagged"),
    "before": ("调整前", "before"),
    "after": ("调整后", "after"),
    "diff": ("变化", "change"),
    "rule": ("规则", "rule"),
    "kind": ("类别", "kind"),
    "title_col": ("名称", "title"),
    "by_rule": ("按规则", "by rule"),
    "by_kind": ("按类别", "by kind"),
    "by_region": ("按{level}", "by {level}"),
    "by_type": ("按户类型", "by household type"),
    "region": ("区划代码", "region code"),
    "name": ("名称", "name"),
    "type": ("户类型", "household type"),
    "rule_region": ("规则在各{level}的变化", "changes of rules by {level}"),
    "more": ("……另有 {n} 行", "... {n} more rows"),
    "notes": ("说明", "notes"),
    "none": ("无", "none"),
    "unknown_region": ("未知", "unknown"),
    "diff_title": ("政策包差异", "Policy pack differences"),
    "equal": ("两个政策包相同", "the packs are equal"),
    "field": ("字段", "field"),
    "old": ("旧值", "old"),
    "new": ("新值", "new"),
    "status": ("变化", "change"),
    "added": ("新增", "added"),
    "removed": ("删除", "removed"),
    "changed": ("修改", "changed"),
    "pack_fields": ("政策包属性", "pack fields"),
    "parameters": ("参数", "parameters"),
    "rules": ("规则", "rules"),
}
#: Rows of the rule-by-region table shown in the terminal and in Markdown.
_MAX_DETAIL_ROWS: Final = 40


def _lang(lang: str | None) -> int:
    """0 for Chinese, 1 for English (``None``: the ``POVGUARD_LANGUAGE`` setting)."""
    if lang is None:
        from povguard.settings import get_settings

        lang = get_settings().language
    return 1 if lang == "en" else 0


def _t(i: int, key: str, **values: Any) -> str:
    text = _L[key][i]
    return text.format(**values) if values else text


def kind_label(kind: str, lang: str = "zh") -> str:
    """The label of a warning kind (the code itself for a kind without a label)."""
    labels = KIND_LABELS.get(kind)
    return labels[1 if lang == "en" else 0] if labels else kind


def type_label(household_type: str | None, lang: str = "zh") -> str:
    """The label of a household type (``None``: unclassified)."""
    labels = TYPE_LABELS.get(household_type)
    return labels[1 if lang == "en" else 0] if labels else str(household_type)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Count:
    """Distinct households flagged before and after, for one key of a breakdown.

    Attributes
    ----------
    key:
        Region code, household type, rule id or kind (``None``: unknown region or
        unclassified type).
    before, after:
        Households flagged with the base pack / with the modified pack.
    newly, no_longer:
        Households flagged only after / only before.
    name:
        Region name (from the store's ``regions`` table), when known.
    """

    key: str | None
    before: int
    after: int
    newly: int = 0
    no_longer: int = 0
    name: str | None = None

    @property
    def diff(self) -> int:
        """``after - before``."""
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with the difference)."""
        return {
            "key": self.key,
            "name": self.name,
            "before": self.before,
            "after": self.after,
            "diff": self.diff,
            "newly": self.newly,
            "no_longer": self.no_longer,
        }


@dataclass(frozen=True)
class GroupChange:
    """Households flagged by one rule (or with warnings of one kind), with breakdowns.

    Attributes
    ----------
    key:
        Rule id (in ``Simulation.by_rule``) or kind (in ``Simulation.by_kind``).
    kind:
        Kind of the warnings (``needs_verification`` for a rule's "cannot be
        decided" outcome, which is listed apart from its fired outcome).
    title_zh, title_en:
        Rule title or kind label.
    total:
        Distinct households before and after.
    by_region:
        The same per region (sums to ``total``: a household lies in one region).
    by_type:
        The same per household type (a household given two types by two rules of
        one kind counts under both).
    """

    key: str
    kind: str
    title_zh: str
    title_en: str
    total: Count
    by_region: tuple[Count, ...]
    by_type: tuple[Count, ...]

    @property
    def before(self) -> int:
        """Households flagged before."""
        return self.total.before

    @property
    def after(self) -> int:
        """Households flagged after."""
        return self.total.after

    @property
    def diff(self) -> int:
        """``after - before``."""
        return self.total.diff

    def title(self, lang: str = "zh") -> str:
        """The title in ``lang``."""
        return self.title_en if lang == "en" else self.title_zh

    def to_dict(self, id_key: str = "rule_id") -> dict[str, Any]:
        """JSON-ready dict; the key is named ``id_key``."""
        total = self.total.to_dict()
        del total["key"], total["name"]
        out: dict[str, Any] = {id_key: self.key}
        if id_key != "kind":
            out["kind"] = self.kind
        return {
            **out,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            **total,
            "by_region": [c.to_dict() for c in self.by_region],
            "by_type": [c.to_dict() for c in self.by_type],
        }


@dataclass(frozen=True)
class ParameterChange:
    """A parameter whose value in force in the period differs between the packs."""

    name: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"name": self.name, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Simulation:
    """What a modified pack changes in one period's warnings (nothing is written).

    Attributes
    ----------
    period:
        The screened period.
    by:
        Region level of the breakdowns: ``county``, ``township`` or ``village``.
    pack, base:
        ``id@version`` of the modified and the base pack.
    overrides:
        Parameters overridden in the modified pack.
    parameters:
        Parameters whose value in force in the period differs.
    total:
        Distinct households with any warning before and after.
    by_rule:
        Per rule and outcome kind (a rule's "needs verification" outcome is its own entry).
    by_kind:
        Per kind of warning.
    by_region, by_type:
        Distinct households with any warning per region / household type.
    newly_flagged, no_longer_flagged:
        Ids of the households flagged only after / only before (sorted).
    area_prefix:
        Region-code prefix the households were restricted to (``''`` = all).
    notes:
        Things worth knowing (the period lies outside a pack's effective dates...).
    """

    period: str
    by: str
    pack: str
    base: str
    overrides: dict[str, float]
    parameters: tuple[ParameterChange, ...]
    total: Count
    by_rule: tuple[GroupChange, ...]
    by_kind: tuple[GroupChange, ...]
    by_region: tuple[Count, ...]
    by_type: tuple[Count, ...]
    newly_flagged: tuple[str, ...]
    no_longer_flagged: tuple[str, ...]
    area_prefix: str = ""
    notes: tuple[str, ...] = ()

    def rule(self, rule_id: str, kind: str | None = None) -> GroupChange:
        """The entry of ``rule_id`` (its fired outcome unless ``kind`` is given)."""
        found = [g for g in self.by_rule if g.key == rule_id]
        if kind is not None:
            found = [g for g in found if g.kind == kind]
        else:
            found.sort(key=lambda g: g.kind == NEEDS_VERIFICATION)
        if not found:
            raise KeyError(rule_id)
        return found[0]

    def kind(self, kind: str) -> GroupChange:
        """The entry of warnings of ``kind``."""
        for g in self.by_kind:
            if g.key == kind:
                return g
        raise KeyError(kind)

    def to_dict(self, max_ids: int | None = None) -> dict[str, Any]:
        """JSON-ready dict of every figure.

        Parameters
        ----------
        max_ids
            List at most this many household ids per list (the counts stay
            complete and ``truncated`` says whether ids were left out); all when None.
        """

        def ids(values: tuple[str, ...]) -> dict[str, Any]:
            shown = list(values if max_ids is None else values[:max_ids])
            return {"count": len(values), "ids": shown, "truncated": len(shown) < len(values)}

        total = self.total.to_dict()
        del total["key"], total["name"]
        return {
            "period": self.period,
            "by": self.by,
            "pack": self.pack,
            "base": self.base,
            "area_prefix": self.area_prefix,
            "overrides": dict(self.overrides),
            "parameters": [p.to_dict() for p in self.parameters],
            "households": total,
            "newly_flagged": ids(self.newly_flagged),
            "no_longer_flagged": ids(self.no_longer_flagged),
            "by_rule": [g.to_dict("rule_id") for g in self.by_rule],
            "by_kind": [g.to_dict("kind") for g in self.by_kind],
            "by_region": [c.to_dict() for c in self.by_region],
            "by_type": [c.to_dict() for c in self.by_type],
            "notes": list(self.notes),
        }

    def to_rich(self, lang: str | None = None) -> RenderableType:
        """Rich tables: summary, by rule, by kind, by region, by type, rule x region.

        Parameters
        ----------
        lang
            ``zh`` or ``en``; the ``POVGUARD_LANGUAGE`` setting when None.
        """
        return _simulation_rich(self, _lang(lang))

    def to_markdown(self, lang: str | None = None) -> str:
        """The same report as Markdown (``lang`` as for :meth:`to_rich`)."""
        return _simulation_markdown(self, _lang(lang))


# --------------------------------------------------------------------------- simulate

#: (rule_id, kind) -> household id -> household types given by that rule
_Index = dict[tuple[str, str], dict[str, set[str | None]]]


def _index(table: pa.Table) -> _Index:
    out: _Index = {}
    cols = [table.column(c).to_pylist() for c in ("household_id", "rule_id", "kind")]
    types = table.column("household_type").to_pylist()
    for household, rule_id, kind, htype in zip(*cols, types, strict=True):
        out.setdefault((rule_id, kind), {}).setdefault(household, set()).add(htype)
    return out


def _merge(groups: Iterable[dict[str, set[str | None]]]) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for g in groups:
        for household, types in g.items():
            out.setdefault(household, set()).update(types)
    return out


def _region_key(code: Any, width: int) -> str | None:
    return str(code)[:width] if code else None


def _sort_key(key: str | None, order: tuple[str, ...] = ()) -> tuple[int, int, str]:
    if key is None:
        return (2, 0, "")
    if key in order:
        return (0, order.index(key), key)
    return (1, 0, key)


def _counts(
    before: Mapping[str, Iterable[str | None]],
    after: Mapping[str, Iterable[str | None]],
    order: tuple[str, ...] = (),
    names: Mapping[str, str] | None = None,
) -> tuple[Count, ...]:
    """Per key: households whose key set contains it, before and after."""
    inv_b: dict[str | None, set[str]] = {}
    inv_a: dict[str | None, set[str]] = {}
    for src, inv in ((before, inv_b), (after, inv_a)):
        for household, keys in src.items():
            for k in keys:
                inv.setdefault(k, set()).add(household)
    out = []
    for k in sorted(set(inv_b) | set(inv_a), key=lambda k: _sort_key(k, order)):
        b, a = inv_b.get(k, set()), inv_a.get(k, set())
        name = names.get(k) if names is not None and k is not None else None
        out.append(Count(k, len(b), len(a), len(a - b), len(b - a), name))
    return tuple(out)


def _group(
    key: str,
    kind: str,
    titles: tuple[str, str],
    before: dict[str, set[str | None]],
    after: dict[str, set[str | None]],
    region_of: Callable[[str], str | None],
    names: Mapping[str, str],
) -> GroupChange:
    b, a = set(before), set(after)
    total = Count(key, len(b), len(a), len(a - b), len(b - a))
    regions_b = {h: (region_of(h),) for h in b}
    regions_a = {h: (region_of(h),) for h in a}
    return GroupChange(
        key=key,
        kind=kind,
        title_zh=titles[0],
        title_en=titles[1],
        total=total,
        by_region=_counts(regions_b, regions_a, names=names),
        by_type=_counts(before, after, _TYPE_ORDER),
    )


def _villages(engine: Engine, period: str, households: set[str]) -> dict[str, str | None]:
    """Village code of each of ``households`` in the period (a bounded fetch)."""
    if not households:
        return {}
    ind = engine.table("indicators")
    wanted = ibis.memtable(pa.table({"household_id": pa.array(sorted(households), pa.string())}))
    expr = (
        ind.filter(ind.period == period)
        .select("household_id", "village_code")
        .inner_join(wanted, "household_id")
        .select("household_id", "village_code")
    )
    rows = engine.fetch(expr)
    return dict(
        zip(rows["household_id"].to_pylist(), rows["village_code"].to_pylist(), strict=True)
    )


def _region_names(engine: Engine, keys: Iterable[str | None]) -> dict[str, str]:
    """Names of region-code prefixes from the store's ``regions`` table (if any)."""
    padded = {k.ljust(12, "0"): k for k in keys if k}
    if not padded or not engine.exists("regions"):
        return {}
    regions = engine.table("regions")
    if not {"region_code", "name"} <= set(regions.columns):
        return {}
    rows = engine.fetch(
        regions.filter(regions.region_code.isin(sorted(padded))).select("region_code", "name")
    )
    return {
        padded[code]: str(name)
        for code, name in zip(
            rows["region_code"].to_pylist(), rows["name"].to_pylist(), strict=True
        )
        if name
    }


def _check_period(engine: Engine, period: str) -> None:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ConfigError(f"period must be YYYY-MM, got {period!r}")
    if not engine.exists("indicators"):
        raise NotFoundError(
            f"no indicators for period {period}: the analytics store has no indicators table "
            "(run povguard cycle first)"
        )
    ind = engine.table("indicators")
    if engine.count(ind.filter(ind.period == period)) == 0:
        raise NotFoundError(
            f"no indicators for period {period} in the analytics store "
            f"(run povguard cycle --period {period} first)"
        )


Policy = PolicyPack | PackLibrary


def _packs(policy: Policy, period: str) -> list[PolicyPack]:
    """The packs that screen ``period``: the library's packs in force, or the one pack."""
    return policy.in_force(period) if isinstance(policy, PackLibrary) else [policy]


def _ref(policy: Policy, period: str) -> str:
    return ", ".join(p.ref for p in _packs(policy, period))


def _effective_note(pack: Policy, period: str, role: str) -> str | None:
    if isinstance(pack, PackLibrary):
        return None  # a library screens with the packs in force
    first = date(int(period[:4]), int(period[5:7]), 1)
    start, end = pack.effective_from, pack.effective_to
    if first < start.replace(day=1) or (end is not None and first > end):
        until = end.isoformat() if end else "…"
        return (
            f"{role} pack {pack.id}@{pack.version} is effective {start.isoformat()}..{until}, "
            f"not in {period}"
        )
    return None


def _param_changes(base: Policy, new: Policy, period: str) -> tuple[ParameterChange, ...]:
    out: dict[str, ParameterChange] = {}
    for bp, np_ in zip(_packs(base, period), _packs(new, period), strict=False):
        b, a = bp.params_for(period), np_.params_for(period)
        for name in sorted(set(bp.parameters) | set(np_.parameters)):
            if b.get(name) != a.get(name):
                out.setdefault(name, ParameterChange(name, b.get(name), a.get(name)))
    return tuple(out[k] for k in sorted(out))


def _titles(packs: Iterable[PolicyPack]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for p in packs:
        for r in p.rules:
            out.setdefault(r.id, (r.title_zh, r.title_en))
    out.setdefault(NEEDS_VERIFICATION, KIND_LABELS[NEEDS_VERIFICATION])
    return out


def _rule_order(packs: Iterable[PolicyPack]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for p in packs:
        for r in p.rules:
            seen.setdefault(r.id, None)
    seen.setdefault(NEEDS_VERIFICATION, None)
    return tuple(seen)


def _check_overrides(overrides: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"parameter {name}: value must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"parameter {name}: value must be a finite number, got {value!r}")
        out[name] = float(value)
    return out


def simulate(
    engine: Engine,
    period: str,
    pack: Policy,
    overrides: Mapping[str, float],
    *,
    base: Policy | None = None,
    by: str = "township",
    area_prefix: str = "",
) -> Simulation:
    """Screen ``period`` with a base pack and with a modified pack, and compare.

    Nothing is written: both screens run with ``store=False`` and only bounded
    results (the flagged households, their village codes, region names) leave
    the engine.

    Parameters
    ----------
    engine
        The analytics store (table ``indicators`` must hold the period).
    period
        ``YYYY-MM``.
    pack
        The pack to modify.
    overrides
        Parameter values replacing the pack's (a per-year parameter gets the value
        in every year), e.g. ``{"monitoring_line": 7500}``.
    base
        The pack to compare with (default: ``pack`` without the overrides).
    by
        Region level of the breakdowns: ``county`` (code[:6]), ``township`` ([:9])
        or ``village`` (the full code).
    area_prefix
        Only count households whose village code starts with this prefix (the
        caller's area; ``''`` = all).

    Returns
    -------
    Simulation
        Counts per rule (every rule of both packs, and the outcomes "needs
        verification"), kind, region and household type; the households newly
        and no longer flagged. A household counts as flagged when the screen
        gives it any warning.

    Raises
    ------
    ConfigError
        For an unknown parameter, a value that is not a finite number, a bad
        period or a bad ``by``.
    povguard.errors.NotFoundError
        When the store holds no indicators for the period.
    """
    if by not in REGION_LEVELS:
        raise ConfigError(f"by must be one of {', '.join(REGION_LEVELS)}, got {by!r}")
    values = _check_overrides(overrides)
    modified = pack.with_overrides(values)
    base = pack if base is None else base
    _check_period(engine, period)

    before_table = screen_period(engine, period, base, store=False)
    after_table = (
        before_table if modified == base else screen_period(engine, period, modified, store=False)
    )
    before, after = _index(before_table), _index(after_table)

    every = set(before_table.column("household_id").to_pylist())
    every |= set(after_table.column("household_id").to_pylist())
    villages = _villages(engine, period, every)
    if area_prefix:
        inside = {h for h in every if (villages.get(h) or "").startswith(area_prefix)}
        if inside != every:
            before = {k: {h: t for h, t in v.items() if h in inside} for k, v in before.items()}
            after = {k: {h: t for h, t in v.items() if h in inside} for k, v in after.items()}
            before = {k: v for k, v in before.items() if v}
            after = {k: v for k, v in after.items() if v}
    width = REGION_LEVELS[by]

    def region_of(household: str) -> str | None:
        return _region_key(villages.get(household), width)

    # every rule of both packs is listed, also when it flags nobody
    keys_all = (
        set(before)
        | set(after)
        | {(r.id, r.kind) for x in (modified, base) for p in _packs(x, period) for r in p.rules}
    )
    all_before, all_after = _merge(before.values()), _merge(after.values())
    names = _region_names(engine, {region_of(h) for h in set(all_before) | set(all_after)})
    in_force = [*_packs(modified, period), *_packs(base, period)]
    titles = _titles(in_force)
    order = _rule_order(in_force)

    def rule_sort(k: tuple[str, str]) -> tuple[int, int, int]:
        rule_id, kind = k
        pos = order.index(rule_id) if rule_id in order else len(order)
        return (pos, kind == NEEDS_VERIFICATION, _sort_key(kind, _KIND_ORDER)[1])

    by_rule = tuple(
        _group(
            rule_id,
            kind,
            titles.get(rule_id, (rule_id, rule_id)),
            before.get((rule_id, kind), {}),
            after.get((rule_id, kind), {}),
            region_of,
            names,
        )
        for rule_id, kind in sorted(keys_all, key=rule_sort)
    )
    kinds = sorted({k for _, k in keys_all}, key=lambda k: _sort_key(k, _KIND_ORDER))
    by_kind = tuple(
        _group(
            kind,
            kind,
            KIND_LABELS.get(kind, (kind, kind)),
            _merge(v for (_, k), v in before.items() if k == kind),
            _merge(v for (_, k), v in after.items() if k == kind),
            region_of,
            names,
        )
        for kind in kinds
    )
    overall = _group("all", "all", ("全部", "all"), all_before, all_after, region_of, names)
    notes = [
        n
        for n in (
            _effective_note(modified, period, "simulated"),
            None if base is pack else _effective_note(base, period, "base"),
        )
        if n
    ]
    if area_prefix:
        notes.append(f"households restricted to region-code prefix {area_prefix}")
    return Simulation(
        period=period,
        by=by,
        pack=_ref(modified, period),
        base=_ref(base, period),
        overrides=values,
        parameters=_param_changes(base, modified, period),
        total=Count(
            None, overall.before, overall.after, overall.total.newly, overall.total.no_longer
        ),
        by_rule=by_rule,
        by_kind=by_kind,
        by_region=overall.by_region,
        by_type=overall.by_type,
        newly_flagged=tuple(sorted(set(all_after) - set(all_before))),
        no_longer_flagged=tuple(sorted(set(all_before) - set(all_after))),
        area_prefix=area_prefix,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- rendering


def _fmt_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    return str(value)


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _region_label(c: Count, i: int) -> tuple[str, str]:
    return (c.key or _t(i, "unknown_region"), escape(c.name or ""))


def _simulation_rows(sim: Simulation, i: int) -> list[tuple[str, str]]:
    overrides = ", ".join(f"{k}={_fmt_value(v)}" for k, v in sim.overrides.items())
    rows = [
        (_t(i, "period"), sim.period),
        (_t(i, "pack"), sim.pack),
        (_t(i, "base"), sim.base),
        (_t(i, "overrides"), overrides or _t(i, "none")),
    ]
    rows += [
        (f"{_t(i, 'parameter')} {p.name}", f"{_fmt_value(p.before)} -> {_fmt_value(p.after)}")
        for p in sim.parameters
    ]
    t = sim.total
    rows += [
        (_t(i, "households"), f"{t.before:,} -> {t.after:,} ({_signed(t.diff)})"),
        (_t(i, "newly"), _ids(sim.newly_flagged)),
        (_t(i, "no_longer"), _ids(sim.no_longer_flagged)),
    ]
    rows += [(_t(i, "notes"), n) for n in sim.notes]
    return rows


def _ids(ids: tuple[str, ...], shown: int = 10) -> str:
    if not ids:
        return "0"
    head = ", ".join(ids[:shown])
    return f"{len(ids):,}: {head}" + (", …" if len(ids) > shown else "")


def _detail_rows(sim: Simulation) -> list[tuple[GroupChange, Count]]:
    return [(g, c) for g in sim.by_rule if g.diff or g.total.newly for c in g.by_region if c.diff]


def _simulation_rich(sim: Simulation, i: int) -> RenderableType:
    lang = "en" if i else "zh"
    level = _LEVEL_LABELS[sim.by][i]
    summary = Table(title=f"{_t(i, 'title')} {sim.period}")
    summary.add_column(_t(i, "item"))
    summary.add_column(_t(i, "value"), overflow="fold")
    for label, value in _simulation_rows(sim, i):
        summary.add_row(escape(label), escape(value))

    nums = ("before", "after", "diff", "newly", "no_longer")

    def add_nums(table: Table) -> None:
        for n in nums:
            table.add_column(_t(i, n), justify="right")

    def num_cells(c: Count) -> list[str]:
        return [
            f"{c.before:,}",
            f"{c.after:,}",
            _signed(c.diff),
            f"{c.newly:,}",
            f"{c.no_longer:,}",
        ]

    rules = Table(title=_t(i, "by_rule"))
    rules.add_column(_t(i, "rule"))
    rules.add_column(_t(i, "kind"))
    rules.add_column(_t(i, "title_col"), overflow="fold")
    add_nums(rules)
    for g in sim.by_rule:
        style = "bold" if g.diff or g.total.newly else None
        rules.add_row(
            g.key, kind_label(g.kind, lang), escape(g.title(lang)), *num_cells(g.total), style=style
        )

    kinds = Table(title=_t(i, "by_kind"))
    kinds.add_column(_t(i, "kind"))
    add_nums(kinds)
    for g in sim.by_kind:
        kinds.add_row(escape(g.title(lang)), *num_cells(g.total))

    regions = Table(title=_t(i, "by_region", level=level))
    regions.add_column(_t(i, "region"))
    regions.add_column(_t(i, "name"))
    add_nums(regions)
    for c in sim.by_region:
        regions.add_row(*_region_label(c, i), *num_cells(c))

    types = Table(title=_t(i, "by_type"))
    types.add_column(_t(i, "type"))
    add_nums(types)
    for c in sim.by_type:
        types.add_row(type_label(c.key, lang), *num_cells(c))

    parts: list[RenderableType] = [summary, rules, kinds, regions, types]
    detail = _detail_rows(sim)
    if detail:
        table = Table(title=_t(i, "rule_region", level=level))
        table.add_column(_t(i, "rule"))
        table.add_column(_t(i, "region"))
        table.add_column(_t(i, "name"))
        add_nums(table)
        for g, c in detail[:_MAX_DETAIL_ROWS]:
            table.add_row(g.key, *_region_label(c, i), *num_cells(c))
        if len(detail) > _MAX_DETAIL_ROWS:
            table.caption = _t(i, "more", n=len(detail) - _MAX_DETAIL_ROWS)
        parts.append(table)
    return Group(*parts)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _simulation_markdown(sim: Simulation, i: int) -> str:
    lang = "en" if i else "zh"
    level = _LEVEL_LABELS[sim.by][i]
    nums = [_t(i, n) for n in ("before", "after", "diff", "newly", "no_longer")]

    def num_cells(c: Count) -> str:
        return f"{c.before:,} | {c.after:,} | {_signed(c.diff)} | {c.newly:,} | {c.no_longer:,}"

    def header(cols: list[str], numeric: int) -> list[str]:
        return [
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * (len(cols) - numeric) + "---:|" * numeric,
        ]

    lines = [f"# {_t(i, 'title')} {sim.period}", ""]
    lines += [f"- {label}: {_md_escape(value)}" for label, value in _simulation_rows(sim, i)]
    lines += ["", f"## {_t(i, 'by_rule')}", ""]
    lines += header([_t(i, "rule"), _t(i, "kind"), _t(i, "title_col"), *nums], 5)
    lines += [
        f"| `{g.key}` | {kind_label(g.kind, lang)} | {_md_escape(g.title(lang))} "
        f"| {num_cells(g.total)} |"
        for g in sim.by_rule
    ]
    lines += ["", f"## {_t(i, 'by_kind')}", ""]
    lines += header([_t(i, "kind"), *nums], 5)
    lines += [f"| {g.title(lang)} | {num_cells(g.total)} |" for g in sim.by_kind]
    lines += ["", f"## {_t(i, 'by_region', level=level)}", ""]
    lines += header([_t(i, "region"), _t(i, "name"), *nums], 5)
    for c in sim.by_region:
        code, name = _region_label(c, i)
        lines.append(f"| {code} | {_md_escape(name)} | {num_cells(c)} |")
    lines += ["", f"## {_t(i, 'by_type')}", ""]
    lines += header([_t(i, "type"), *nums], 5)
    lines += [f"| {type_label(c.key, lang)} | {num_cells(c)} |" for c in sim.by_type]
    detail = _detail_rows(sim)
    if detail:
        lines += ["", f"## {_t(i, 'rule_region', level=level)}", ""]
        lines += header([_t(i, "rule"), _t(i, "region"), _t(i, "name"), *nums], 5)
        for g, c in detail[:_MAX_DETAIL_ROWS]:
            code, name = _region_label(c, i)
            lines.append(f"| `{g.key}` | {code} | {_md_escape(name)} | {num_cells(c)} |")
        if len(detail) > _MAX_DETAIL_ROWS:
            lines += ["", _t(i, "more", n=len(detail) - _MAX_DETAIL_ROWS)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pack diff


@dataclass(frozen=True)
class FieldChange:
    """A field whose value differs (``None`` on the side that lacks it)."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"field": self.field, "old": _jsonable(self.old), "new": _jsonable(self.new)}


@dataclass(frozen=True)
class ParameterDiff:
    """A parameter added, removed or changed.

    ``years`` lists ``(year, old, new)`` for the years that differ when both
    sides give values per year.
    """

    name: str
    status: Literal["added", "removed", "changed"]
    old: Any
    new: Any
    years: tuple[tuple[int, float | None, float | None], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "status": self.status,
            "old": _jsonable(self.old),
            "new": _jsonable(self.new),
            "years": [{"year": y, "old": o, "new": n} for y, o, n in self.years],
        }

    def describe(self) -> str:
        """``old -> new``, per year when the parameter has values per year."""
        if self.years:
            return "; ".join(f"{y}: {_fmt_value(o)} -> {_fmt_value(n)}" for y, o, n in self.years)
        return f"{_fmt_param(self.old)} -> {_fmt_param(self.new)}"


@dataclass(frozen=True)
class RuleDiff:
    """A rule added, removed or changed (``fields``: what changed)."""

    rule_id: str
    status: Literal["added", "removed", "changed"]
    fields: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "rule_id": self.rule_id,
            "status": self.status,
            "fields": [f.to_dict() for f in self.fields],
        }


@dataclass(frozen=True)
class PackDiff:
    """Differences between two packs ``a`` (old) and ``b`` (new)."""

    a: str
    b: str
    pack: tuple[FieldChange, ...] = ()
    parameters: tuple[ParameterDiff, ...] = ()
    rules: tuple[RuleDiff, ...] = ()

    @property
    def equal(self) -> bool:
        """Whether the packs do not differ at all."""
        return not (self.pack or self.parameters or self.rules)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "equal": self.equal,
            "pack": [f.to_dict() for f in self.pack],
            "parameters": [p.to_dict() for p in self.parameters],
            "rules": [r.to_dict() for r in self.rules],
        }

    def to_rich(self, lang: str | None = None) -> RenderableType:
        """Rich tables of the differences (``lang`` as for :meth:`Simulation.to_rich`)."""
        i = _lang(lang)
        title = f"{_t(i, 'diff_title')}: {self.a} -> {self.b}"
        if self.equal:
            return Text(f"{title}: {_t(i, 'equal')}")
        parts: list[RenderableType] = [title]
        if self.pack:
            t = Table(title=_t(i, "pack_fields"))
            for col in ("field", "old", "new"):
                t.add_column(_t(i, col), overflow="fold")
            for f in self.pack:
                t.add_row(f.field, _fmt_field(f.old), _fmt_field(f.new))
            parts.append(t)
        if self.parameters:
            t = Table(title=_t(i, "parameters"))
            for col in ("parameter", "status", "value"):
                t.add_column(_t(i, col), overflow="fold")
            for p in self.parameters:
                t.add_row(p.name, _t(i, p.status), p.describe())
            parts.append(t)
        if self.rules:
            t = Table(title=_t(i, "rules"))
            for col in ("rule", "status", "field", "old", "new"):
                t.add_column(_t(i, col), overflow="fold")
            for r in self.rules:
                if not r.fields:
                    t.add_row(r.rule_id, _t(i, r.status), "", "", "")
                for n, f in enumerate(r.fields):
                    first = n == 0
                    t.add_row(
                        r.rule_id if first else "",
                        _t(i, r.status) if first else "",
                        f.field,
                        _fmt_field(f.old),
                        _fmt_field(f.new),
                    )
            parts.append(t)
        return Group(*parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _fmt_param(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{y}: {_fmt_value(v)}" for y, v in sorted(value.items())) + "}"
    return _fmt_value(value)


def _fmt_field(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return escape(", ".join(str(v) for v in value) or "[]")
    if isinstance(value, date):
        return value.isoformat()
    return escape(" ".join(str(value).split()))


def _param_diff(name: str, old: Any, new: Any) -> ParameterDiff | None:
    if old is None:
        return ParameterDiff(name, "added", None, new)
    if new is None:
        return ParameterDiff(name, "removed", old, None)
    if old == new:
        return None
    years: tuple[tuple[int, float | None, float | None], ...] = ()
    if isinstance(old, dict) and isinstance(new, dict):
        years = tuple(
            (y, old.get(y), new.get(y))
            for y in sorted(set(old) | set(new))
            if old.get(y) != new.get(y)
        )
    return ParameterDiff(name, "changed", old, new, years)


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    keys = list(dict.fromkeys([*old, *new]))
    return tuple(FieldChange(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k))


def diff_packs(a: PolicyPack, b: PolicyPack) -> PackDiff:
    """What changed from pack ``a`` to pack ``b``.

    Returns
    -------
    PackDiff
        Pack fields (id, version, dates, region...), parameters added, removed or
        changed (old -> new per year) and rules and risk triggers (``trigger:<id>``)
        added, removed or changed (with the fields that changed: condition,
        severity, reasons...).
    """
    da, db = a.model_dump(), b.model_dump()
    pa_, pb = da.pop("parameters"), db.pop("parameters")
    ra = {r["id"]: r for r in da.pop("rules")}
    rb = {r["id"]: r for r in db.pop("rules")}
    ra |= {f"trigger:{t['id']}": t for t in da.pop("triggers")}
    rb |= {f"trigger:{t['id']}": t for t in db.pop("triggers")}
    params = tuple(
        d
        for name in dict.fromkeys([*pa_, *pb])
        if (d := _param_diff(name, pa_.get(name), pb.get(name))) is not None
    )
    rules: list[RuleDiff] = []
    for rule_id in dict.fromkeys([*ra, *rb]):
        if rule_id not in rb:
            rules.append(RuleDiff(rule_id, "removed"))
        elif rule_id not in ra:
            rules.append(RuleDiff(rule_id, "added"))
        elif changes := _field_changes(ra[rule_id], rb[rule_id]):
            rules.append(RuleDiff(rule_id, "changed", changes))
    return PackDiff(
        a=f"{a.id}@{a.version}",
        b=f"{b.id}@{b.version}",
        pack=_field_changes(da, db),
        parameters=params,
        rules=tuple(rules),
    )


__all__ = [
    "KIND_LABELS",
    "MAX_IDS_LISTED",
    "NEEDS_VERIFICATION",
    "REGION_LEVELS",
    "TYPE_LABELS",
    "Count",
    "FieldChange",
    "GroupChange",
    "PackDiff",
    "ParameterChange",
    "ParameterDiff",
    "RuleDiff",
    "Simulation",
    "diff_packs",
    "kind_label",
    "simulate",
    "type_label",
]
