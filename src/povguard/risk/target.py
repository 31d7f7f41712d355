"""The label: does a household *enter* at-risk status within the next ``h`` months?

A household is at risk in a month when the active policy pack's screen gives it a
warning of kind ``risk`` (the income test with a trigger, rigid-expenditure hardship,
...). ``y_h`` of ``(household, t)`` is 1 when it has no risk warning at ``t`` and has
one in some month of ``(t, t+h]``; 0 when it has none in those months; NULL when the
future is not observed (``t + h`` after the last screened month) or the household is
already at risk at ``t`` (it cannot enter; ``risk_now`` tells which).

The per-period risk flags come from one screen of every period (:func:`risk_flags`):
the stored ``warnings`` of the period when they were written by the same pack, else
a screen with ``store=False``; only the flagged households (a bounded result) come
back to Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from povguard.engine import Engine
from povguard.policy import PackLibrary, PolicyPack, screen_period
from povguard.policy.screen import PREDICTION_KIND
from povguard.risk.features import month_number

RISK_FLAG_SCHEMA = pa.schema([("period", pa.string()), ("household_id", pa.string())])


def _refs(pack: PolicyPack | PackLibrary, period: str) -> set[str]:
    packs = pack.in_force(period) if isinstance(pack, PackLibrary) else [pack]
    return {p.ref for p in packs}


def risk_flags(
    engine: Engine,
    pack: PolicyPack | PackLibrary,
    periods: Sequence[str] | None = None,
    *,
    use_stored: bool = True,
) -> pa.Table:
    """The households with a ``risk`` warning, per period (``period``, ``household_id``).

    Parameters
    ----------
    engine:
        The analytics store with table ``indicators``.
    pack:
        The policy pack (or library) whose screen defines "at risk".
    periods:
        Periods to screen (default: every period of the indicators).
    use_stored:
        Reuse the stored ``warnings`` of a period written by the same pack version
        (the cycle's own screen) instead of screening it again.
    """
    ind = engine.table("indicators")
    if periods is None:
        periods = sorted(engine.fetch(ind.select("period").distinct())["period"].to_pylist())
    stored: dict[str, set[str]] = {}
    if use_stored and engine.exists("warnings"):
        w = engine.table("warnings")
        w = w.filter(w.kind != PREDICTION_KIND)  # the risk model's warnings: not the screen's
        versions = w.group_by("period", "rule_version").aggregate(n=w.count())
        for r in engine.fetch(versions).to_pylist():
            stored.setdefault(r["period"], set()).add(r["rule_version"])
    parts: list[pa.Table] = []
    for p in periods:
        if p in stored and stored[p] <= _refs(pack, p):
            w = engine.table("warnings")
            flagged = w.filter((w.period == p) & (w.kind == "risk"))
            part = engine.fetch(flagged.select("period", "household_id").distinct())
        else:
            screened = screen_period(engine, p, pack, store=False)
            risky = screened.filter(pc.equal(screened["kind"], "risk"))
            part = (
                risky.select(["period", "household_id"])
                .group_by(["period", "household_id"])
                .aggregate([])
            )
        parts.append(part.select(["period", "household_id"]).cast(RISK_FLAG_SCHEMA))
    if not parts:
        return RISK_FLAG_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def labels_from_flags(
    panel: Any, flags: Any, horizons: Sequence[int] = (3, 6), last_period: str | None = None
) -> Any:
    """Labels of every ``(household_id, period)`` of ``panel`` from risk ``flags``.

    Parameters
    ----------
    panel:
        Ibis table with ``household_id`` and ``period`` (the household-months to label).
    flags:
        Ibis table (``period``, ``household_id``) of the households at risk per period.
    horizons:
        Months ahead; one ``y_<h>`` column each.
    last_period:
        The last observed (screened) period; default the panel's last period.

    Returns
    -------
    ibis.Table
        ``household_id``, ``period``, ``risk_now`` and ``y_<h>`` per horizon.
    """
    f = flags.select(f_household=flags.household_id, f_period=flags.period, f_risk=ibis.literal(1))
    f = f.distinct()
    base = panel.select("household_id", "period")
    j = base.left_join(f, (base.household_id == f.f_household) & (base.period == f.f_period))
    j = j.select("household_id", "period", risk=j.f_risk.fill_null(0).cast("int64"))
    j = j.mutate(t=month_number(j.period))
    last = month_number(ibis.literal(last_period)) if last_period is not None else j.t.max().over()
    # a household that leaves the panel (moved away, dissolved) before t + h: unknown
    seen = j.t.max().over(ibis.window(group_by="household_id"))
    cols: dict[str, Any] = {}
    for h in horizons:
        w = ibis.window(group_by="household_id", order_by="t", range=(1, h))
        ahead = j.risk.max().over(w).fill_null(0)
        known = (j.t + h <= last) & (j.t + h <= seen) & (j.risk == 0)
        cols[f"y_{h}"] = ibis.ifelse(known, ahead, ibis.null("int64"))
    j = j.mutate(**cols)
    return j.select("household_id", "period", risk_now=j.risk == 1, **{c: c for c in cols})


def build_labels(
    engine: Engine,
    pack: PolicyPack | PackLibrary,
    horizons: Sequence[int] = (3, 6),
    *,
    periods: Sequence[str] | None = None,
    use_stored: bool = True,
    flags: pa.Table | None = None,
) -> Any:
    """Labels ``y_<h>`` of every household-month of the indicators (an Ibis table).

    Parameters
    ----------
    engine:
        The analytics store with table ``indicators``.
    pack:
        The policy pack or library whose screen defines "at risk".
    horizons:
        Months ahead; one ``y_<h>`` column each (1: enters at risk within ``h``
        months; 0: does not; NULL: future not observed, or already at risk).
    periods:
        Screen and label only these periods (default: all of the indicators).
    use_stored:
        See :func:`risk_flags`.
    flags:
        The risk flags of :func:`risk_flags` when already computed (not screened again).

    Returns
    -------
    ibis.Table
        ``household_id``, ``period``, ``risk_now``, ``y_<h>``.
    """
    if not horizons or any(h < 1 for h in horizons):
        raise ValueError(f"horizons must be positive months, got {tuple(horizons)}")
    ind = engine.table("indicators")
    if periods is None:
        periods = sorted(engine.fetch(ind.select("period").distinct())["period"].to_pylist())
    else:
        periods = sorted(periods)
        ind = ind.filter(ind.period.isin(list(periods)))
    if flags is None:
        flags = risk_flags(engine, pack, periods, use_stored=use_stored)
    return labels_from_flags(
        ind, ibis.memtable(flags), horizons, last_period=periods[-1] if periods else None
    )
