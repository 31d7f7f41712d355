"""Turn what happened in a month into the clean records each department sends.

A department only sees its own slice: records are produced from events with the
department's coverage (not every event is recorded) and latency (claims settle
later, disasters are reported after the event). Records are queued by the month
in which they will be delivered. Each record carries a ``_row_uid`` and, where it
stems from an event, ``_event_id``; the truth keeps both, the feeds never do.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from povguard.synth.dynamics import EV, Columns, MonthOutput, Simulator
from povguard.synth.feeds.sources import SOURCE_BY_NAME
from povguard.synth.feeds.spec import Role
from povguard.synth.geography import DISASTERS, INDUSTRIES, WATER_TYPES
from povguard.synth.names import romanise
from povguard.synth.population import (
    CAUSES_ZH,
    DISABILITY_TYPES,
    EPOCH_DAY,
    HOUSE_GRADES,
    RELATIONS,
)

_SEX = np.array(["女", "男"], dtype=object)
_GRADES_ZH = np.array(["", "一级", "二级", "三级", "四级"], dtype=object)
_DAMAGE = np.array(["无", "一般损坏", "严重损坏", "倒塌"], dtype=object)
_CITIES = np.array(
    [
        "广东省东莞市",
        "广东省深圳市",
        "浙江省宁波市",
        "浙江省温州市",
        "福建省泉州市",
        "江苏省苏州市",
        "广东省佛山市",
        "上海市",
        "贵州省贵阳市",
    ],
    dtype=object,
)
_EMPLOYERS = np.array(
    [
        "电子有限公司",
        "鞋业有限公司",
        "建筑工程有限公司",
        "服装厂",
        "物流有限公司",
        "餐饮管理有限公司",
        "家具制造有限公司",
    ],
    dtype=object,
)


def _zfill(a: np.ndarray, width: int) -> np.ndarray:
    """``np.char.zfill`` that also accepts empty arrays."""
    return np.char.zfill(a.astype(str), width) if a.size else np.array([], dtype=f"<U{width}")


def _obj(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=object)


class FeedBuilder:
    """Collects clean department records month by month.

    Parameters
    ----------
    sim:
        The running simulator (state is read when records are made).
    first_output:
        Simulation month of the first delivered period; records due earlier are dropped.
    last_output:
        Last simulation month that is delivered.
    """

    def __init__(self, sim: Simulator, first_output: int, last_output: int) -> None:
        self.sim = sim
        self.rng = np.random.default_rng(sim.rng.integers(0, 2**63))
        self.first_output, self.last_output = first_output, last_output
        self.pending: dict[str, dict[int, list[pa.Table]]] = defaultdict(lambda: defaultdict(list))
        self.seq: dict[str, int] = defaultdict(int)
        self.coverage = Columns(("event_id", "source", "covered", "deliver_month"))
        geo = sim.geo
        self.county_name = np.array([c.name for c in geo.counties], dtype=object)
        self.county_code = np.array([c.code for c in geo.counties], dtype=object)
        self.rings: Any = None

    # ------------------------------------------------------------------ helpers
    def _keys(self, source: str, n: int, prefix: str, width: int = 8) -> np.ndarray:
        start = self.seq[source]
        self.seq[source] += n
        nums = _zfill(np.arange(start + 1, start + n + 1), width)
        return _obj(np.char.add(prefix, nums))

    def emit(
        self,
        source: str,
        m: int,
        cols: dict[str, Any],
        deliver: np.ndarray | int,
        event_id: np.ndarray | None = None,
        covered: np.ndarray | None = None,
    ) -> None:
        """Queue records of ``source`` made in month ``m`` for their delivery months.

        ``covered`` (per event) says which events the department records at all;
        uncovered events are logged in the coverage truth and produce no record.
        """
        n = len(next(iter(cols.values())))
        deliver = np.broadcast_to(np.asarray(deliver, dtype=np.int64), (n,))
        if event_id is not None:
            cov = np.ones(n, bool) if covered is None else covered
            self.coverage.add(
                event_id=np.asarray(event_id),
                source=source,
                covered=cov,
                deliver_month=np.where(cov, deliver, -1),
            )
            if covered is not None:
                cols = {k: np.asarray(v)[covered] for k, v in cols.items()}
                deliver = deliver[covered]
                event_id = np.asarray(event_id)[covered]
                n = int(covered.sum())
        if n == 0:
            return
        spec = SOURCE_BY_NAME[source]
        uid = np.char.add(
            f"{source}:{m}:",
            np.arange(self.seq[source + ":uid"], self.seq[source + ":uid"] + n).astype(str),
        )
        self.seq[source + ":uid"] += n
        arrays: dict[str, pa.Array] = {}
        for col in spec.columns:
            v = np.asarray(cols[col.key])
            if col.role is Role.DATE:
                arrays[col.key] = pa.array(
                    (EPOCH_DAY + v.astype("timedelta64[D]")).astype("datetime64[D]")
                )
            elif col.role in (Role.MONEY, Role.FLOAT):
                arrays[col.key] = pa.array(np.round(v.astype(np.float64), 2))
            elif col.role is Role.INT:
                arrays[col.key] = pa.array(v.astype(np.int64))
            else:
                arrays[col.key] = pa.array(v.astype(object), pa.string())
        arrays["_row_uid"] = pa.array(uid.astype(object), pa.string())
        arrays["_event_id"] = pa.array(
            np.full(n, -1, np.int64) if event_id is None else np.asarray(event_id, np.int64)
        )
        table = pa.table(arrays)
        for d in np.unique(deliver):
            if self.first_output <= d <= self.last_output:
                self.pending[source][int(d)].append(table.filter(pa.array(deliver == d)))

    def take(self, source: str, m: int) -> pa.Table | None:
        """Clean records of ``source`` delivered in month ``m`` (None if none)."""
        parts = self.pending[source].pop(m, [])
        return pa.concat_tables(parts) if parts else None

    def _lag(self, n: int, lo: int, hi: int) -> np.ndarray:
        return self.rng.integers(lo, hi + 1, n)

    def person(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Department-visible fields of persons."""
        p, h, g = self.sim.pop.persons, self.sim.pop.households, self.sim.geo
        hh = p.hh[idx]
        v = h.village[hh]
        return {
            "name": _obj(p.name[idx]),
            "id": _obj(p.id[idx]),
            "sex": _SEX[p.male[idx].astype(int)],
            "birth": p.birth[idx],
            "village_code": _obj(g.village_code[v]),
            "village": _obj(g.village_name[v]),
            "township": _obj(g.township_name[g.village_township[v]]),
            "county": self.county_name[g.village_county[v]],
            "address": _obj(h.address[hh]),
            "household_no": _obj(h.code[hh]),
            "head_name": _obj(p.name[h.head[hh]]),
            "head_id": _obj(p.id[h.head[hh]]),
            "relation": _obj(np.array(RELATIONS, dtype=object)[p.rel[idx]]),
            "county_code": self.county_code[g.village_county[v]],
        }

    def household(self, hh: np.ndarray) -> dict[str, np.ndarray]:
        """Department-visible fields of households (head and place)."""
        h = self.sim.pop.households
        info = self.person(h.head[hh])
        return info

    # ------------------------------------------------------------------ per month
    def collect(self, out: MonthOutput, status: np.ndarray, rings: Any) -> None:
        """Make this month's records from ``out``.

        ``status`` is the true status per household (self-reports depend on it) and
        ``rings`` the truth's 12-month income buffers (the income survey reads them).
        """
        self.rings = rings
        m = out.month
        ev = out.events
        kinds = ev["kind"].astype(np.int64) if ev["kind"].size else np.array([], np.int64)

        def of(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            sel = kinds == EV[kind]
            return (
                ev["person"][sel].astype(np.int64),
                ev["event_id"][sel].astype(np.int64),
                np.flatnonzero(sel),
            )

        self._medical(out, m)
        self._civil_affairs(out, m, of)
        self._education(out, m, of)
        self._housing(out, m, of)
        self._water(out, m)
        self._hrss(out, m, of)
        self._disability(out, m, of)
        self._disasters(out, m)
        self._public_security(out, m, of)
        self._assets(out, m, of)
        self._agriculture(out, m)
        self._health(out, m, of)
        self._survey(out, m)
        self._reports(out, m, status)

    def _cal(self, m: int) -> int:
        return int((self.sim.first_month + m).astype(int) % 12) + 1

    def _medical(self, out: MonthOutput, m: int) -> None:
        c = out.claims
        n = c["person"].size
        if n == 0:
            return
        idx = c["person"].astype(np.int64)
        info = self.person(idx)
        lag_p = np.asarray(self.sim.params.coverage.medical_claims_latency)
        lag = self.rng.choice(lag_p.size, n, p=lag_p / lag_p.sum())
        settle = np.maximum(
            c["discharge"].astype(np.int64) + self.rng.integers(1, 10, n),
            self.sim.month_start(m) + 0,
        )
        settle = np.where(
            lag > 0, self.sim.month_start(m + 1) + self.rng.integers(0, 25, n), settle
        )
        settle = np.minimum(settle, self.sim.month_starts(m + lag + 1) - 1)
        cols = {
            "settlement_no": self._keys(
                "medical_claims", n, f"JS{info['county_code'][0] if n else ''}", 10
            ),
            "name": info["name"],
            "id_number": info["id"],
            "sex": info["sex"],
            "insured_region": _obj(np.char.add(info["county_code"].astype(str), "000000")),
            "visit_type": np.where(c["kind"] == 1, "住院", "门诊慢特病").astype(object),
            "disease": c["disease"],
            "admit_date": c["admit"],
            "discharge_date": c["discharge"],
            "settle_date": settle,
            "total_cost": c["total"],
            "fund_paid": c["fund"],
            "serious_ins_paid": c["serious_ins"],
            "assistance_paid": c["assistance"],
            "out_of_pocket": c["oop"],
        }
        eid = c["event_id"].astype(np.int64)
        self.emit("medical_claims", m, cols, m + lag, event_id=None)
        has = eid >= 0
        if has.any():
            self.coverage.add(
                event_id=eid[has],
                source="medical_claims",
                covered=True,
                deliver_month=(m + lag)[has],
            )

    def _civil_affairs(self, out: MonthOutput, m: int, of: Any) -> None:
        sim, h, p = self.sim, self.sim.pop.households, self.sim.pop.persons
        ip = sim.params.income
        rows: list[dict[str, Any]] = []
        for kind, cat, change in (
            ("dibao_start", "低保", "新增"),
            ("dibao_end", "低保", "停保"),
            ("temporary_assistance", "临时救助", "新增"),
        ):
            _, eids, sel = of(kind)
            hh = out.events["hh"][sel].astype(np.int64)
            if hh.size == 0:
                continue
            if kind == "temporary_assistance":
                members = h.head[hh].astype(np.int64)
                eid_m = eids
                amount = out.events["amount"][sel]
            else:
                mask = np.isin(p.hh[: p.n], hh) & (p.status[: p.n] == 0)
                members = np.flatnonzero(mask)
                pos = np.searchsorted(np.sort(hh), p.hh[members])
                eid_m = eids[np.argsort(hh)][pos]
                amount = np.round(
                    np.maximum(
                        ip.dibao_standard_yearly - sim.income_pc_12m[p.hh[members]],
                        ip.dibao_standard_yearly * 0.3,
                    )
                    / 12,
                    0,
                )
                amount = np.where(change == "停保", 0.0, amount)
            info = self.person(members)
            size = np.bincount(p.hh[: p.n], weights=p.status[: p.n] == 0, minlength=h.n)[
                p.hh[members]
            ]
            rows.append(
                {
                    "record_no": self._keys("civil_affairs", members.size, "MZ", 9),
                    "village": info["village"],
                    "head_name": info["head_name"],
                    "head_id": info["head_id"],
                    "name": info["name"],
                    "id_number": info["id"],
                    "relation": info["relation"],
                    "category": np.full(members.size, cat, dtype=object),
                    "change_type": np.full(members.size, change, dtype=object),
                    "persons": size.astype(np.int64),
                    "amount": amount,
                    "change_date": sim.month_start(m) + self.rng.integers(0, 28, members.size),
                    "_eid": eid_m,
                }
            )
        for r in rows:
            eid = r.pop("_eid")
            cov = self.rng.random(eid.size) < 0.98
            self.emit(
                "civil_affairs", m, r, m + self._lag(eid.size, 0, 1), event_id=eid, covered=cov
            )

    def _education(self, out: MonthOutput, m: int, of: Any) -> None:
        sim, p = self.sim, self.sim.pop.persons
        cal = self._cal(m)
        d0 = sim.month_start(m)
        idx, eids, _ = of("dropout")
        cov = self.rng.random(idx.size) < sim.params.coverage.dropout_coverage
        self.emit(
            "education",
            m,
            self._students(idx, "辍学", d0, m),
            m + self._lag(idx.size, 0, 1),
            event_id=eids,
            covered=cov,
        )
        if cal in (3, 9):
            n = p.n
            roster = np.flatnonzero((p.status[:n] == 0) & (p.school[:n] == 1))
            self.emit("education", m, self._students(roster, "在读", d0, m), m)

    def _students(self, idx: np.ndarray, status: str, d0: int, m: int) -> dict[str, Any]:
        p, h, ip = self.sim.pop.persons, self.sim.pop.households, self.sim.params.income
        info = self.person(idx)
        age = (d0 - p.birth[idx]) / 365.25
        stage = np.select([age < 12, age < 15, age < 19], ["小学", "初中", "高中"], "高校").astype(
            object
        )
        school = np.select(
            [age < 12, age < 15, age < 19],
            [
                np.char.add(info["township"].astype(str), "中心小学"),
                np.char.add(info["township"].astype(str), "中学"),
                np.char.add(info["county"].astype(str), "第一中学"),
            ],
            "贵州师范大学",
        ).astype(object)
        poor = (h.former_poor | h.dibao | h.tekun)[p.hh[idx]]
        fees = np.select(
            [stage == "高中", stage == "高校"],
            [ip.school_cost_senior / 2, ip.school_cost_college / 2],
            0.0,
        )
        aid = np.where(poor, fees * ip.school_aid_former_poor, 0.0)
        n = idx.size
        student_no = _obj(np.char.add("G", info["id"].astype(str)))
        return {
            "student_no": student_no,
            "name": info["name"],
            "id_number": info["id"],
            "sex": info["sex"],
            "birth_date": info["birth"],
            "school": school,
            "stage": stage,
            "status": np.full(n, status, dtype=object),
            "change_date": d0 + self.rng.integers(0, 28, n),
            "village": _obj(np.char.add(info["township"].astype(str), info["address"].astype(str))),
            "fees": fees if status == "在读" else np.zeros(n),
            "aid": aid if status == "在读" else np.zeros(n),
        }

    def _housing(self, out: MonthOutput, m: int, of: Any) -> None:
        sim, h, cp = self.sim, self.sim.pop.households, self.sim.params.coverage
        _, eids, sel = of("house_damaged")
        dmg_hh = out.events["hh"][sel].astype(np.int64)
        cov = self.rng.random(dmg_hh.size) < cp.housing_after_disaster
        d0 = sim.month_start(m)
        lag = self._lag(dmg_hh.size, 1, 2)
        self.emit(
            "housing",
            m,
            self._house_rows(dmg_hh, d0 + 28 + self.rng.integers(0, 30, dmg_hh.size)),
            m + lag,
            event_id=eids,
            covered=cov,
        )
        _, eids, sel = of("house_repaired")
        rep = out.events["hh"][sel].astype(np.int64)
        self.emit(
            "housing",
            m,
            self._house_rows(rep, d0 + self.rng.integers(0, 28, rep.size)),
            m + self._lag(rep.size, 0, 1),
            event_id=eids,
        )
        routine = np.flatnonzero(self.rng.random(h.n) < cp.housing_routine_monthly)
        routine = routine[self._present(routine)]
        self.emit(
            "housing", m, self._house_rows(routine, d0 + self.rng.integers(0, 28, routine.size)), m
        )

    def _present(self, hh: np.ndarray) -> np.ndarray:
        p = self.sim.pop.persons
        members = np.bincount(
            p.hh[: p.n], weights=p.status[: p.n] == 0, minlength=self.sim.pop.households.n
        )
        present: np.ndarray = members[hh] > 0
        return present

    def _house_rows(self, hh: np.ndarray, day: np.ndarray) -> dict[str, Any]:
        h = self.sim.pop.households
        info = self.household(hh)
        n = hh.size
        structure = self.rng.choice(
            np.array(["砖混", "砖木", "木结构", "土坯", "框架"], dtype=object),
            n,
            p=[0.45, 0.2, 0.2, 0.05, 0.1],
        )
        return {
            "record_no": self._keys("housing", n, "JD", 9),
            "township": info["township"],
            "village": info["village"],
            "head_name": info["name"],
            "head_id": info["id"],
            "address": _obj(np.char.add(info["township"].astype(str), info["address"].astype(str))),
            "assess_date": day,
            "grade": np.array(HOUSE_GRADES, dtype=object)[h.house[hh]],
            "structure": structure,
            "agency": _obj(np.char.add(info["county"].astype(str), "农村房屋安全鉴定中心")),
        }

    def _water(self, out: MonthOutput, m: int) -> None:
        sim, h, g = self.sim, self.sim.pop.households, self.sim.geo
        villages = np.flatnonzero(
            self.rng.random(g.n_villages) < sim.params.coverage.water_inspection_monthly
        )
        hh = np.flatnonzero(np.isin(h.village, villages))
        hh = hh[self._present(hh)]
        info = self.household(hh)
        n = hh.size
        supply = np.where(
            h.water_piped[hh],
            np.array(WATER_TYPES, dtype=object)[g.water_type[h.village[hh]]],
            "分散供水",
        ).astype(object)
        self.emit(
            "water",
            m,
            {
                "check_no": self._keys("water", n, "YS", 9),
                "township": info["township"],
                "village": info["village"],
                "village_code": info["village_code"],
                "head_name": info["name"],
                "head_id": info["id"],
                "supply_type": supply,
                "quantity": np.round(h.water_qty[hh], 0),
                "quality_ok": np.where(h.water_quality[hh], "是", "否").astype(object),
                "fetch_minutes": np.round(h.water_minutes[hh]).astype(np.int64),
                "short_days": np.round(h.water_short_days[hh]).astype(np.int64),
                "check_date": sim.month_start(m) + self.rng.integers(0, 28, n),
            },
            m,
        )

    def _hrss(self, out: MonthOutput, m: int, of: Any) -> None:
        cp = self.sim.params.coverage
        for kind, label, rate in (
            ("job_loss", "失业登记", cp.unemployment_coverage),
            ("reemployed", "就业登记", cp.employment_coverage),
        ):
            idx, eids, sel = of(kind)
            info = self.person(idx)
            n = idx.size
            cov = self.rng.random(n) < rate
            self.emit(
                "hrss_employment",
                m,
                {
                    "record_no": self._keys("hrss_employment", n, "RS", 9),
                    "name": info["name"],
                    "name_pinyin": _obj(romanise(info["name"].astype(str))) if n else info["name"],
                    "id_number": info["id"],
                    "sex": info["sex"],
                    "register_type": np.full(n, label, dtype=object),
                    "work_place": self.rng.choice(_CITIES, n),
                    "employer": np.where(
                        kind == "reemployed", self.rng.choice(_EMPLOYERS, n), ""
                    ).astype(object),
                    "monthly_wage": np.where(
                        kind == "reemployed", np.round(out.events["amount"][sel], -1), 0.0
                    ),
                    "register_date": out.events["day"][sel].astype(np.int64) + self._lag(n, 3, 25),
                },
                m + self._lag(n, 0, 1),
                event_id=eids,
                covered=cov,
            )

    def _disability(self, out: MonthOutput, m: int, of: Any) -> None:
        p, cp = self.sim.pop.persons, self.sim.params.coverage
        idx, eids, _ = of("disability_onset")
        n = idx.size
        info = self.person(idx)
        lag = self._lag(n, *cp.disability_latency)
        cov = self.rng.random(n) < cp.disability_coverage
        issue = np.array(self.sim.month_starts(m + lag), dtype=np.int64) + self._lag(n, 0, 27)
        self.emit(
            "disability",
            m,
            {
                "cert_no": _obj(
                    np.char.add(
                        np.char.add(info["id"].astype(str), (p.disab_type[idx] + 1).astype(str)),
                        p.disab[idx].astype(str),
                    )
                ),
                "name": info["name"],
                "sex": info["sex"],
                "id_number": info["id"],
                "disability_type": np.array(DISABILITY_TYPES, dtype=object)[p.disab_type[idx]],
                "grade": _GRADES_ZH[p.disab[idx]],
                "issue_date": issue,
                "address": _obj(
                    np.char.add(info["township"].astype(str), info["address"].astype(str))
                ),
            },
            m + lag,
            event_id=eids,
            covered=cov,
        )

    def _disasters(self, out: MonthOutput, m: int) -> None:
        d = out.disasters
        hh = d["hh"].astype(np.int64)
        n = hh.size
        if n == 0:
            return
        info = self.household(hh)
        cp = self.sim.params.coverage
        cov = self.rng.random(n) < cp.disaster_coverage
        lag = self._lag(n, 0, cp.disaster_latency_max)
        self.emit(
            "disaster_losses",
            m,
            {
                "report_no": self._keys("disaster_losses", n, "ZH", 9),
                "disaster_type": np.array(DISASTERS, dtype=object)[d["type"].astype(np.int64)],
                "occur_date": d["day"].astype(np.int64),
                "report_date": d["day"].astype(np.int64) + self._lag(n, 2, 20) + lag * 25,
                "township": info["township"],
                "village": info["village"],
                "village_code": info["village_code"],
                "head_name": info["name"],
                "head_id": info["id"],
                "affected_persons": d["persons"].astype(np.int64),
                "house_damage": _DAMAGE[d["house_damage"].astype(np.int64)],
                "crop_loss": d["crop_loss"],
                "direct_loss": d["direct_loss"],
            },
            m + lag,
            event_id=d["event_id"].astype(np.int64),
            covered=cov,
        )

    def _public_security(self, out: MonthOutput, m: int, of: Any) -> None:
        cp = self.sim.params.coverage
        for kind, label, cover, lag_max in (
            ("death", "死亡注销", cp.death_coverage, cp.death_latency_max),
            ("birth", "出生登记", 0.995, cp.birth_latency_max),
            ("marriage_out", "迁出", 0.95, 2),
            ("marriage_in", "迁入", 0.95, 2),
            ("marriage_move", "迁入", 0.95, 2),
        ):
            idx, eids, sel = of(kind)
            n = idx.size
            info = self.person(idx)
            cov = self.rng.random(n) < cover
            lag = self._lag(n, 0, lag_max)
            self.emit(
                "public_security",
                m,
                {
                    "record_no": self._keys("public_security", n, "HJ", 10),
                    "change_type": np.full(n, label, dtype=object),
                    "name": info["name"],
                    "id_number": info["id"],
                    "sex": info["sex"],
                    "birth_date": info["birth"],
                    "household_no": info["household_no"],
                    "head_name": info["head_name"],
                    "relation": info["relation"],
                    "change_date": out.events["day"][sel].astype(np.int64),
                    "address": _obj(
                        np.char.add(info["township"].astype(str), info["address"].astype(str))
                    ),
                },
                m + lag,
                event_id=eids,
                covered=cov,
            )

    def _assets(self, out: MonthOutput, m: int, of: Any) -> None:
        sim, h, p, rel = (
            self.sim,
            self.sim.pop.households,
            self.sim.pop.persons,
            self.sim.pop.relatives,
        )
        d0 = sim.month_start(m)
        cov = sim.params.coverage
        if m == self.first_output:  # full extracts: members' and non-resident children's assets
            for src, owner, rmask in (
                ("vehicles", h.car_owner, rel.car),
                ("market_registrations", h.business_owner, rel.business),
                ("real_estate", h.house_owner, rel.house),
            ):
                own = owner[owner >= 0].astype(np.int64)
                ridx = np.flatnonzero(rmask)
                names = np.concatenate([p.name[own], rel.name[ridx]]).astype(object)
                ids = np.concatenate([p.id[own], rel.id[ridx]]).astype(object)
                places = (
                    np.concatenate(
                        [
                            self.person(own)["county"],
                            self.county_name[sim.geo.village_county[h.village[rel.hh[ridx]]]],
                        ]
                    )
                    if names.size
                    else names
                )
                day = d0 - self.rng.integers(30, 3650, names.size)
                self.emit(src, m, self._asset_rows(src, names, ids, places, day), m)
            roster = np.flatnonzero(p.pub_emp[: p.n] & (p.status[: p.n] == 0))
            self._roster(roster, m)
        elif self._cal(m) == cov.public_employee_roster_month:
            self._roster(np.flatnonzero(p.pub_emp[: p.n] & (p.status[: p.n] == 0)), m)
        for kind, src in (
            ("vehicle_purchase", "vehicles"),
            ("business_registered", "market_registrations"),
            ("property_purchase", "real_estate"),
        ):
            idx, eids, sel = of(kind)
            info = self.person(idx)
            self.emit(
                src,
                m,
                self._asset_rows(
                    src,
                    info["name"],
                    info["id"],
                    info["county"],
                    out.events["day"][sel].astype(np.int64),
                ),
                m + self._lag(idx.size, 0, 1),
                event_id=eids,
            )

    def _roster(self, idx: np.ndarray, m: int) -> None:
        info = self.person(idx)
        pub_rel = np.flatnonzero(self.sim.pop.relatives.pub_emp)
        rel = self.sim.pop.relatives
        n = idx.size + pub_rel.size
        units = np.array(
            [
                "人民政府办公室",
                "教育局",
                "卫生健康局",
                "财政局",
                "中心小学",
                "人民医院",
                "自然资源局",
                "乡镇人民政府",
            ],
            dtype=object,
        )
        county = np.concatenate(
            [
                info["county"],
                self.county_name[
                    self.sim.geo.village_county[self.sim.pop.households.village[rel.hh[pub_rel]]]
                ],
            ]
        ).astype(str)
        self.emit(
            "public_employees",
            m,
            {
                "unit": _obj(np.char.add(county, self.rng.choice(units, n).astype(str))),
                "name": np.concatenate([info["name"], rel.name[pub_rel].astype(object)]),
                "id_number": np.concatenate([info["id"], rel.id[pub_rel].astype(object)]),
                "category": self.rng.choice(
                    np.array(["公务员", "参公管理", "事业编制"], dtype=object), n
                ),
                "start_date": self.sim.month_start(m) - self.rng.integers(365, 30 * 365, n),
            },
            m,
        )

    def _asset_rows(
        self, src: str, names: np.ndarray, ids: np.ndarray, places: np.ndarray, day: np.ndarray
    ) -> dict[str, Any]:
        n = names.size
        rng = self.rng
        if src == "vehicles":
            letters = np.array(list("ABCDEFGHJ"), dtype=object)
            plate = _obj(
                np.char.add(
                    np.char.add("贵", rng.choice(letters, n).astype(str)),
                    _zfill(np.arange(self.seq["plates"], self.seq["plates"] + n), 5),
                )
            )
            self.seq["plates"] += n
            return {
                "plate": plate,
                "vehicle_type": rng.choice(
                    np.array(["小型轿车", "小型普通客车", "小型越野客车"], dtype=object), n
                ),
                "owner_name": names,
                "owner_id": ids,
                "register_date": day,
                "status": np.full(n, "正常", dtype=object),
                "brand": rng.choice(
                    np.array(
                        ["五菱宏光", "长安CS75", "吉利帝豪", "大众朗逸", "比亚迪秦", "哈弗H6"],
                        dtype=object,
                    ),
                    n,
                ),
            }
        if src == "market_registrations":
            kind = rng.choice(
                np.array(["个体工商户", "有限责任公司", "农民专业合作社"], dtype=object),
                n,
                p=[0.75, 0.15, 0.1],
            )
            code = self._keys("market_registrations", n, "92520", 13)
            trade = rng.choice(
                np.array(
                    ["便利店", "农家乐", "养殖场", "建材经营部", "餐馆", "运输服务部"], dtype=object
                ),
                n,
            )
            return {
                "credit_code": code,
                "entity_name": _obj(
                    np.char.add(
                        np.char.add(places.astype(str), names.astype(str)), trade.astype(str)
                    )
                ),
                "entity_type": kind,
                "legal_name": names,
                "legal_id": ids,
                "capital": np.round(rng.lognormal(np.log(50000), 1.0, n), -3),
                "established": day,
                "reg_status": np.full(n, "存续", dtype=object),
                "address": _obj(np.char.add(places.astype(str), "城区")),
            }
        return {
            "cert_no": self._keys("real_estate", n, "黔(2025)不动产权第", 7),
            "owner_name": names,
            "owner_id": ids,
            "location": _obj(np.char.add(places.astype(str), "城区某小区")),
            "usage": np.full(n, "住宅", dtype=object),
            "nature": np.full(n, "商品房", dtype=object),
            "area": np.round(rng.normal(105, 20, n).clip(45, 220), 2),
            "register_date": day,
        }

    def _agriculture(self, out: MonthOutput, m: int) -> None:
        sim, h = self.sim, self.sim.pop.households
        ev = out.events
        sel = (
            np.flatnonzero(ev["kind"] == EV["project_failure"])
            if ev["kind"].size
            else np.array([], int)
        )
        hh = ev["hh"][sel].astype(np.int64)
        cov = self.rng.random(hh.size) < sim.params.coverage.project_report_coverage
        self.emit(
            "agriculture",
            m,
            self._project_rows(hh, m),
            m + self._lag(hh.size, 0, 1),
            event_id=ev["event_id"][sel].astype(np.int64),
            covered=cov,
        )
        if self._cal(m) in (3, 6, 9, 12):
            ledger = np.flatnonzero((h.project == 1) & (h.loan > 0))  # running projects, open loans
            ledger = ledger[self._present(ledger)]
            self.emit("agriculture", m, self._project_rows(ledger, m), m)

    def _project_rows(self, hh: np.ndarray, m: int) -> dict[str, Any]:
        h = self.sim.pop.households
        info = self.household(hh)
        n = hh.size
        d0 = self.sim.month_start(m)
        failed = h.project[hh] == 2
        due = h.loan_start[hh] + 365 * self.sim.params.shocks.loan_term_years
        overdue = h.loan_overdue[hh]
        return {
            "record_no": _obj(np.char.add("XM", h.code[hh].astype(str))),
            "township": info["township"],
            "village": info["village"],
            "head_name": info["name"],
            "head_id": info["id"],
            "project_type": np.array(INDUSTRIES, dtype=object)[
                self.sim.geo.industry[h.village[hh]]
            ],
            "loan_amount": h.loan[hh].astype(np.float64),
            "loan_date": h.loan_start[hh].astype(np.int64),
            "due_date": due.astype(np.int64),
            "project_status": np.where(failed, "失败", "正常").astype(object),
            "overdue": np.where(overdue, "是", "否").astype(object),
            "report_date": d0 + self.rng.integers(0, 28, n),
        }

    def _health(self, out: MonthOutput, m: int, of: Any) -> None:
        p = self.sim.pop.persons
        idx, eids, sel = of("serious_illness")
        n = idx.size
        info = self.person(idx)
        cov = self.rng.random(n) < self.sim.params.coverage.diagnosis_coverage
        day = out.events["day"][sel].astype(np.int64)
        self.emit(
            "health_diagnoses",
            m,
            {
                "report_no": self._keys("health_diagnoses", n, "DB", 10),
                "name": info["name"],
                "id_number": info["id"],
                "sex": info["sex"],
                "age": ((day - p.birth[idx]) / 365.25).astype(np.int64),
                "disease": out.events["info"][sel].astype(object),
                "category": np.full(n, "大病专项救治", dtype=object),
                "diagnosis_date": day,
                "hospital": _obj(np.char.add(info["county"].astype(str), "人民医院")),
            },
            m + self._lag(n, 0, 1),
            event_id=eids,
            covered=cov,
        )

    def _survey(self, out: MonthOutput, m: int) -> None:
        sim, h, cp = self.sim, self.sim.pop.households, self.sim.params.coverage
        cal = self._cal(m)
        if cal not in cp.survey_months:
            return
        ordinary = cp.survey_coverage_ordinary if cal == max(cp.survey_months) else 0.0
        take = self.rng.random(h.n) < np.where(
            h.former_poor | (h.monitor == 1), cp.survey_coverage_former_poor, ordinary
        )
        hh = np.flatnonzero(take)
        hh = hh[self._present(hh)]
        rings, p = self.rings, sim.pop.persons
        info = self.household(hh)
        n = hh.size
        noise = self.rng.lognormal(0, sim.params.coverage.survey_noise_sigma, (4, n))
        comp = [
            np.round(rings.total(k)[hh] * noise[i], 0)
            for i, k in enumerate(("wage", "production", "property", "transfer"))
        ]
        net = sum(comp, start=np.zeros(n))
        members = np.bincount(p.hh[: p.n], weights=p.status[: p.n] == 0, minlength=h.n)[hh]
        self.emit(
            "income_survey",
            m,
            {
                "household_no": _obj(h.code[hh]),
                "head_name": info["name"],
                "head_id": info["id"],
                "village_code": info["village_code"],
                "members": members.astype(np.int64),
                "wage": comp[0],
                "production": comp[1],
                "property": comp[2],
                "transfer": comp[3],
                "net_income": net,
                "per_capita": np.round(net / np.maximum(members, 1), 0),
                "medical": np.round(rings.total("medical_oop")[hh], 0),
                "education": np.round(rings.total("education")[hh], 0),
                "rehab": np.round(rings.total("rehab")[hh], 0),
                "survey_date": sim.month_start(m) + self.rng.integers(0, 20, n),
            },
            m,
        )

    def _reports(self, out: MonthOutput, m: int, status: np.ndarray) -> None:
        sim, h, cp = self.sim, self.sim.pop.households, self.sim.params.coverage
        rng = self.rng
        at_risk = status > 0
        rate = np.where(at_risk, cp.self_report_prob, cp.self_report_false_rate)
        hh = np.flatnonzero(rng.random(h.n) < rate)
        hh = hh[self._present(hh)]
        info = self.household(hh)
        n = hh.size
        d0 = sim.month_start(m)
        cause = np.argmax(sim.ledger[hh], axis=1) if n else np.array([], int)
        cats = np.array(CAUSES_ZH, dtype=object)[cause]
        phone = _obj(np.char.add("1", _zfill(rng.integers(3_000_000_000, 9_000_000_000, n), 10)))
        self.emit(
            "self_reports",
            m,
            {
                "report_id": self._keys("self_reports", n, "SB", 10),
                "submit_date": d0 + rng.integers(0, 28, n),
                "name": info["name"],
                "id_number": info["id"],
                "phone": phone,
                "village_code": info["village_code"],
                "category": cats,
                "description": _obj(
                    np.char.add(np.char.add("家庭", cats.astype(str)), "，生活困难，申请帮扶")
                ),
            },
            m,
        )
        hot = np.flatnonzero(rng.random(h.n) < cp.hotline_rate * np.where(at_risk, 8, 1))
        hot = hot[self._present(hot)]
        info = self.household(hot)
        k = hot.size
        topics = np.array(
            [
                "反映该户因病生活困难",
                "反映该户房屋漏雨",
                "咨询帮扶政策",
                "反映该户家中无劳动力",
                "反映该户饮水困难",
            ],
            dtype=object,
        )
        self.emit(
            "hotline",
            m,
            {
                "ticket_no": self._keys("hotline", k, "RX", 10),
                "call_date": d0 + rng.integers(0, 28, k),
                "subject_name": info["name"],
                "subject_id": info["id"],
                "township": info["township"],
                "village": info["village"],
                "content": rng.choice(topics, k),
                "category": rng.choice(
                    np.array(["帮扶诉求", "政策咨询", "问题线索"], dtype=object), k
                ),
            },
            m,
        )
