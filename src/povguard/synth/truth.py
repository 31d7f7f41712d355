"""Ground truth per household and month, computed from the twin's true state.

Definitions (the twin's, documented in docs/synth-parameters.md; the policy
engine reads policy packs and may differ):

* ``income_pc_12m``: net income of the last 12 months (wages, net production,
  property, transfers) divided by the current resident members.
* ``rigid_12m``: medical out-of-pocket + schooling + rehabilitation spending of
  the last 12 months.
* ``below_line``: ``income_pc_12m`` below the year's monitoring line.
* ``sudden_hardship``: not below the line, but income after rigid spending per
  person is below it, or a sharp income drop (last 3 months under
  ``income_drop_share`` of the usual level) together with a shock.
* ``rigid_hardship``: the rigid-spending part of ``sudden_hardship``.
* ``status``: ``unstable_former_poor`` (former-poor and below the line), ``edge``
  (never registered and below the line), ``sudden_hardship``, or ``none``.
* ``ineligible``: a former-poor registrant whose members or non-resident children
  own a car, commercial housing or a business, or work as public employees.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from povguard.synth.dynamics import MonthOutput, Simulator
from povguard.synth.population import CAUSES

STATUSES: tuple[str, ...] = ("none", "unstable_former_poor", "edge", "sudden_hardship")
_RINGS = ("wage", "production", "property", "transfer", "medical_oop", "education", "rehab")


class Rings:
    """Last-12-months ring buffers of household income and spending components."""

    def __init__(self, households: int) -> None:
        self.data = {k: np.zeros((households, 12), np.float32) for k in _RINGS}

    def push(self, m: int, out: MonthOutput) -> None:
        """Store month ``m``'s components."""
        for k in _RINGS:
            self.data[k][:, m % 12] = getattr(out, k)

    def total(self, k: str) -> np.ndarray:
        """12-month sum of component ``k``."""
        total: np.ndarray = self.data[k].sum(axis=1, dtype=np.float64)
        return total

    def income_months(self, m: int, months: list[int]) -> np.ndarray:
        """Net income summed over the given months back (0 = month m)."""
        cols = [(m - back) % 12 for back in months]
        return sum(
            (self.data[k][:, cols].sum(axis=1, dtype=np.float64) for k in _RINGS[:4]),
            start=np.zeros(self.data["wage"].shape[0]),
        )


class TruthTracker:
    """Computes the household-month truth and remembers the previous status."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.rings = Rings(sim.pop.households.n)
        self.prev_status = np.zeros(sim.pop.households.n, np.int8)
        self.last_at_risk = np.full(sim.pop.households.n, -999, np.int32)

    def update(self, out: MonthOutput, year: int) -> pa.Table:
        """Book ``out`` and return the truth table of that month."""
        sim, m = self.sim, out.month
        p, h, prm = sim.pop.persons, sim.pop.households, sim.params
        self.rings.push(m, out)
        n = p.n
        alive = p.status[:n] == 0
        hh_of = p.hh[:n]
        age = (out.first_day - p.birth[:n]) / 365.25
        members = np.bincount(hh_of, weights=alive, minlength=h.n)
        comp = {k: self.rings.total(k) for k in _RINGS}
        income = comp["wage"] + comp["production"] + comp["property"] + comp["transfer"]
        safe_members = np.maximum(members, 1)
        pc = income / safe_members
        sim.income_pc_12m = pc.astype(np.float32)
        rigid = comp["medical_oop"] + comp["education"] + comp["rehab"]
        line = prm.line_for(year)
        tp = prm.truth

        def any_member(mask: np.ndarray) -> np.ndarray:
            return np.bincount(hh_of, weights=alive & mask, minlength=h.n) > 0

        school_age = (age >= 6) & (age < 16)
        exempt = (p.disab[:n] > 0) & (p.disab[:n] <= 2)
        education_ok = ~any_member(school_age & (p.school[:n] != 1) & ~exempt)
        medical_ok = ~any_member(~p.insured[:n])
        housing_ok = h.house <= 1
        # the standard applies to whole litres, minutes and days, as inspections record them
        water_ok = (
            (np.round(h.water_qty) >= 35)
            & h.water_quality
            & (h.water_piped | (np.round(h.water_minutes) <= 20))
            & (np.round(h.water_short_days) <= 36)
        )
        below = pc < line
        food_ok = ~((pc < 0.5 * line) & ~(h.dibao | h.tekun))
        usual = self.rings.income_months(m, list(range(3, 12))) / 9
        recent = self.rings.income_months(m, [0, 1, 2]) / 3
        income_drop = (usual > 0) & (recent < tp.income_drop_share * usual)
        medical_burden = comp["medical_oop"] > tp.medical_burden_share * np.maximum(income, 1)
        education_burden = comp["education"] > tp.education_burden
        shock = sim.ledger.sum(axis=1) > 0.1 * np.maximum(income, 1)
        heavy_rigid = (rigid > tp.hardship_rigid_share * np.maximum(income, 1)) & (
            (income - rigid) / safe_members < line
        )
        # a sharp drop counts when the current income rate is far below the line
        collapse = income_drop & shock & (recent * 4 / safe_members < tp.collapse_share * line)
        hardship = ~below & (heavy_rigid | collapse)
        status = np.where(below, np.where(h.former_poor, 1, 2), np.where(hardship, 3, 0)).astype(
            np.int8
        )
        present = members > 0
        status[~present] = 0
        at_risk = status > 0
        onset = at_risk & (m - self.last_at_risk > tp.onset_gap_months)
        self.last_at_risk[at_risk] = m
        self.prev_status = status

        able = (
            alive
            & (age >= 16)
            & (age < 65)
            & (p.school[:n] != 1)
            & ((p.disab[:n] == 0) | (p.disab[:n] > 2))
            & (p.serious[:n] == 0)
        )
        no_labour = np.bincount(hh_of, weights=able, minlength=h.n) == 0

        # causes: ledger losses of at least 10% of yearly income, strongest first
        ledger = sim.ledger.astype(np.float64).copy()
        # lack of labour is a cause, but the shock that struck ranks first
        ledger[:, CAUSES.index("lack_of_labour")] = np.where(
            no_labour, np.maximum(income, 5000) * 0.15, 0
        )
        significant = ledger > np.maximum(0.1 * np.maximum(income, 0), 500)[:, None]
        order = np.argsort(-ledger, axis=1, kind="stable")[:, :3]
        sig_sorted = np.take_along_axis(significant, order, axis=1)
        cause_names = np.array(CAUSES, dtype=object)
        main = np.where(sig_sorted[:, 0], cause_names[order[:, 0]], "other")
        extra = [np.where(sig_sorted[:, k], cause_names[order[:, k]], "") for k in (1, 2)]
        causes = main.astype(object)
        for e in extra:
            causes = np.where(e != "", causes + "," + e, causes)
        main = np.where(at_risk, main, "")
        causes = np.where(at_risk, causes, "")

        # ineligibility (registrants only)
        pub = any_member(p.pub_emp[:n])
        rel = sim.pop.relatives

        def rel_any(mask: np.ndarray) -> np.ndarray:
            return np.bincount(rel.hh, weights=mask, minlength=h.n) > 0

        def member_owns(owner: np.ndarray) -> np.ndarray:
            """The owner is a living member of the household (a dead owner's car is not)."""
            who = np.maximum(owner, 0)
            owns: np.ndarray = (owner >= 0) & alive[who] & (hh_of[who] == np.arange(h.n))
            return owns

        reasons = {
            "public_employee": pub | rel_any(rel.pub_emp),
            "vehicle": member_owns(h.car_owner) | rel_any(rel.car),
            "commercial_housing": member_owns(h.house_owner) | rel_any(rel.house),
            "business": member_owns(h.business_owner) | rel_any(rel.business),
        }
        ineligible_reason = np.full(h.n, "", dtype=object)
        for name, mask in reasons.items():
            add = mask & h.former_poor
            ineligible_reason = np.where(
                add,
                np.where(ineligible_reason == "", name, ineligible_reason + "," + name),
                ineligible_reason,
            )
        ineligible = ineligible_reason != ""

        period = str((sim.first_month + m).astype("datetime64[M]"))
        keep = present
        cols = {
            "period": np.full(int(keep.sum()), period, dtype=object),
            "household_id": h.code[keep],
            "members": members[keep].astype(np.int32),
            "former_poor": h.former_poor[keep],
            "wage_12m": comp["wage"][keep],
            "production_12m": comp["production"][keep],
            "property_12m": comp["property"][keep],
            "transfer_12m": comp["transfer"][keep],
            "income_12m": income[keep],
            "income_pc_12m": pc[keep],
            "medical_oop_12m": comp["medical_oop"][keep],
            "education_12m": comp["education"][keep],
            "rehab_12m": comp["rehab"][keep],
            "rigid_12m": rigid[keep],
            "monitoring_line": np.full(int(keep.sum()), line),
            "below_line": below[keep],
            "sudden_hardship": (status == 3)[keep],
            "rigid_hardship": (~below & heavy_rigid)[keep],
            "food_ok": food_ok[keep],
            "education_ok": education_ok[keep],
            "medical_ok": medical_ok[keep],
            "housing_ok": housing_ok[keep],
            "water_ok": water_ok[keep],
            "medical_burden": medical_burden[keep],
            "education_burden": education_burden[keep],
            "income_drop": income_drop[keep],
            "no_labour": no_labour[keep],
            "dibao": h.dibao[keep],
            "tekun": h.tekun[keep],
            "status": np.array(STATUSES, dtype=object)[status[keep]],
            "onset": onset[keep],
            "main_cause": main[keep],
            "causes": causes[keep],
            "ineligible": ineligible[keep],
            "ineligible_reason": ineligible_reason[keep],
        }
        return pa.table({k: pa.array(v) for k, v in cols.items()})
