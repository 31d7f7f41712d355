"""Monthly dynamics of the twin: income, expenditure, shocks and recovery.

:class:`Simulator` advances the population one month at a time. Each step draws
the month's shocks (illness, accidents, disability, deaths, births, marriages,
job losses including a regional downturn, disasters, failed projects, dropouts),
applies recovery processes and the departments' own reactions (dibao enrolment,
temporary assistance, house renovation), runs the optional assistance hook, and
books the month's income and expenditure per household.

Assistance hook
---------------
Later capabilities (assistance plans) change a household's trajectory through
:class:`AssistanceHook`: an object with ``apply(sim, month)`` called every month
after the shocks and before income is booked. It may change any state array of
``sim.pop`` (for example restore a job, add a transfer through
``sim.extra_transfer``, repair a house) and returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from povguard.synth.geography import DISASTERS, Geography, birth_regions
from povguard.synth.idcard import make_ids
from povguard.synth.names import split_name
from povguard.synth.params import SynthParams
from povguard.synth.population import (
    CAUSES,
    CHILD,
    CHILD_IN_LAW,
    EPOCH_DAY,
    GRANDCHILD,
    HEAD,
    SPOUSE,
    Population,
)

# event kinds (truth event log)
EVENT_KINDS: tuple[str, ...] = (
    "serious_illness",
    "inpatient",
    "chronic_onset",
    "disability_onset",
    "accident",
    "death",
    "birth",
    "marriage_move",
    "marriage_out",
    "marriage_in",
    "job_loss",
    "reemployed",
    "caregiver_return",
    "disaster",
    "house_damaged",
    "house_repaired",
    "project_failure",
    "dropout",
    "dibao_start",
    "dibao_end",
    "temporary_assistance",
    "vehicle_purchase",
    "business_registered",
    "property_purchase",
)
EV = {k: i for i, k in enumerate(EVENT_KINDS)}
CAUSE = {k: i for i, k in enumerate(CAUSES)}
# why a person is not earning this month
LOST_NONE, LOST_ILL, LOST_CARE, LOST_JOB = 0, 1, 2, 3
# seasonality of farming income per calendar month (sums to 12)
_FARM_SEASON = np.array([0.5, 0.4, 0.6, 1.0, 1.1, 0.8, 0.9, 1.6, 1.9, 1.6, 0.9, 0.7])
_FARM_SEASON = _FARM_SEASON * 12 / _FARM_SEASON.sum()
# disaster seasonality (flood, landslide, drought, hail) per calendar month, peak = 1
_DISASTER_SEASON = np.array(
    [
        [0.02, 0.02, 0.05, 0.15, 0.5, 1.0, 1.0, 0.8, 0.4, 0.15, 0.05, 0.02],
        [0.05, 0.05, 0.1, 0.2, 0.6, 1.0, 1.0, 0.9, 0.5, 0.2, 0.05, 0.05],
        [0.2, 0.3, 0.6, 0.7, 0.4, 0.2, 0.6, 1.0, 0.8, 0.3, 0.1, 0.1],
        [0.0, 0.05, 0.3, 1.0, 0.9, 0.6, 0.4, 0.3, 0.1, 0.0, 0.0, 0.0],
    ]
)


class AssistanceHook(Protocol):
    """Changes household trajectories (assistance measures); see module docstring."""

    def apply(self, sim: Simulator, month: int) -> None:  # pragma: no cover - protocol
        """Apply this month's measures by changing ``sim.pop`` state."""


@dataclass
class Columns:
    """A growing set of equally long columns built from per-batch numpy arrays."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {n: [] for n in self.names}

    def add(self, **cols: np.ndarray | int | float | str) -> None:
        """Append a batch; scalars are broadcast to the batch length."""
        n = max((np.size(v) for v in cols.values() if isinstance(v, np.ndarray)), default=0)
        if n == 0:
            return
        for name in self.names:
            v = cols[name]
            self._parts[name].append(np.asarray(v) if np.ndim(v) else np.full(n, v))

    def finish(self) -> dict[str, np.ndarray]:
        """Concatenate the batches."""
        return {n: (np.concatenate(p) if p else np.array([])) for n, p in self._parts.items()}


@dataclass
class MonthOutput:
    """What happened in one month (consumed by truth and the department feeds)."""

    month: int
    first_day: int
    events: dict[str, np.ndarray]  # event_id, day, hh, person, kind, amount, info
    claims: dict[str, np.ndarray]  # per medical claim
    disasters: dict[str, np.ndarray]  # per affected household
    wage: np.ndarray  # per household, yuan this month
    production: np.ndarray
    property: np.ndarray
    transfer: np.ndarray
    medical_oop: np.ndarray
    education: np.ndarray
    rehab: np.ndarray


class Simulator:
    """Advances a :class:`Population` month by month.

    Parameters
    ----------
    geo, pop, params:
        The twin's geography, population and parameters.
    rng:
        Random generator (all randomness comes from it).
    first_month:
        Calendar month of simulation month 0 (``numpy.datetime64`` in months).
    hook:
        Optional assistance hook.
    """

    def __init__(
        self,
        geo: Geography,
        pop: Population,
        params: SynthParams,
        rng: np.random.Generator,
        first_month: np.datetime64,
        downturn_month: int,
        hook: AssistanceHook | None = None,
    ) -> None:
        self.geo, self.pop, self.params, self.rng, self.hook = geo, pop, params, rng, hook
        self.first_month = first_month.astype("datetime64[M]")
        self.downturn_month = downturn_month
        h = pop.households.n
        self.extra_transfer = np.zeros(h, np.float32)  # set by the assistance hook, per month
        self.ledger = np.zeros((h, len(CAUSES)), np.float32)  # decayed 12-month losses by cause
        self.last_disaster = np.full(geo.n_villages, -99, np.int32)
        self.income_pc_12m = np.zeros(h, np.float32)  # updated by the truth stage
        self.downturn_county = rng.random(len(geo.counties)) < params.shocks.downturn_county_share
        self._next_event = 0
        self.lost = np.zeros(pop.persons.hh.shape[0], np.int8)
        self.birth_regions = birth_regions()

    # ------------------------------------------------------------------ helpers
    def month_start(self, m: int) -> int:
        """First day (days since epoch) of simulation month ``m``."""
        return int(self.month_starts(np.asarray(m)))

    def month_starts(self, m: np.ndarray) -> np.ndarray:
        """First days (days since epoch) of simulation months ``m`` (vectorised)."""
        first = (self.first_month + m.astype("timedelta64[M]")).astype("datetime64[D]")
        starts: np.ndarray = (first - EPOCH_DAY).astype(np.int64)
        return starts

    def _days_in(self, m: int) -> int:
        return self.month_start(m + 1) - self.month_start(m)

    def _ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_event, self._next_event + n, dtype=np.int64)
        self._next_event += n
        return ids

    def _monthly(self, yearly: np.ndarray | float) -> np.ndarray:
        return 1.0 - (1.0 - np.clip(yearly, 0, 0.999)) ** (1 / 12)

    # ------------------------------------------------------------------ step
    def step(self, m: int) -> MonthOutput:
        """Simulate month ``m`` and return what happened."""
        p, h, rng, prm = self.pop.persons, self.pop.households, self.rng, self.params
        d0, nd = self.month_start(m), self._days_in(m)
        cal = int((self.first_month + m).astype(int) % 12) + 1
        year = int((self.first_month + m).astype("datetime64[Y]").astype(int)) + 1970
        ev = Columns(("event_id", "day", "hh", "person", "kind", "amount", "info"))
        claims = Columns(
            (
                "event_id",
                "person",
                "hh",
                "kind",
                "admit",
                "discharge",
                "total",
                "fund",
                "serious_ins",
                "assistance",
                "oop",
                "disease",
            )
        )
        dis = Columns(
            ("event_id", "hh", "type", "day", "crop_loss", "house_damage", "direct_loss", "persons")
        )
        n = p.n
        alive = p.status[:n] == 0
        age = (d0 - p.birth[:n]) / 365.25
        hp = prm.health
        hh_of = p.hh[:n]
        poor_member = (h.former_poor | h.dibao | h.tekun | (h.monitor == 1))[hh_of]
        self.lost[:n] = LOST_NONE

        def day_in_month(k: int) -> np.ndarray:
            return d0 + rng.integers(0, nd, k)

        def event(
            kind: str,
            idx_p: np.ndarray,
            amount: np.ndarray | float = 0.0,
            info: np.ndarray | str = "",
            hh: np.ndarray | None = None,
            day: np.ndarray | None = None,
        ) -> np.ndarray:
            k = idx_p.size if hh is None else hh.size
            ids = self._ids(k)
            ev.add(
                event_id=ids,
                day=day if day is not None else day_in_month(k),
                hh=hh if hh is not None else self.pop.persons.hh[idx_p],
                person=idx_p,
                kind=EV[kind],
                amount=np.broadcast_to(np.asarray(amount, dtype=np.float64), (k,)).copy(),
                info=np.broadcast_to(np.asarray(info, dtype=object), (k,)).copy(),
            )
            return ids

        def reimburse(
            idx: np.ndarray, total: np.ndarray, inpatient: bool
        ) -> tuple[np.ndarray, ...]:
            ins = p.insured[idx]
            if inpatient:
                fund = np.minimum(
                    np.maximum(total - hp.deductible, 0) * hp.reimburse_rate, hp.reimburse_cap
                )
            else:
                fund = total * hp.outpatient_reimburse_rate
            fund = np.where(ins, fund, 0.0)
            rest = total - fund
            thr = np.where(
                poor_member[idx],
                hp.serious_insurance_threshold_poor,
                hp.serious_insurance_threshold,
            )
            serious = np.where(
                ins & inpatient, np.maximum(rest - thr, 0) * hp.serious_insurance_rate, 0.0
            )
            rest = rest - serious
            assist_ok = (h.dibao | h.tekun)[hh_of[idx]] & ins
            assist = np.where(assist_ok, rest * hp.medical_assistance_rate, 0.0)
            oop = rest - assist
            return (np.round(fund, 2), np.round(serious, 2), np.round(assist, 2), np.round(oop, 2))

        def claim(
            idx: np.ndarray,
            total: np.ndarray,
            inpatient: bool,
            disease: np.ndarray,
            event_ids: np.ndarray | None,
        ) -> np.ndarray:
            total = np.round(total, 2)
            fund, serious, assist, oop = reimburse(idx, total, inpatient)
            ins = p.insured[idx]
            stay = rng.integers(3, 20, idx.size) if inpatient else np.zeros(idx.size, np.int64)
            admit = day_in_month(idx.size)
            discharge = np.minimum(admit + stay, d0 + nd - 1)
            eids = event_ids if event_ids is not None else np.full(idx.size, -1)
            # uninsured people have no claim with the medical insurance bureau
            claims.add(
                event_id=eids[ins],
                person=idx[ins],
                hh=hh_of[idx[ins]],
                kind=1 if inpatient else 2,
                admit=admit[ins],
                discharge=discharge[ins],
                total=total[ins],
                fund=fund[ins],
                serious_ins=serious[ins],
                assistance=assist[ins],
                oop=oop[ins],
                disease=disease[ins],
            )
            return np.bincount(hh_of[idx], weights=oop, minlength=h.n)

        medical = np.zeros(h.n)
        ill_loss = np.zeros(h.n)
        acc_loss = np.zeros(h.n)

        # --- deaths ---------------------------------------------------------------
        a, b = hp.mortality_gompertz
        q_year = np.where(age < 5, hp.infant_mortality, np.exp(a + b * age))
        q_year = q_year * np.where(p.serious[:n] > 0, 3.0, 1.0)
        dead = alive & (rng.random(n) < self._monthly(q_year))
        self._die(np.flatnonzero(dead), "death_natural", event, acc_loss)

        # --- serious illness: onset, treatment, outcomes ----------------------------
        alive = p.status[:n] == 0
        so = hp.serious_onset
        rate = np.select([age < 15, age < 45, age < 60], [so[0], so[1], so[2]], so[3])
        onset = alive & (p.serious[:n] == 0) & (rng.random(n) < self._monthly(rate))
        idx = np.flatnonzero(onset)
        months = rng.integers(hp.serious_months[0], hp.serious_months[1] + 1, idx.size)
        cost = rng.lognormal(np.log(hp.serious_cost_median), hp.serious_cost_sigma, idx.size)
        p.serious[idx] = months
        p.serious_cost[idx] = cost / months
        disease = rng.choice(
            np.array(
                [
                    "恶性肿瘤",
                    "尿毒症",
                    "重性精神病",
                    "脑卒中",
                    "急性心肌梗死",
                    "白血病",
                    "重症肺炎",
                ],
                dtype=object,
            ),
            idx.size,
            p=[0.35, 0.12, 0.08, 0.2, 0.1, 0.05, 0.1],
        )
        ser_ids = event("serious_illness", idx, cost, disease.astype(str))
        serious_new = idx
        self._serious_disease = getattr(self, "_serious_disease", {})
        for pid, dz, eid in zip(idx.tolist(), disease.tolist(), ser_ids.tolist(), strict=True):
            self._serious_disease[pid] = (dz, eid)
        # caregivers return from migrant work
        self._caregivers(idx)
        treating = np.flatnonzero(alive & (p.serious[:n] > 0))
        dz = np.array(
            [self._serious_disease.get(i, ("重大疾病", -1))[0] for i in treating.tolist()],
            dtype=object,
        )
        dz_eid = np.array(
            [self._serious_disease.get(i, ("", -1))[1] for i in treating.tolist()], dtype=np.int64
        )
        oop = claim(treating, p.serious_cost[treating].astype(np.float64), True, dz, dz_eid)
        medical += oop
        ill_loss += oop
        self.lost[treating] = LOST_ILL
        p.serious[treating] -= 1
        ended = treating[p.serious[treating] == 0]
        u = rng.random(ended.size)
        die = ended[u < hp.serious_death_prob]
        self._die(die, "death_illness", event, ill_loss)
        surv = ended[u >= hp.serious_death_prob]
        p.chronic[surv[rng.random(surv.size) < hp.serious_chronic_prob]] = True
        newdis = surv[(rng.random(surv.size) < hp.serious_disability_prob) & (p.disab[surv] == 0)]
        self._disable(newdis, event, "illness")
        # caregivers of patients whose treatment ended may go back to work
        self._end_caregiving()

        # --- ordinary inpatient stays and chronic outpatient claims -----------------
        alive = p.status[:n] == 0
        ir = hp.inpatient_rate
        rate = np.select([age < 15, age < 60], [ir[0], ir[1]], ir[2])
        idx = np.flatnonzero(alive & (rng.random(n) < self._monthly(rate)))
        total = rng.lognormal(np.log(hp.inpatient_cost_median), hp.inpatient_cost_sigma, idx.size)
        dz = rng.choice(
            np.array(
                [
                    "肺炎",
                    "高血压",
                    "糖尿病",
                    "骨折",
                    "胆结石",
                    "慢性阻塞性肺病",
                    "分娩",
                    "阑尾炎",
                    "冠心病",
                    "白内障",
                ],
                dtype=object,
            ),
            idx.size,
        )
        ins_ids = event("inpatient", idx, total, dz.astype(str))
        oop = claim(idx, total, True, dz, ins_ids)
        medical += oop
        ill_loss += oop * 0.5
        chronic_idx = np.flatnonzero(
            alive & p.chronic[:n] & (rng.random(n) < hp.chronic_claim_month_prob)
        )
        total = rng.lognormal(np.log(hp.chronic_claim_median), 0.5, chronic_idx.size)
        dz = rng.choice(
            np.array(
                ["高血压", "糖尿病", "慢性阻塞性肺病", "冠心病", "类风湿关节炎", "慢性肾病"],
                dtype=object,
            ),
            chronic_idx.size,
        )
        oop = claim(chronic_idx, total, False, dz, None)
        medical += oop
        ill_loss += oop
        # chronic onset
        onset = (
            alive
            & ~p.chronic[:n]
            & (age >= 30)
            & (rng.random(n) < self._monthly(hp.chronic_onset * np.clip(age / 50, 0.4, 2.5)))
        )
        event("chronic_onset", np.flatnonzero(onset))
        p.chronic[np.flatnonzero(onset)] = True

        # --- accidents and disability -------------------------------------------------
        acc = np.flatnonzero(
            alive & (age >= 16) & (age < 70) & (rng.random(n) < self._monthly(hp.accident_rate))
        )
        total = rng.lognormal(np.log(25000), 0.7, acc.size)
        acc_ids = event("accident", acc, total, "意外伤害")
        oop = claim(acc, total, True, np.full(acc.size, "意外伤害", dtype=object), acc_ids)
        medical += oop
        acc_loss += oop
        self.lost[acc] = LOST_ILL
        u = rng.random(acc.size)
        self._die(acc[u < hp.accident_death_prob], "death_accident", event, acc_loss)
        self._disable(
            acc[
                (u >= hp.accident_death_prob)
                & (u < hp.accident_death_prob + hp.accident_disability_prob)
                & (p.disab[acc] == 0)
            ],
            event,
            "accident",
        )
        alive = p.status[:n] == 0
        don = (
            alive
            & (p.disab[:n] == 0)
            & (rng.random(n) < self._monthly(hp.disability_onset * np.clip(age / 50, 0.2, 4)))
        )
        self._disable(np.flatnonzero(don), event, "disability")

        # --- migrant work -----------------------------------------------------------
        sp = prm.shocks
        in_downturn = (
            0 <= m - self.downturn_month < sp.downturn_months if self.downturn_month >= 0 else False
        )
        county_of = self.geo.village_county[h.village[hh_of]]
        mult = np.where(in_downturn & self.downturn_county[county_of], sp.downturn_multiplier, 1.0)
        working = alive & p.migrant[:n]
        lose = np.flatnonzero(working & (rng.random(n) < sp.job_loss_monthly * mult))
        p.migrant[lose] = False
        p.unemployed[lose] = 1
        event("job_loss", lose, p.mwage[lose].astype(np.float64))
        seeking = np.flatnonzero(alive & (p.unemployed[:n] > 0))
        seeking = seeking[~np.isin(seeking, lose)]
        back = seeking[
            rng.random(seeking.size)
            < sp.reemploy_monthly
            / np.where(in_downturn & self.downturn_county[county_of[seeking]], 2.0, 1.0)
        ]
        p.migrant[back] = True
        p.unemployed[back] = 0
        event("reemployed", back, p.mwage[back].astype(np.float64))
        still = seeking[~np.isin(seeking, back)]
        p.unemployed[still] = np.minimum(p.unemployed[still] + 1, 120)
        self.lost[still] = np.where(self.lost[still] == LOST_NONE, LOST_JOB, self.lost[still])
        self.lost[lose] = LOST_JOB

        # --- disasters ------------------------------------------------------------------
        self._disasters(m, cal, d0, nd, event, dis)

        # --- projects ------------------------------------------------------------------
        recent = (m - self.last_disaster[h.village]) <= 3
        fail_p = sp.project_failure_monthly * np.where(
            recent, sp.project_failure_disaster_multiplier, 1
        )
        fail = np.flatnonzero((h.project == 1) & (rng.random(h.n) < fail_p))
        h.project[fail] = 2
        loss = rng.uniform(*sp.project_loss, fail.size)
        event("project_failure", h.head[fail], loss, hh=fail)
        production_loss = np.zeros(h.n)
        production_loss[fail] = loss
        self.ledger[fail, CAUSE["industry_failure"]] += loss.astype(np.float32)

        # --- school -----------------------------------------------------------------------
        edu_cost = self._school(cal, year, age, alive, event)

        # --- births and marriages ----------------------------------------------------------
        self._births(d0, nd, age, alive, event)
        self._marriages(d0, nd, event)

        # --- departments' own reactions: dibao, temporary assistance, repairs ---------------
        self._dibao(event)
        hit_hh = dis.finish()["hh"].astype(np.int64)
        cand = np.unique(np.concatenate([hit_hh, p.hh[serious_new].astype(np.int64)]))
        ta = cand[rng.random(cand.size) < sp.temp_assistance_prob]
        ta_amount = np.round(rng.uniform(*sp.temp_assistance_amount, ta.size), -2)
        event("temporary_assistance", h.head[ta], ta_amount, hh=ta)
        # small loans falling due: most are repaid, a few (more after a failure) go overdue
        due = np.flatnonzero(
            (h.loan > 0) & ~h.loan_overdue & (h.loan_start + 365 * sp.loan_term_years < d0 + nd)
        )
        late = rng.random(due.size) < np.where(h.project[due] == 2, 0.5, sp.loan_overdue_share)
        h.loan_overdue[due[late]] = True
        h.loan[due[~late]] = 0
        repair = np.flatnonzero((h.house >= 2) & (rng.random(h.n) < sp.house_repair_monthly))
        h.house[repair] = 1
        event("house_repaired", h.head[repair], hh=repair)
        self._asset_purchases(event)

        if self.hook is not None:
            self.extra_transfer[:] = 0
            self.hook.apply(self, m)

        # --- income -----------------------------------------------------------------------
        n = p.n
        alive = p.status[:n] == 0
        hh_of = p.hh[:n]
        age = (d0 - p.birth[:n]) / 365.25
        ip = prm.income
        mfac = 0.5 if cal in ip.migrant_months_off else 1.0
        earn_m = alive & p.migrant[:n] & (self.lost[:n] == LOST_NONE)
        local_work = (
            alive
            & p.local[:n]
            & (self.lost[:n] == LOST_NONE)
            & (rng.random(n) < ip.local_work_month_prob)
        )
        wage_p = earn_m * p.mwage[:n] * mfac + local_work * p.lwage[:n]
        wage = np.bincount(hh_of, weights=wage_p, minlength=h.n)
        # wages lost for illness/caregiving/job loss, booked to the causes
        potential = np.where(
            p.migrant[:n] | (p.unemployed[:n] > 0) | p.caregiver[:n],
            p.mwage[:n],
            p.lwage[:n] * p.local[:n],
        )
        lost_ill = alive & np.isin(self.lost[:n], (LOST_ILL, LOST_CARE))
        ill_loss += np.bincount(hh_of, weights=lost_ill * potential, minlength=h.n)
        job_loss = np.bincount(
            hh_of, weights=(alive & (self.lost[:n] == LOST_JOB)) * p.mwage[:n], minlength=h.n
        )
        crop_factor = 1.0 - h.crop_loss * (h.crop_loss_left > 0)
        farm = h.farm_base / 12 * _FARM_SEASON[cal - 1] * crop_factor
        disaster_loss = h.farm_base / 12 * _FARM_SEASON[cal - 1] * (1 - crop_factor)
        h.crop_loss_left = np.maximum(h.crop_loss_left - 1, 0).astype(np.int8)
        project = np.where(h.project == 1, h.project_base / 12 * _FARM_SEASON[cal - 1], 0.0)
        production = farm + project + h.business * h.business_inc - production_loss
        prop = h.property_inc / 12
        members = np.bincount(hh_of, weights=alive, minlength=h.n)
        elderly = np.bincount(hh_of, weights=alive & (age >= 60), minlength=h.n)
        severe = np.bincount(
            hh_of, weights=alive & (p.disab[:n] > 0) & (p.disab[:n] <= 2), minlength=h.n
        )
        gap = np.maximum(
            ip.dibao_standard_yearly - self.income_pc_12m, ip.dibao_standard_yearly * 0.3
        )
        transfer = (
            elderly * ip.pension_monthly
            + h.dibao * members * gap / 12
            + h.tekun * members * ip.tekun_support_yearly / 12
            + severe * ip.disability_allowance_monthly
            + (cal == 4) * ip.farm_subsidy_yearly
            + self.extra_transfer
            + h.remittance / 12
            + members * ip.policy_transfer_yearly / 12
        )
        evs = ev.finish()
        ta_mask = (
            evs["kind"] == EV["temporary_assistance"] if evs["kind"].size else np.array([], bool)
        )
        transfer += np.bincount(
            evs["hh"][ta_mask].astype(np.int64), weights=evs["amount"][ta_mask], minlength=h.n
        )
        rehab = severe * ip.rehab_monthly_severe

        # --- cause ledger (decayed 12-month losses) -------------------------------------------
        self.ledger *= np.float32(11 / 12)
        self.ledger[:, CAUSE["illness"]] += ill_loss.astype(np.float32)
        self.ledger[:, CAUSE["accident"]] += acc_loss.astype(np.float32)
        self.ledger[:, CAUSE["unstable_work"]] += job_loss.astype(np.float32)
        self.ledger[:, CAUSE["natural_disaster"]] += disaster_loss.astype(np.float32)
        self.ledger[:, CAUSE["schooling"]] += edu_cost.astype(np.float32)
        self.ledger[:, CAUSE["disability"]] += (severe * 300).astype(np.float32)
        # water: shortfall days decay over a year; droughts add days to unpiped households
        h.water_short_days *= np.float32(11 / 12)
        h.water_short_days += np.float32(1.0)
        return MonthOutput(
            month=m,
            first_day=d0,
            events=evs,
            claims=claims.finish(),
            disasters=dis.finish(),
            wage=wage,
            production=production,
            property=prop,
            transfer=transfer,
            medical_oop=medical,
            education=edu_cost,
            rehab=rehab,
        )

    # ------------------------------------------------------------------ sub-steps
    def _die(self, idx: np.ndarray, why: str, event: object, loss: np.ndarray) -> None:
        p = self.pop.persons
        if idx.size == 0:
            return
        earner = p.migrant[idx] | p.local[idx]
        np.add.at(loss, p.hh[idx], np.where(earner, p.mwage[idx] * 6.0, 0.0))
        event("death", idx, 0.0, why)  # type: ignore[operator]
        p.status[idx] = 1
        p.migrant[idx] = False
        p.local[idx] = False
        p.serious[idx] = 0
        self._reassign_heads(np.unique(p.hh[idx]))

    def _reassign_heads(self, hhs: np.ndarray) -> None:
        """Give households whose head left a new head (spouse, else the oldest member)."""
        p, h = self.pop.persons, self.pop.households
        gone = hhs[p.status[h.head[hhs]] != 0]
        if gone.size == 0:
            return
        members = np.flatnonzero(np.isin(p.hh[: p.n], gone) & (p.status[: p.n] == 0))
        order = np.lexsort((p.birth[members], p.rel[members] != SPOUSE, p.hh[members]))
        members = members[order]
        first = np.unique(p.hh[members], return_index=True)
        new_heads = members[first[1]]
        h.head[first[0]] = new_heads
        p.rel[new_heads] = HEAD

    def _caregivers(self, patients: np.ndarray) -> None:
        p = self.pop.persons
        if patients.size == 0:
            return
        hhs = np.unique(p.hh[patients])
        hhs = hhs[self.rng.random(hhs.size) < self.params.health.caregiver_return_prob]
        mig = np.flatnonzero(np.isin(p.hh[: p.n], hhs) & p.migrant[: p.n] & (p.status[: p.n] == 0))
        first = mig[np.unique(p.hh[mig], return_index=True)[1]]
        p.migrant[first] = False
        p.caregiver[first] = True
        self.lost[first] = LOST_CARE

    def _end_caregiving(self) -> None:
        p = self.pop.persons
        n = p.n
        cg = np.flatnonzero(p.caregiver[:n])
        if cg.size == 0:
            return
        treating_hh = np.unique(p.hh[:n][(p.serious[:n] > 0) & (p.status[:n] == 0)])
        done = cg[~np.isin(p.hh[cg], treating_hh)]
        back = done[self.rng.random(done.size) < 0.5]
        p.caregiver[back] = False
        p.migrant[back] = p.status[back] == 0
        self.lost[: p.n][p.caregiver[: p.n]] = LOST_CARE

    def _disable(self, idx: np.ndarray, event: object, why: str) -> None:
        p = self.pop.persons
        if idx.size == 0:
            return
        sev = self.rng.random(idx.size) < self.params.population.severe_disability_share
        p.disab[idx] = np.where(
            sev, self.rng.integers(1, 3, idx.size), self.rng.integers(3, 5, idx.size)
        )
        p.disab_type[idx] = np.where(why == "accident", 3, self.rng.integers(0, 7, idx.size))
        event("disability_onset", idx, p.disab[idx].astype(np.float64), why)  # type: ignore[operator]
        severe = idx[p.disab[idx] <= 2]
        p.migrant[severe] = False
        p.local[severe] = False
        loss = np.zeros(self.pop.households.n, np.float32)
        np.add.at(loss, p.hh[severe], p.mwage[severe] * 3)
        self.ledger[:, CAUSE["disability"]] += loss

    def _disasters(self, m: int, cal: int, d0: int, nd: int, event: object, dis: Columns) -> None:
        geo, h, p, rng, dp = (
            self.geo,
            self.pop.households,
            self.pop.persons,
            self.rng,
            self.params.disasters,
        )
        scale = len(geo.counties) / 10
        lon, lat = geo.village_lon, geo.village_lat
        for t in range(len(DISASTERS)):
            k = rng.poisson(dp.events_per_month[t] * _DISASTER_SEASON[t, cal - 1] * scale)
            for _ in range(k):
                c = rng.integers(0, geo.n_villages)
                dist_km = np.hypot((lon - lon[c]) * 100, (lat - lat[c]) * 111)
                hit_v = (dist_km < dp.radius_km[t]) & (
                    rng.random(geo.n_villages) < np.clip(geo.exposure[:, t] * 0.6, 0, 1)
                )
                hit_v[c] = True
                villages = np.flatnonzero(hit_v)
                hhs = np.flatnonzero(np.isin(h.village, villages))
                hhs = hhs[rng.random(hhs.size) < dp.household_hit[t]]
                if hhs.size == 0:
                    continue
                self.last_disaster[villages] = m
                day = d0 + int(rng.integers(0, nd))
                loss_share = np.clip(rng.normal(dp.crop_loss[t], 0.15, hhs.size), 0.05, 1)
                h.crop_loss[hhs] = np.maximum(h.crop_loss[hhs], loss_share)
                h.crop_loss_left[hhs] = dp.loss_months
                crop_yuan = np.round(h.farm_base[hhs] * loss_share * dp.loss_months / 12, -1)
                damaged = rng.random(hhs.size) < dp.house_damage[t]
                level = np.where(damaged, np.where(rng.random(hhs.size) < 0.3, 3, 2), 0)
                h.house[hhs[damaged]] = np.maximum(h.house[hhs[damaged]], level[damaged]).astype(
                    np.int8
                )
                house_loss = np.where(
                    level == 3,
                    rng.uniform(40000, 90000, hhs.size),
                    np.where(level == 2, rng.uniform(5000, 30000, hhs.size), 0),
                )
                self.ledger[hhs, CAUSE["natural_disaster"]] += (house_loss * 0.3).astype(np.float32)
                if t == 2:  # drought: water supply shortfalls for unpiped households
                    dry = hhs[~h.water_piped[hhs]]
                    h.water_short_days[dry] += rng.uniform(10, 40, dry.size).astype(np.float32)
                members = np.bincount(p.hh[: p.n], weights=p.status[: p.n] == 0, minlength=h.n)
                ids = event(
                    "disaster",
                    h.head[hhs],
                    crop_yuan + house_loss,
                    DISASTERS[t],  # type: ignore[operator]
                    hh=hhs,
                    day=np.full(hhs.size, day),
                )
                dis.add(
                    event_id=ids,
                    hh=hhs,
                    type=t,
                    day=day,
                    crop_loss=crop_yuan,
                    house_damage=level,
                    direct_loss=np.round(crop_yuan + house_loss, -1),
                    persons=members[hhs].astype(np.int64),
                )
                if damaged.any():
                    event(
                        "house_damaged",
                        h.head[hhs[damaged]],
                        level[damaged].astype(float),  # type: ignore[operator]
                        DISASTERS[t],
                        hh=hhs[damaged],
                        day=np.full(int(damaged.sum()), day),
                    )

    def _school(
        self, cal: int, year: int, age: np.ndarray, alive: np.ndarray, event: object
    ) -> np.ndarray:
        p, h, rng, sp, ip = (
            self.pop.persons,
            self.pop.households,
            self.rng,
            self.params.shocks,
            self.params.income,
        )
        n = p.n
        if cal == 9:  # new school year
            p.school[:n][alive & (age >= 6) & (age < 7) & (p.school[:n] == 0)] = 1
            p.school[:n][
                alive & (age >= 16) & (age < 17) & (p.school[:n] == 1) & (rng.random(n) > 0.62)
            ] = 0
            p.school[:n][
                alive & (age >= 19) & (age < 20) & (p.school[:n] == 1) & (rng.random(n) > 0.35)
            ] = 0
            p.school[:n][alive & (age >= 23) & (p.school[:n] == 1)] = 0
        hh_of = p.hh[:n]
        under = self.income_pc_12m[hh_of] < self.params.line_for(year)
        left_behind = np.bincount(hh_of, weights=alive & p.migrant[:n], minlength=h.n)[hh_of] > 0
        vulnerable = under | left_behind
        mult = np.where(vulnerable, sp.dropout_multiplier_vulnerable, 1.0)
        in_sch = alive & (p.school[:n] == 1)
        rate = (
            np.where(
                (age >= 12) & (age < 16),
                sp.dropout_monthly_compulsory,
                np.where((age >= 16) & (age < 19), sp.dropout_monthly_senior, 0.0),
            )
            * mult
        )
        drop = np.flatnonzero(in_sch & (rng.random(n) < rate))
        p.school[drop] = 2
        event("dropout", drop)  # type: ignore[operator]
        cost: np.ndarray = np.zeros(h.n)
        if cal in (3, 9):
            senior = alive & (p.school[:n] == 1) & (age >= 15.5) & (age < 19)
            college = alive & (p.school[:n] == 1) & (age >= 19)
            aid = np.where(
                (h.former_poor | h.dibao | h.tekun)[hh_of], 1 - ip.school_aid_former_poor, 1.0
            )
            per = (senior * ip.school_cost_senior + college * ip.school_cost_college) / 2 * aid
            cost = np.bincount(hh_of, weights=per, minlength=h.n)
        return cost

    def _births(self, d0: int, nd: int, age: np.ndarray, alive: np.ndarray, event: object) -> None:
        p, h, rng = self.pop.persons, self.pop.households, self.rng
        n = p.n
        mothers = np.flatnonzero(
            alive
            & ~p.male[:n]
            & p.married[:n]
            & (age >= 20)
            & (age < 40)
            & (rng.random(n) < self._monthly(self.params.shocks.fertility))
        )
        k = mothers.size
        if k == 0:
            return
        p.grow(k)
        new = np.arange(n, n + k)
        hh = p.hh[mothers]
        male = rng.random(k) < self.params.population.births_sex_ratio_male
        birth = d0 + rng.integers(0, nd, k)
        county = np.array([c.code for c in self.geo.counties])[
            self.geo.village_county[h.village[hh]]
        ]
        byear = (EPOCH_DAY + birth.astype("timedelta64[D]")).astype("datetime64[Y]").astype(
            np.int64
        ) + 1970
        county = self.birth_regions.resolve(county, byear, rng)
        ids = make_ids(
            county,
            EPOCH_DAY + birth.astype("timedelta64[D]"),
            male,
            rng,
            existing=p.id[:n][np.isin(p.birth[:n], birth)],
        )
        # the father is the head or the head's son when the mother married in; otherwise an outsider
        married_in = np.isin(p.rel[mothers], (SPOUSE, CHILD_IN_LAW))
        head_surname = split_name(p.name[h.head[hh]])[0]
        surname = np.where(married_in, head_surname, self.pop.names.surnames(k, rng))
        name = self.pop.names.full_names(surname, self.pop.names.given_names(male, byear, rng))
        self._add_persons(
            new,
            hh,
            male,
            birth,
            np.where(np.isin(p.rel[mothers], (HEAD, SPOUSE)), CHILD, GRANDCHILD),
            p.ethnic[mothers],
            ids,
            name,
        )
        p.n = n + k
        event("birth", new, 0.0, "", day=birth)  # type: ignore[operator]

    def _add_persons(
        self,
        new: np.ndarray,
        hh: np.ndarray,
        male: np.ndarray,
        birth: np.ndarray,
        rel: np.ndarray,
        ethnic: np.ndarray,
        ids: np.ndarray,
        name: np.ndarray,
    ) -> None:
        p = self.pop.persons
        for arr in vars(p).values():
            if isinstance(arr, np.ndarray):
                arr[new] = 0
        p.hh[new], p.male[new], p.birth[new], p.rel[new] = hh, male, birth, rel
        p.ethnic[new], p.id[new], p.name[new] = ethnic, ids, name
        p.insured[new] = True
        p.mwage[new] = self.rng.lognormal(
            np.log(self.params.income.migrant_wage_median), 0.3, new.size
        )
        p.lwage[new] = self.rng.lognormal(
            np.log(self.params.income.local_wage_median), 0.4, new.size
        )
        if self.lost.shape[0] < p.hh.shape[0]:
            self.lost = np.zeros(p.hh.shape[0], np.int8)

    def _marriages(self, d0: int, nd: int, event: object) -> None:
        p, rng, sp = self.pop.persons, self.rng, self.params.shocks
        n = p.n
        age = (d0 - p.birth[:n]) / 365.25
        alive = p.status[:n] == 0
        brides = np.flatnonzero(
            alive
            & ~p.male[:n]
            & ~p.married[:n]
            & (age >= 20)
            & (age < 32)
            & (p.rel[:n] != HEAD)
            & (rng.random(n) < self._monthly(sp.marriage_rate))
        )
        grooms = np.flatnonzero(
            alive & p.male[:n] & ~p.married[:n] & (age >= 22) & (age < 40) & (p.rel[:n] == CHILD)
        )
        within = brides[rng.random(brides.size) < sp.marriage_within_share]
        within = within[: grooms.size]
        partners = rng.choice(grooms, within.size, replace=False) if within.size else within
        out = np.setdiff1d(brides, within)
        # brides leaving the twin (married out of the county registry)
        if out.size:
            p.status[out] = 2
            p.married[out] = True
            event("marriage_out", out, 0.0, "婚出")  # type: ignore[operator]
            self._reassign_heads(np.unique(p.hh[out]))
        if within.size:
            old_hh = p.hh[within].copy()
            event("marriage_move", within, p.hh[partners].astype(np.float64), "婚迁")  # type: ignore[operator]
            p.hh[within] = p.hh[partners]
            p.rel[within] = CHILD_IN_LAW
            p.married[within] = True
            p.married[partners] = True
            p.migrant[within] = False
            p.local[within] = False
            self._reassign_heads(np.unique(old_hh))
        # wives from outside the twin
        k_in = int(rng.binomial(grooms.size, float(self._monthly(sp.marriage_in_rate))))
        if k_in:
            free: np.ndarray = np.setdiff1d(grooms, partners)
            husbands = rng.choice(
                free,
                min(k_in, grooms.size - partners.size),
                replace=False,
            )
            k = husbands.size
            p.grow(k)
            n = p.n
            new = np.arange(n, n + k)
            birth = p.birth[husbands] + rng.integers(0, 6 * 365, k)
            byear = (
                (EPOCH_DAY + birth.astype("timedelta64[D]"))
                .astype("datetime64[Y]")
                .astype(np.int64)
            )
            region = self.birth_regions.outside(["51", "53", "43", "45", "52"], byear + 1970, rng)
            ids = make_ids(
                region,
                EPOCH_DAY + birth.astype("timedelta64[D]"),
                np.zeros(k, bool),
                rng,
                existing=p.id[:n][np.isin(p.birth[:n], birth)],
            )
            name = self.pop.names.full_names(
                self.pop.names.surnames(k, rng),
                self.pop.names.given_names(np.zeros(k, bool), np.full(k, 1995), rng),
            )
            self._add_persons(
                new,
                p.hh[husbands],
                np.zeros(k, bool),
                birth,
                np.full(k, CHILD_IN_LAW),
                p.ethnic[husbands],
                ids,
                name,
            )
            p.married[new] = True
            p.married[husbands] = True
            p.n = n + k
            event("marriage_in", new, 0.0, "婚入")  # type: ignore[operator]

    def _dibao(self, event: object) -> None:
        h, rng, sp, ip = self.pop.households, self.rng, self.params.shocks, self.params.income
        pc = self.income_pc_12m
        elig = ~h.dibao & ~h.tekun & (pc > 0) & (pc < ip.dibao_standard_yearly)
        start = np.flatnonzero(elig & (rng.random(h.n) < sp.dibao_enrol_monthly))
        h.dibao[start] = True
        event("dibao_start", h.head[start], hh=start)  # type: ignore[operator]
        stop = np.flatnonzero(
            h.dibao
            & (pc > 1.2 * ip.dibao_standard_yearly)
            & (rng.random(h.n) < sp.dibao_exit_monthly)
        )
        h.dibao[stop] = False
        event("dibao_end", h.head[stop], hh=stop)  # type: ignore[operator]

    def _asset_purchases(self, event: object) -> None:
        h, rng, cp = self.pop.households, self.rng, self.params.coverage
        fp = np.where(h.former_poor, 0.05, 1.0)
        for kind, rate, owner in (
            ("vehicle_purchase", cp.vehicle_new_monthly, h.car_owner),
            ("business_registered", cp.business_new_monthly, h.business_owner),
            ("property_purchase", cp.property_new_monthly, h.house_owner),
        ):
            buy = np.flatnonzero((owner < 0) & (rng.random(h.n) < rate * fp))
            owner[buy] = h.head[buy]
            if kind == "business_registered":
                h.business[buy] = True
                h.business_inc[buy] = rng.lognormal(
                    np.log(self.params.income.business_net_monthly_median), 0.5, buy.size
                )
            event(kind, h.head[buy], hh=buy)  # type: ignore[operator]
