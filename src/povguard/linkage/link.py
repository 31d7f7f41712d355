"""The link stage: department records -> registry persons and households.

1. Fast path in the engine: the exact normalised resident ID (a registry
   person, or a declared non-resident relative: method ``relative``), the
   household number, or for household-level records the head's ID.
2. The rest are scored by the Splink linker (:mod:`povguard.linkage.linker`)
   with the built-in ``person`` spec against the registry's persons (heads only
   for household-level records): method ``probabilistic`` at or above the match
   threshold; pairs in the uncertain band go to the clerical review queue
   (table ``link_review``, method ``review``) unless a reviewer has decided the
   same pair before (method ``clerical`` when confirmed); below it ``unlinked``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from povguard.engine import Engine
from povguard.linkage.linker import Backend, LinkResult, UValues, engine_backend, link
from povguard.linkage.registry import REGISTRY_HEADS, REGISTRY_PERSONS, registry_u
from povguard.linkage.spec import LinkSpec, load_spec

LINKS = "links"
REVIEW = "link_review"
LINK_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("_file", pa.string()),
        ("_row", pa.int64()),
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("method", pa.string()),
        ("match_probability", pa.float64()),
    ]
)
REVIEW_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("pair_key", pa.string()),
        ("source", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("match_probability", pa.float64()),
        ("explanation", pa.string()),
        ("record", pa.string()),
        ("candidate", pa.string()),
    ]
)
#: Columns of a probe record (the built-in person spec's input).
PROBE_FIELDS = ("name", "id_number", "birth_date", "sex", "village_code")


@dataclass(frozen=True)
class LinkKeys:
    """Which fields of a source identify a person or a household."""

    source: str
    level: Literal["person", "household"]
    id: str | None = None
    name: str | None = None
    birth: str | None = None
    sex: str | None = None
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
        unlinked = sum(c.get("unlinked", 0) + c.get("review", 0) for c in self.counts.values())
        return 1.0 - unlinked / total if total else 1.0

    @property
    def review(self) -> int:
        """Records waiting in the clerical review queue."""
        return sum(c.get("review", 0) for c in self.counts.values())


def link_period(
    engine: Engine,
    period: str,
    keys: list[LinkKeys],
    progress: Callable[[str], None] | None = None,
    *,
    spec: LinkSpec | None = None,
    decisions: Mapping[str, str] | None = None,
) -> LinkReport:
    """Link every raw record of ``period``; store tables ``links`` and ``link_review``.

    Parameters
    ----------
    engine:
        The analytics store, with the registry loaded (:func:`load_registry`).
    period:
        ``YYYY-MM``.
    keys:
        The link keys of every source.
    progress:
        Called with each source's name when it is done.
    spec:
        The probabilistic model (default: the built-in ``person`` spec).
    decisions:
        Clerical decisions by pair key (``match`` or ``non_match``).
    """
    decisions = decisions or {}
    parts: list[Any] = []
    reviews: list[pa.Table] = []
    counts: dict[str, dict[str, int]] = {}
    residue: dict[str, list[tuple[LinkKeys, pa.Table]]] = {"person": [], "household": []}
    for k in keys:
        name = f"raw_{k.source}"
        if not engine.exists(name):
            continue
        raw = engine.table(name).filter(ibis._.period == period)
        if k.level == "person" and k.id:
            exact, rest = _person_exact(engine, raw, k, period)
        else:
            exact, rest = _household_exact(engine, raw, k, period)
        parts.append(exact)
        if rest.num_rows:
            residue["person" if k.level == "person" and k.id else "household"].append((k, rest))
        if progress:
            progress(k.source)
    backend = engine_backend(engine)
    u = registry_u(engine) if spec is None or spec.name == "person" else None
    spec = spec or load_spec("person")
    for level, items in residue.items():
        if items:
            scored, review = _scored(engine, backend, items, level, period, spec, decisions, u)
            parts.append(ibis.memtable(scored))
            reviews.append(review)
    if not parts:
        return LinkReport(period, {})
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p)
    engine.replace_period(LINKS, period, union)
    queue = pa.concat_tables([REVIEW_SCHEMA.empty_table(), *reviews])
    engine.replace_period(REVIEW, period, queue)
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
        match_probability=ibis.literal(1.0, "float64"),
    )


def _person_exact(engine: Engine, raw: Any, k: LinkKeys, period: str) -> tuple[Any, pa.Table]:
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
    return exact, engine.fetch(j.filter(~found).select(*_probe_columns(k, raw)))


def _household_exact(engine: Engine, raw: Any, k: LinkKeys, period: str) -> tuple[Any, pa.Table]:
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
    return exact, engine.fetch(unmatched.select(*_probe_columns(k, raw)))


def _probe_columns(k: LinkKeys, raw: Any) -> list[str]:
    cols = [
        "_file",
        "_row",
        k.name,
        k.birth,
        k.sex,
        f"{k.id}_raw" if k.id else None,
        k.village_code,
        k.village_name,
    ]
    return [c for c in dict.fromkeys(cols) if c and c in raw.columns]


def _village_codes(engine: Engine, names: list[str | None]) -> list[str | None]:
    """Village codes of village names that are unique in the region table."""
    if not any(names):
        return [None] * len(names)
    regions = engine.fetch(
        engine.table("regions").filter(ibis._.level == "village").select("region_code", "name")
    ).to_pylist()
    by_name: dict[str, list[str]] = {}
    for r in regions:
        by_name.setdefault(r["name"], []).append(r["region_code"])
    return [by_name[n][0] if n and len(by_name.get(n, ())) == 1 else None for n in names]


def _probe(engine: Engine, rest: pa.Table, k: LinkKeys) -> pa.Table:
    """The residual records as the person spec's input columns."""
    n = rest.num_rows
    empty = pa.nulls(n, pa.string())

    def col(name: str | None) -> Any:
        return rest[name] if name and name in rest.column_names else empty

    village = col(k.village_code)
    if village is empty and k.village_name and k.village_name in rest.column_names:
        village = pa.array(_village_codes(engine, rest[k.village_name].to_pylist()), pa.string())
    birth = col(k.birth)
    if pa.types.is_date(birth.type):
        birth = pc.strftime(birth, "%Y-%m-%d")
    return pa.table(
        {
            "record_id": pa.array([str(i) for i in range(n)], pa.string()),
            "name": col(k.name),
            "id_number": col(f"{k.id}_raw" if k.id else None),
            "birth_date": birth,
            "sex": col(k.sex),
            "village_code": village,
        }
    )


def pair_key(record: Mapping[str, Any], candidate: str) -> str:
    """Stable key of a (record, registry person) pair: the record's compared values + person."""
    text = json.dumps([record.get(f) for f in PROBE_FIELDS] + [candidate], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _scored(
    engine: Engine,
    backend: Backend,
    items: list[tuple[LinkKeys, pa.Table]],
    level: str,
    period: str,
    spec: LinkSpec,
    decisions: Mapping[str, str],
    u: UValues | None,
) -> tuple[pa.Table, pa.Table]:
    """Links of the records the fast path left (all sources of a level in one run)."""
    probes = []
    for n, (k, rest) in enumerate(items):
        probe = _probe(engine, rest, k)
        ids = pa.array([f"{n}:{i}" for i in range(probe.num_rows)], pa.string())
        probes.append(probe.set_column(0, "record_id", ids))
    probe = pa.concat_tables(probes)
    target = REGISTRY_PERSONS if level == "person" else REGISTRY_HEADS
    result = link(probe, target, spec, backend=backend, u=u)
    best = {r["unique_id"]: r for r in (result.best.to_pylist() if result.best else [])}
    registry = _registry_rows(engine, sorted({r["candidate"] for r in best.values()}))
    explanations = _explanations(result)
    sources = [k.source for k, rest in items for _ in range(rest.num_rows)]
    files = [f for _, rest in items for f in rest["_file"].to_pylist()]
    rows = [int(r) for _, rest in items for r in rest["_row"].to_pylist()]
    person: list[str | None] = []
    household: list[str | None] = []
    method: list[str] = []
    prob: list[float | None] = []
    review_rows: list[dict[str, Any]] = []
    for i, rec in enumerate(probe.to_pylist()):
        b = best.get(rec["record_id"])
        decision = b["decision"] if b else "none"
        cand = registry.get(b["candidate"]) if b else None
        chosen = None
        m = "unlinked"
        key = pair_key(rec, b["candidate"]) if b else ""
        verdict = decisions.get(key)
        if b and verdict is not None and decision != "none":
            # a reviewer's decision on the same pair stands, whatever the score now
            chosen, m = (cand, "clerical") if verdict == "match" else (None, "unlinked")
        elif b and decision == "review":
            m = "review"
            review_rows.append(
                {
                    "period": period,
                    "pair_key": key,
                    "source": sources[i],
                    "file": files[i],
                    "row": rows[i],
                    "person_id": b["candidate"],
                    "household_id": cand["household_id"] if cand else None,
                    "match_probability": b["match_probability"],
                    "explanation": explanations.get((rec["record_id"], b["candidate"])),
                    "record": json.dumps({f: rec[f] for f in PROBE_FIELDS}, ensure_ascii=False),
                    "candidate": json.dumps(
                        {f: (cand or {}).get(f) for f in PROBE_FIELDS}, ensure_ascii=False
                    ),
                }
            )
        elif b and decision == "match":
            chosen, m = cand, "probabilistic"
        if chosen and chosen["is_relative"]:
            m = "relative" if m == "probabilistic" else m
        person.append(
            chosen["person_id"]
            if chosen and level == "person" and not chosen["is_relative"]
            else None
        )
        household.append(chosen["household_id"] if chosen else None)
        method.append(m)
        prob.append(b["match_probability"] if b else None)
    n = len(method)
    links = pa.table(
        {
            "period": pa.array([period] * n, pa.string()),
            "source": pa.array(sources, pa.string()),
            "_file": pa.array(files, pa.string()),
            "_row": pa.array(rows, pa.int64()),
            "person_id": pa.array(person, pa.string()),
            "household_id": pa.array(household, pa.string()),
            "method": pa.array(method, pa.string()),
            "match_probability": pa.array(prob, pa.float64()),
        },
        schema=LINK_SCHEMA,
    )
    return links, pa.Table.from_pylist(review_rows, schema=REVIEW_SCHEMA)


def _explanations(result: LinkResult) -> dict[tuple[str, str], str]:
    pairs = result.pairs
    texts = result.explanations()
    return {
        (u, r): t
        for u, r, t in zip(
            pairs["unique_id_l"].to_pylist(), pairs["unique_id_r"].to_pylist(), texts, strict=True
        )
    }


def _registry_rows(engine: Engine, person_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not person_ids:
        return {}
    t = engine.table(REGISTRY_PERSONS)
    wanted = ibis.memtable(pa.table({"wanted_id": pa.array(person_ids, pa.string())}))
    rows = engine.fetch(
        t.join(wanted, t.record_id == wanted.wanted_id).select(
            "record_id", "household_id", "is_relative", *PROBE_FIELDS
        )
    ).to_pylist()
    return {r["record_id"]: {**r, "person_id": r["record_id"]} for r in rows}
