"""The link stage: department records -> registry persons and households.

First version (issue 3): the exact normalised resident ID is the fast path; the
rest fall back to the name's toneless pinyin plus birth date (from the record, or
from the digits of a damaged ID) and, where the record has one, the village.
Records that only carry household keys (a house inspection) link through the
head's ID, the household number, or the head's name in the village. IDs of
declared non-resident children link to their parents' household (method
``relative``), for ineligibility checks.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import pyarrow as pa

from povguard.engine import Engine
from povguard.linkage.names import name_keys

LINKS = "links"
LINK_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("_file", pa.string()),
        ("_row", pa.int64()),
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("method", pa.string()),
    ]
)


@dataclass(frozen=True)
class LinkKeys:
    """Which fields of a source identify a person or a household."""

    source: str
    level: Literal["person", "household"]
    id: str | None = None
    name: str | None = None
    birth: str | None = None
    village_code: str | None = None
    village_name: str | None = None
    household_no: str | None = None


@dataclass
class LinkReport:
    """Counts per source and method."""

    period: str
    counts: dict[str, dict[str, int]]

    @property
    def rate(self) -> float:
        """Share of records linked to a household."""
        total = sum(sum(c.values()) for c in self.counts.values())
        unlinked = sum(c.get("unlinked", 0) for c in self.counts.values())
        return 1.0 - unlinked / total if total else 1.0


def _birth_from_id(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    text = "".join(unicodedata.normalize("NFKC", raw).split())
    try:
        if len(text) == 18:
            return dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        if len(text) == 15:
            return dt.date(1900 + int(text[6:8]), int(text[8:10]), int(text[10:12]))
    except ValueError:
        return None
    return None


def link_period(
    engine: Engine,
    period: str,
    keys: list[LinkKeys],
    progress: Callable[[str], None] | None = None,
) -> LinkReport:
    """Link every raw record of ``period`` and store the result in table ``links``."""
    parts: list[Any] = []
    counts: dict[str, dict[str, int]] = {}
    for k in keys:
        name = f"raw_{k.source}"
        if not engine.exists(name):
            continue
        raw = engine.table(name).filter(ibis._.period == period)
        if k.level == "person" and k.id:
            exact, fallback = _person_exact(engine, raw, k, period)
        else:
            exact, fallback = _household_exact(engine, raw, k, period)
        parts.append(exact)
        if fallback is not None:
            parts.append(ibis.memtable(fallback))
        if progress:
            progress(k.source)
    if not parts:
        return LinkReport(period, {})
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p)
    engine.replace_period(LINKS, period, union)
    stats = engine.fetch(
        engine.table(LINKS)
        .filter(ibis._.period == period)
        .group_by(["source", "method"])
        .aggregate(n=ibis._.count())
    ).to_pylist()
    for row in stats:
        counts.setdefault(row["source"], {})[row["method"]] = int(row["n"])
    return LinkReport(period, counts)


def _out(expr: Any, k: LinkKeys, period: str, person: Any, household: Any, method: Any) -> Any:
    """The link columns of ``expr`` (whose filter already selected the rows)."""
    return expr.select(
        period=ibis.literal(period),
        source=ibis.literal(k.source),
        _file=expr._file,
        _row=expr._row.cast("int64"),
        person_id=person,
        household_id=household,
        method=method,
    )


def _person_exact(
    engine: Engine, raw: Any, k: LinkKeys, period: str
) -> tuple[Any, pa.Table | None]:
    assert k.id is not None
    persons = engine.table("registry_persons").select(
        p_id=ibis._.id_number, p_household=ibis._.household_id
    )
    relatives = engine.table("registry_relatives").select(
        r_id=ibis._.id_number, r_household=ibis._.household_id
    )
    j = raw.left_join(persons, raw[k.id] == persons.p_id).left_join(
        relatives, raw[k.id] == relatives.r_id
    )
    found = j.p_id.notnull() | j.r_id.notnull()
    if k.household_no and k.household_no in raw.columns:
        # a person not (yet) in the registry, e.g. a newborn, still belongs to a household
        hh = engine.table("registry_households").select(n_household=ibis._.household_id)
        j = j.left_join(hh, j[k.household_no] == hh.n_household)
        found = j.p_id.notnull() | j.r_id.notnull() | j.n_household.notnull()
        household = j.p_household.coalesce(j.r_household, j.n_household)
    else:
        household = j.p_household.coalesce(j.r_household)
    method = ibis.cases(
        (j.p_id.notnull(), "id"), (j.r_id.notnull(), "relative"), else_="household_no"
    )
    exact = _out(j.filter(found), k, period, j.p_id, household, method)
    cols = ["_file", "_row", k.name, k.birth, f"{k.id}_raw", k.village_code, k.village_name]
    present = [c for c in dict.fromkeys(cols) if c and c in raw.columns]
    rest = engine.fetch(j.filter(~found).select(*present))
    return exact, _fallback(engine, rest, k, period)


def _household_exact(
    engine: Engine, raw: Any, k: LinkKeys, period: str
) -> tuple[Any, pa.Table | None]:
    heads = engine.table("registry_persons").filter(ibis._.is_head)
    heads = heads.select(h_id=ibis._.id_number, h_household=ibis._.household_id)
    hh = engine.table("registry_households").select(n_household=ibis._.household_id)
    j = raw
    cond_cols = []
    if k.id and k.id in raw.columns:
        j = j.left_join(heads, raw[k.id] == heads.h_id)
        cond_cols.append("h_household")
    if k.household_no and k.household_no in raw.columns:
        j = j.left_join(hh, raw[k.household_no] == hh.n_household)
        cond_cols.append("n_household")
    if not cond_cols:
        household = ibis.null("string")
        matched = j.filter(ibis.literal(False))
    else:
        household = ibis.coalesce(*[j[c] for c in cond_cols])
        matched = j.filter(household.notnull())
        household = ibis.coalesce(*[matched[c] for c in cond_cols])
    method = "household_no" if cond_cols == ["n_household"] else "id"
    exact = _out(matched, k, period, ibis.null("string"), household, ibis.literal(method))
    unmatched = j.filter(ibis.coalesce(*[j[c] for c in cond_cols]).isnull()) if cond_cols else j
    cols = [
        "_file",
        "_row",
        k.name,
        k.birth,
        f"{k.id}_raw" if k.id else None,
        k.village_code,
        k.village_name,
    ]
    present = [c for c in dict.fromkeys(cols) if c and c in raw.columns]
    rest = engine.fetch(unmatched.select(*present))
    return exact, _fallback(engine, rest, k, period)


def _fallback(engine: Engine, rest: pa.Table, k: LinkKeys, period: str) -> pa.Table | None:
    """Name pinyin + birth date (+ village) for records without a usable ID (bounded)."""
    if rest.num_rows == 0:
        return None
    rows = rest.to_pylist()
    keys = name_keys([r.get(k.name) if k.name else None for r in rows])
    births: list[dt.date | None] = []
    for r in rows:
        b = r.get(k.birth) if k.birth else None
        if b is None and k.id:
            b = _birth_from_id(r.get(f"{k.id}_raw"))
        births.append(b)
    village = [r.get(k.village_code) if k.village_code else None for r in rows]
    vname = [r.get(k.village_name) if k.village_name else None for r in rows]
    probe = pa.table(
        {
            "q": pa.array(range(len(rows)), pa.int64()),
            "q_key": pa.array(keys, pa.string()),
            "q_birth": pa.array(births, pa.date32()),
            "q_village": pa.array(village, pa.string()),
        }
    )
    persons = engine.table("registry_persons")
    if k.level == "household":
        persons = persons.filter(ibis._.is_head)
    cand = persons.select(
        c_id=ibis._.id_number,
        c_household=ibis._.household_id,
        c_key=ibis._.name_key,
        c_birth=ibis._.birth_date,
        c_village=ibis._.village_code,
    )
    q = ibis.memtable(probe)
    by_birth = q.filter(q.q_key.notnull() & q.q_birth.notnull()).join(
        cand, (q.q_key == cand.c_key) & (q.q_birth == cand.c_birth)
    )
    by_village = q.filter(q.q_key.notnull() & q.q_birth.isnull() & q.q_village.notnull()).join(
        cand, (q.q_key == cand.c_key) & (q.q_village == cand.c_village)
    )
    found = engine.fetch(
        by_birth.select(
            "q", "c_id", "c_household", "c_village", m=ibis.literal("name_birth")
        ).union(
            by_village.select(
                "q", "c_id", "c_household", "c_village", m=ibis.literal("name_village")
            )
        )
    ).to_pylist()
    # village names (no code) narrow ambiguous candidates through the region table
    names_by_code: dict[str, str] = {}
    if k.village_name and any(vname):
        regions = engine.fetch(
            engine.table("regions").filter(ibis._.level == "village").select("region_code", "name")
        ).to_pylist()
        names_by_code = {r["region_code"]: r["name"] for r in regions}
    cands: dict[int, list[dict[str, Any]]] = {}
    for f in found:
        cands.setdefault(int(f["q"]), []).append(f)
    out_person: list[str | None] = []
    out_household: list[str | None] = []
    out_method: list[str] = []
    for i in range(len(rows)):
        options = cands.get(i, [])
        if len(options) > 1 and village[i]:
            options = [o for o in options if o["c_village"] == village[i]]
        if len(options) > 1 and vname[i]:
            options = [o for o in options if names_by_code.get(o["c_village"]) == vname[i]]
        if len(options) == 1:
            o = options[0]
            out_person.append(o["c_id"] if k.level == "person" else None)
            out_household.append(o["c_household"])
            out_method.append(str(o["m"]))
        else:
            out_person.append(None)
            out_household.append(None)
            out_method.append("unlinked" if not options else "ambiguous")
    return pa.table(
        {
            "period": pa.array([period] * len(rows), pa.string()),
            "source": pa.array([k.source] * len(rows), pa.string()),
            "_file": rest["_file"].cast(pa.string()),
            "_row": rest["_row"].cast(pa.int64()),
            "person_id": pa.array(out_person, pa.string()),
            "household_id": pa.array(out_household, pa.string()),
            "method": pa.array(out_method, pa.string()),
        },
        schema=LINK_SCHEMA,
    )
