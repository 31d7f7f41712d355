"""A generic linker on Splink: ``link(left, right, spec)`` and ``dedupe(table, spec)``.

The core turns a :class:`~povguard.linkage.spec.LinkSpec` into a Splink model;
a :class:`Backend` (DuckDB by default, Spark by configuration) runs it. Inputs
are Arrow tables, prepared here (derived columns such as ``name__py``), or names
of tables already prepared in the backend (the registry). Steps:

1. fast path: a left record whose ``spec.exact`` value equals exactly one right
   record's is linked without scoring (probability 1);
2. the rest are blocked and scored by Splink; u probabilities are estimated by
   random sampling, m probabilities come from the spec's priors;
3. each left record gets its best candidate and a decision: ``match`` at or
   above the match threshold (and no rival above it), ``review`` in the
   uncertain band (or two rivals above the match threshold), ``none`` below.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from povguard.errors import ConfigError
from povguard.linkage.compare import id18, id_consistent, id_prefix, name_pinyin
from povguard.linkage.functions import register_duckdb, register_spark
from povguard.linkage.spec import Comparison, LinkSpec

log = logging.getLogger(__name__)

_counter = itertools.count()
Input: TypeAlias = pa.Table | str
LinkType = Literal["link_only", "dedupe_only"]


@dataclass
class Backend:
    """Where Splink runs: a DuckDB connection or a Spark session."""

    kind: Literal["duckdb", "spark"]
    handle: Any

    @classmethod
    def duckdb(cls, con: Any | None = None) -> Backend:
        """A DuckDB backend (a new in-memory database unless ``con`` is given)."""
        import duckdb

        con = con if con is not None else duckdb.connect()
        register_duckdb(con)
        return cls("duckdb", con)

    @classmethod
    def spark(cls, session: Any | None = None) -> Backend:
        """A Spark backend (the shared local session unless ``session`` is given)."""
        if session is None:
            from povguard.engine.spark import spark_session

            session = spark_session()
        context = session.sparkContext
        if context.getCheckpointDir() is None:  # Splink checkpoints intermediate tables
            import tempfile

            context.setCheckpointDir(tempfile.mkdtemp(prefix="povguard-splink-"))
        register_spark(session)
        return cls("spark", session)

    def api(self) -> Any:
        """A fresh Splink database API on this backend."""
        if self.kind == "duckdb":
            from splink import DuckDBAPI

            return DuckDBAPI(connection=self.handle)
        from splink import SparkAPI

        api: Any = SparkAPI
        return api(spark_session=self.handle, num_partitions_on_repartition=4)

    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` (DuckDB dialect; transpiled for Spark) and return Arrow."""
        if self.kind == "duckdb":
            cursor = self.handle.execute(sql)
            # DuckDB 1.5 renamed fetch_arrow_table (still there, deprecated)
            fetch = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table
            result: pa.Table = fetch()
            return result
        import sqlglot

        spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
        return pa.Table.from_pandas(self.handle.sql(spark_sql).toPandas(), preserve_index=False)

    def put(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table to SQL as ``name``."""
        if self.kind == "duckdb":
            self.handle.register(name, table)
        else:
            self.handle.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def drop(self, name: str) -> None:
        """Remove what :meth:`put` or :meth:`materialise` exposed."""
        if self.kind == "duckdb":
            self.handle.unregister(name)  # a view registered by put()
            self.handle.execute(f"drop table if exists temp.{name}")
        else:
            self.handle.catalog.dropTempView(name)

    def materialise(self, name: str, sql: str) -> None:
        """Store the result of ``sql`` (DuckDB dialect) as temporary table ``name``."""
        if self.kind == "duckdb":
            self.handle.execute(f"create or replace temp table {name} as {sql}")
        else:
            import sqlglot

            spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
            self.handle.sql(spark_sql).cache().createOrReplaceTempView(name)


def engine_backend(engine: Any) -> Backend:
    """The backend that runs inside a povguard analytics engine (same DuckDB or Spark)."""
    if engine.name == "spark":
        return Backend.spark(engine.session)
    return Backend.duckdb(engine.con.con)


def backend_for(kind: str | None) -> Backend:
    """The backend named ``kind`` (``duckdb`` or ``spark``; None = duckdb)."""
    if kind in (None, "duckdb"):
        return Backend.duckdb()
    if kind == "spark":
        return Backend.spark()
    raise ConfigError(f"unknown linkage backend {kind!r} (use duckdb or spark)")


# --------------------------------------------------------------------------- preparation


def _strings(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Values as strings; blank strings are missing values (a '' ID is no ID)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
        col = pc.strftime(col, "%Y-%m-%d")
    elif not pa.types.is_string(col.type):
        col = pc.cast(col, pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(col), "")
    return pc.if_else(blank, pa.scalar(None, pa.string()), col)


def _per_value(values: pa.Array, fn: Any) -> pa.Array:
    """``fn`` of every value, computed once per distinct value (nulls stay null)."""
    distinct = pc.unique(values).drop_null()
    results = pa.array([fn(v) for v in distinct.to_pylist()], pa.string())
    return pc.take(results, pc.index_in(values, distinct))


_STD_ID = r"^[0-9]{17}[0-9X]$"
_STD_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _id_columns(ids: pa.Array, births: pa.Array, sexes: pa.Array) -> tuple[pa.Array, ...]:
    """``id18``, ``id_prefix`` and ``id_consistent`` of every record, vectorised.

    Standard 18-character IDs with a well-formed birth date and sex (a registry's
    records, almost every department record) are computed with Arrow kernels; the
    rest go through the Python functions of :mod:`povguard.linkage.compare`.
    """
    null_s = pa.scalar(None, pa.string())
    emb = pc.strptime(pc.utf8_slice_codeunits(ids, 6, 14), "%Y%m%d", "s", error_is_null=True)
    emb = pc.strftime(emb, "%Y-%m-%d")
    own = pc.strptime(births, "%Y-%m-%d", "s", error_is_null=True)
    fast = pc.and_kleene(
        pc.fill_null(pc.match_substring_regex(ids, _STD_ID), False),
        pc.and_kleene(
            pc.is_valid(emb),
            pc.and_kleene(
                pc.or_kleene(pc.is_null(births), pc.is_valid(own)),
                pc.or_kleene(pc.is_null(sexes), pc.is_in(sexes, pa.array(["男", "女"]))),
            ),
        ),
    )
    fast = pc.fill_null(fast, False)
    digit = pc.if_else(fast, pc.utf8_slice_codeunits(ids, 16, 17), "0")
    odd = pc.equal(pc.bit_wise_and(pc.cast(digit, pa.int8()), 1), 1)
    id_sex = pc.if_else(odd, "男", "女")
    birth_ok = pc.if_else(pc.is_null(births), pa.scalar(None, pa.bool_()), pc.equal(emb, births))
    sex_ok = pc.if_else(pc.is_null(sexes), pa.scalar(None, pa.bool_()), pc.equal(id_sex, sexes))
    # False if any compared field disagrees, True if one agreed, else unknown
    disagree = pc.or_(
        pc.invert(pc.fill_null(birth_ok, True)), pc.invert(pc.fill_null(sex_ok, True))
    )
    agree = pc.or_(pc.fill_null(birth_ok, False), pc.fill_null(sex_ok, False))
    ok = pc.if_else(disagree, False, pc.if_else(agree, True, pa.scalar(None, pa.bool_())))
    full = pc.if_else(fast, ids, null_s)
    p14 = pc.if_else(fast, pc.utf8_slice_codeunits(ids, 0, 14), null_s)
    slow = [i for i, f in enumerate(fast.to_pylist()) if not f]
    if not slow:
        return full, p14, ok
    full_l, p14_l, ok_l = full.to_pylist(), p14.to_pylist(), ok.to_pylist()
    v, b, x = ids.to_pylist(), births.to_pylist(), sexes.to_pylist()
    for i in slow:
        full_l[i] = id18(v[i]) if v[i] else None
        p14_l[i] = id_prefix(v[i]) if v[i] else None
        ok_l[i] = id_consistent(v[i], b[i], x[i])
    return (
        pa.array(full_l, pa.string()),
        pa.array(p14_l, pa.string()),
        pa.array(ok_l, pa.bool_()),
    )


def derived_columns(spec: LinkSpec) -> list[str]:
    """Names of the columns :func:`prepare` adds for ``spec``."""
    out: list[str] = []
    for c in spec.comparisons:
        if c.kind == "chinese_name":
            out.append(f"{c.col}__py")
        elif c.kind == "resident_id":
            out += [f"{c.col}__18", f"{c.col}__p14", f"{c.col}__ok"]
    return out


def prepare(table: pa.Table, spec: LinkSpec, origin: str = "input") -> pa.Table:
    """The spec's input columns as strings plus the derived comparison columns.

    Raises
    ------
    ConfigError
        When ``table`` lacks a column the spec needs (the message names both).
    """
    missing = [c for c in spec.input_columns() if c not in table.column_names]
    if missing:
        raise ConfigError(f"link spec {spec.name}: {origin} has no column(s) {missing}")
    cols = {name: _strings(table[name]) for name in spec.input_columns()}
    n = table.num_rows
    comparisons: list[Comparison] = spec.comparisons
    for c in comparisons:
        if c.kind == "chinese_name":
            cols[f"{c.col}__py"] = _per_value(cols[c.col], name_pinyin)
        elif c.kind == "resident_id":
            births = cols[c.birth] if c.birth else pa.nulls(n, pa.string())
            sexes = cols[c.sex] if c.sex else pa.nulls(n, pa.string())
            full, p14, ok = _id_columns(cols[c.col], births, sexes)
            cols[f"{c.col}__18"], cols[f"{c.col}__p14"], cols[f"{c.col}__ok"] = full, p14, ok
    return pa.table(cols)


# --------------------------------------------------------------------------- Splink model


def _q(col: str, side: str) -> str:
    return f'"{col}_{side}"'


def _level(c: Comparison, label: str, m: float, u: float | None) -> Any:
    import splink.comparison_level_library as cll

    col = c.col
    l_, r_ = _q(col, "l"), _q(col, "r")
    lvl: Any
    if label == "else":
        lvl = cll.ElseLevel()
    elif c.kind == "custom":
        sql = next(lv.sql for lv in c.levels if lv.label == label)
        lvl = cll.CustomLevel(sql, base_dialect_str="duckdb")
    elif label == "exact":
        lvl = cll.ExactMatchLevel(col, term_frequency_adjustments=c.term_frequency)
    elif c.kind == "levenshtein":
        lvl = cll.LevenshteinLevel(col, int(float(label.split("<=")[1])))
    elif c.kind == "jaro_winkler":
        lvl = cll.JaroWinklerLevel(col, float(label.split(">=")[1]))
    elif c.kind == "chinese_name":
        if label == "homophone":  # same canonical pinyin: plain SQL on the prepared key
            sql = f'"{col}__py_l" = "{col}__py_r"'
        else:
            sql = f"pg_name_relation({l_}, {r_}) = '{label}'"
        lvl = cll.CustomLevel(sql, base_dialect_str="duckdb")
    elif c.kind == "birth_date":
        lvl = cll.CustomLevel(_birth_sql(l_, r_, label), base_dialect_str="duckdb")
    elif c.kind == "region_code":
        n = {"township": 9, "county": 6, "city": 4}[label]
        lvl = cll.CustomLevel(
            f"substr({l_}, 1, {n}) = substr({r_}, 1, {n})", base_dialect_str="duckdb"
        )
    else:  # resident_id
        # the Python comparison only runs where an ID window agrees: one wrong or
        # swapped digit anywhere leaves one of them intact (as in the person spec)
        def same(*parts: tuple[int, int]) -> str:
            return " AND ".join(
                f"substr({l_}, {a}, {n}) = substr({r_}, {a}, {n})" for a, n in parts
            )

        windows = [
            same((1, 14)),
            same((7, 12)),
            same((1, 6), (15, 4)),
            same((1, 5), (8, 11)),
            same((1, 13), (16, 3)),
        ]
        near = " OR ".join(f"({w})" for w in windows)
        rel = f"({near}) AND pg_id_relation({l_}, {r_})"
        ok = f'coalesce("{col}__ok_l", TRUE) AND coalesce("{col}__ok_r", TRUE)'
        if label == "legacy15":
            sql = f'"{col}__18_l" = "{col}__18_r"'
        elif label == "near_inconsistent":
            sql = f"{rel} IN ('check_char', 'transposition', 'one_digit')"
        elif label == "two_digits":
            sql = f"{rel} = 'two_digits'"
        elif label == "prefix14":  # an Excel remnant: region and birth date agree
            sql = (
                f'("{col}__18_l" IS NULL OR "{col}__18_r" IS NULL) '
                f'AND "{col}__p14_l" = "{col}__p14_r"'
            )
        else:
            sql = f"{rel} = '{label}' AND {ok}"
        lvl = cll.CustomLevel(sql, base_dialect_str="duckdb")
    if u is not None:
        return lvl.configure(m_probability=m, u_probability=u, label_for_charts=label)
    return lvl.configure(m_probability=m, label_for_charts=label)


def _birth_sql(l_: str, r_: str, label: str) -> str:
    """Birth-date levels on ``YYYY-MM-DD`` strings (same categories as ``birth_relation``)."""

    def eq(a: int, b: int) -> str:
        return f"substr({l_}, {a}, 2) = substr({r_}, {b}, 2)"

    year = f"substr({l_}, 1, 4) = substr({r_}, 1, 4)"
    if label == "swapped":
        return f"{year} AND {eq(6, 9)} AND {eq(9, 6)}"
    if label == "one_part":
        parts = [year, eq(6, 6), eq(9, 9)]
        return " + ".join(f"CASE WHEN {p} THEN 1 ELSE 0 END" for p in parts) + " = 2"
    return year  # year_only


#: u probabilities by comparison name and level label.
UValues = dict[str, dict[str, float]]


def _comparison(c: Comparison, u: UValues | None) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    known = (u or {}).get(c.name, {})
    levels = [cll.NullLevel(c.col)] + [
        _level(c, label, m, known.get(label) if u is not None else None) for label, m in c.ladder()
    ]
    return cl.CustomComparison(comparison_levels=levels, output_column_name=c.name)


def _settings(spec: LinkSpec, link_type: LinkType, prior: float, u: UValues | None = None) -> Any:
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name=spec.unique_id,
        comparisons=[_comparison(c, u) for c in spec.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in spec.blocking],
        probability_two_random_records_match=prior,
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
    )


# --------------------------------------------------------------------------- results


@dataclass
class LinkResult:
    """Scored pairs, per-record decisions and clusters of one link or dedupe run.

    Attributes
    ----------
    pairs:
        ``unique_id_l``, ``unique_id_r``, ``match_probability``, ``match_weight``,
        ``method`` (``exact`` fast path or ``scored``) and, per comparison,
        the level label (column named like the comparison) and its match weight
        (``<name>__w``, term-frequency adjustment included).
    best:
        (link only) one row per left record with a candidate: ``unique_id``,
        ``candidate``, ``match_probability``, ``runner_up`` (probability of the
        second best candidate), ``decision`` (``match``, ``review``, ``none``).
    clusters:
        ``cluster_id``, ``unique_id`` (and ``source_dataset`` for link runs) of
        the records joined by pairs at or above the match threshold.
    """

    spec: LinkSpec
    pairs: pa.Table
    best: pa.Table | None = None
    clusters: pa.Table | None = None
    stats: dict[str, float] = field(default_factory=dict)

    def explain(self, index: int) -> list[dict[str, Any]]:
        """Per-field explanation of pair ``index``: field, level, match weight."""
        row = self.pairs.slice(index, 1).to_pylist()[0]
        return [
            {"field": c.name, "level": row[c.name], "weight": row[f"{c.name}__w"]}
            for c in self.spec.comparisons
        ]

    def explanations(self) -> list[str]:
        """:meth:`explain` of every pair as a JSON string (same order as ``pairs``)."""
        labels = [self.pairs[c.name].to_pylist() for c in self.spec.comparisons]
        weights = [self.pairs[f"{c.name}__w"].to_pylist() for c in self.spec.comparisons]
        names = [c.name for c in self.spec.comparisons]
        out = []
        for i in range(self.pairs.num_rows):
            parts = [
                {
                    "field": n,
                    "level": lab[i],
                    "weight": None if w[i] is None else round(float(w[i]), 3),
                }
                for n, lab, w in zip(names, labels, weights, strict=True)
            ]
            out.append(json.dumps(parts, ensure_ascii=False))
        return out


def _pairs_from_splink(raw: pa.Table, spec: LinkSpec, model: dict[str, Any]) -> pa.Table:
    uid = spec.unique_id
    cols: dict[str, pa.Array | pa.ChunkedArray] = {
        "unique_id_l": pc.cast(raw[f"{uid}_l"], pa.string()),
        "unique_id_r": pc.cast(raw[f"{uid}_r"], pa.string()),
        "match_probability": pc.cast(raw["match_probability"], pa.float64()),
        "match_weight": pc.cast(raw["match_weight"], pa.float64()),
        "method": pa.array(["scored"] * raw.num_rows, pa.string()),
    }
    for c, cm in zip(spec.comparisons, model["comparisons"], strict=True):
        # gamma: -1 null, else (number of non-null levels - 1 - position)
        labels = [lv.get("label_for_charts", "") for lv in cm["comparison_levels"]]
        non_null = [
            lab
            for lab, lv in zip(labels, cm["comparison_levels"], strict=True)
            if not lv.get("is_null_level")
        ]
        lookup = {len(non_null) - 1 - i: lab for i, lab in enumerate(non_null)}
        lookup[-1] = "null"
        gamma = raw[f"gamma_{c.name}"].to_pylist()
        cols[c.name] = pa.array([lookup.get(g) for g in gamma], pa.string())
        w = pc.cast(raw[f"mw_{c.name}"], pa.float64())
        tf_col = f"mw_tf_adj_{c.name}"
        if tf_col in raw.column_names:
            w = pc.add(w, pc.fill_null(pc.cast(raw[tf_col], pa.float64()), 0.0))
        cols[f"{c.name}__w"] = w
    return pa.table(cols)


def _fast_pairs(keys: list[tuple[str, str]], spec: LinkSpec) -> pa.Table:
    n = len(keys)
    cols: dict[str, pa.Array] = {
        "unique_id_l": pa.array([k[0] for k in keys], pa.string()),
        "unique_id_r": pa.array([k[1] for k in keys], pa.string()),
        "match_probability": pa.array([1.0] * n, pa.float64()),
        "match_weight": pa.array([None] * n, pa.float64()),
        "method": pa.array(["exact"] * n, pa.string()),
    }
    for c in spec.comparisons:
        cols[c.name] = pa.array([None] * n, pa.string())
        cols[f"{c.name}__w"] = pa.array([None] * n, pa.float64())
    return pa.table(cols)


def _best(pairs: pa.Table, spec: LinkSpec) -> pa.Table:
    by: dict[str, list[tuple[float, str]]] = {}
    for u, r, p in zip(
        pairs["unique_id_l"].to_pylist(),
        pairs["unique_id_r"].to_pylist(),
        pairs["match_probability"].to_pylist(),
        strict=True,
    ):
        by.setdefault(u, []).append((float(p), r))
    uids, cands, probs, runners, decisions = [], [], [], [], []
    for u, options in by.items():
        options.sort(key=lambda x: (-x[0], x[1]))
        p, r = options[0]
        runner = options[1][0] if len(options) > 1 else 0.0
        if p >= spec.match_threshold and runner < spec.match_threshold:
            decision = "match"
        elif p >= spec.review_threshold:
            decision = "review"
        else:
            decision = "none"
        uids.append(u)
        cands.append(r)
        probs.append(p)
        runners.append(runner)
        decisions.append(decision)
    return pa.table(
        {
            "unique_id": pa.array(uids, pa.string()),
            "candidate": pa.array(cands, pa.string()),
            "match_probability": pa.array(probs, pa.float64()),
            "runner_up": pa.array(runners, pa.float64()),
            "decision": pa.array(decisions, pa.string()),
        }
    )


# --------------------------------------------------------------------------- link / dedupe


def _name(prefix: str) -> str:
    return f"__pg_{prefix}_{next(_counter)}"


def _fast_path(backend: Backend, left: str, right: str, spec: LinkSpec) -> list[tuple[str, str]]:
    uid = spec.unique_id
    found: dict[str, str] = {}
    for col in spec.exact:
        sql = (
            f'select l."{uid}" as u, min(r."{uid}") as r, count(distinct r."{uid}") as n '
            f'from {left} l join {right} r on l."{col}" = r."{col}" '
            f'where l."{col}" is not null group by l."{uid}"'
        )
        t = backend.query(sql)
        for u, r, n in zip(t["u"].to_pylist(), t["r"].to_pylist(), t["n"].to_pylist(), strict=True):
            if n == 1 and str(u) not in found:
                found[str(u)] = str(r)
    return sorted(found.items())


def link(
    left: pa.Table,
    right: Input,
    spec: LinkSpec,
    *,
    backend: Backend | None = None,
    u: UValues | None = None,
    min_probability: float = 0.01,
) -> LinkResult:
    """Link the records of ``left`` to those of ``right``.

    Parameters
    ----------
    left:
        Records to link (Arrow; prepared here).
    right:
        Records to link to: Arrow (prepared here) or the name of a table already
        prepared in ``backend`` (with :func:`derived_columns`).
    spec:
        The linkage model.
    backend:
        Where to run (default: a new in-memory DuckDB).
    u:
        u probabilities from :func:`estimate_u` (default: estimated here by
        random sampling of the inputs).
    min_probability:
        Scored pairs below this probability are dropped from the result.

    Returns
    -------
    LinkResult
        Pairs with probabilities and per-field explanation, per-record best
        candidates with decisions, and clusters.
    """
    backend = backend or Backend.duckdb()
    lt = prepare(left, spec, "left")
    l_name, r_name = _name("left"), right if isinstance(right, str) else _name("right")
    backend.put(l_name, lt)
    if not isinstance(right, str):
        backend.put(r_name, prepare(right, spec, "right"))
    try:
        fast = _fast_path(backend, l_name, r_name, spec)
        done = {u for u, _ in fast}
        rest = lt.filter(
            pc.invert(pc.is_in(lt[spec.unique_id], pa.array(sorted(done), pa.string())))
        )
        scored = _score(backend, [rest], r_name, spec, "link_only", min_probability, u)
    finally:
        backend.drop(l_name)
        if not isinstance(right, str):
            backend.drop(r_name)
    pairs = pa.concat_tables([_fast_pairs(fast, spec), scored]) if fast else scored
    stats = {
        "left": lt.num_rows,
        "fast_path": len(fast),
        "scored_records": rest.num_rows,
        "pairs": pairs.num_rows,
    }
    return LinkResult(spec, pairs, _best(pairs, spec), None, stats)


def dedupe(
    table: pa.Table,
    spec: LinkSpec,
    *,
    backend: Backend | None = None,
    u: UValues | None = None,
    min_probability: float = 0.01,
) -> LinkResult:
    """Find records of ``table`` that belong to the same entity, and cluster them.

    Parameters are those of :func:`link`; the result has ``pairs`` and ``clusters``.
    """
    backend = backend or Backend.duckdb()
    prepared = prepare(table, spec, "table")
    pairs = _score(backend, [prepared], None, spec, "dedupe_only", min_probability, u)
    clusters = _clusters(backend, prepared[spec.unique_id], pairs, spec.match_threshold)
    return LinkResult(
        spec, pairs, None, clusters, {"records": prepared.num_rows, "pairs": pairs.num_rows}
    )


def _score(
    backend: Backend,
    tables: Sequence[pa.Table],
    right: str | None,
    spec: LinkSpec,
    link_type: LinkType,
    min_probability: float,
    u: UValues | None,
) -> pa.Table:
    from splink import Linker

    empty = _fast_pairs([], spec)
    if any(t.num_rows == 0 for t in tables):
        return empty
    api = backend.api()
    inputs = [api.register(t, dataset_display_name=_name("in")) for t in tables]
    if right is not None:
        inputs.append(api.register(right, dataset_display_name=_name("reg")))
    sizes = [t.num_rows for t in tables]
    if right is not None:
        sizes.append(int(backend.query(f"select count(*) as n from {right}")["n"][0].as_py()))
    if link_type == "link_only" and min(sizes) == 0:
        return empty
    prior = spec.prior or 1.0 / max(*sizes, 2)
    linker: Any = Linker(inputs, _settings(spec, link_type, prior, u), log_level=None)
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)  # Splink's advice on max_pairs and untrained levels
    tf_tables: list[str] = []
    try:
        if right is not None:
            # frequencies of the records linked to, not of this batch: repeats of a
            # name among the month's records must not weaken their own matches
            for c in spec.comparisons:
                if c.term_frequency:
                    tf_tables.append(_name("tf"))
                    col = f'"{c.col}"'
                    backend.materialise(
                        tf_tables[-1],
                        f'select {col}, count(*) / sum(count(*)) over () as "tf_{c.col}" '
                        f"from {right} where {col} is not null group by {col}",
                    )
                    lookup = api.register(tf_tables[-1], dataset_display_name=_name("tfl"))
                    linker.table_management.register_term_frequency_lookup(lookup, c.col)
        if u is None:
            linker.training.estimate_u_using_random_sampling(
                max_pairs=spec.u_max_pairs, seed=spec.seed
            )
        predictions = linker.inference.predict(
            threshold_match_probability=min_probability, warning_mode="never"
        )
        raw = predictions.as_pyarrow_table()
        model = linker.misc.save_model_to_json()
        pairs = _pairs_from_splink(raw, spec, model) if raw.num_rows else empty
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        for t in tf_tables:
            backend.drop(t)
        splink_log.setLevel(level)
    return pairs


def _clusters(
    backend: Backend, ids: pa.ChunkedArray, pairs: pa.Table, threshold: float
) -> pa.Table:
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes = pa.table({"unique_id": pc.cast(ids, pa.string())})
    edges = pairs.select(["unique_id_l", "unique_id_r", "match_probability"])
    api = backend.api()
    out: Any = cluster_pairwise_predictions_at_threshold(
        nodes,
        edges,
        api,
        node_id_column_name="unique_id",
        threshold_match_probability=threshold,
    )
    table = out.as_pyarrow_table().select(["cluster_id", "unique_id"])
    return table.sort_by([("cluster_id", "ascending"), ("unique_id", "ascending")])


def estimate_u(table: Input, spec: LinkSpec, *, backend: Backend | None = None) -> UValues:
    """u probabilities of every level, from random pairs of ``table``'s records.

    Pairs of distinct records drawn at random are almost all non-matches, so the
    share of them at each level estimates u (Splink's random sampling, at most
    ``spec.u_max_pairs`` pairs). A level never seen in the sample gets half a
    pair's share, so it stays finite; u is then raised where needed so that the
    weights fall along each ladder (a rare worse level never outweighs a better
    one). Estimate once per registry and pass the result to :func:`link`,
    instead of sampling on every run.
    """
    from splink import Linker

    backend = backend or Backend.duckdb()
    if not isinstance(table, str) and table.num_rows < 2:
        raise ConfigError(f"link spec {spec.name}: u needs at least two records")
    api = backend.api()
    if isinstance(table, str):
        source = api.register(table, dataset_display_name=_name("reg"))
    else:
        source = api.register(prepare(table, spec, "table"), dataset_display_name=_name("in"))
    linker: Any = Linker(source, _settings(spec, "dedupe_only", 1e-6), log_level=None)
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)
    try:
        linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.seed)
        model = linker.misc.save_model_to_json()
    finally:
        linker.table_management.delete_tables_created_by_splink_from_db()
        splink_log.setLevel(level)
    floor = 0.5 / spec.u_max_pairs
    out: UValues = {}
    for c, cm in zip(spec.comparisons, model["comparisons"], strict=True):
        levels = [lv for lv in cm["comparison_levels"] if not lv.get("is_null_level")]
        seen = [i for i, lv in enumerate(levels) if (lv.get("u_probability") or 0.0) > 0]
        last_seen = seen[-1] if seen else -1
        out[c.name] = {}
        for i, lv in enumerate(levels):
            u = float(lv.get("u_probability") or 0.0)
            if u <= 0:
                # a rare agreement level gets the floor; a disagreement level that no
                # random pair reached (another county, in a one-county registry) is
                # taken as common among non-matches (u = 1/2): evidence against a match
                u = floor if i < last_seen else max(0.5, float(lv["m_probability"]))
            if i > 0:  # a worse level never weighs more than a better one: m/u falls
                prev, m_prev = levels[i - 1], float(levels[i - 1]["m_probability"])
                prev_u = out[c.name][prev["label_for_charts"]]
                u = max(u, prev_u * float(lv["m_probability"]) / m_prev)
            out[c.name][lv["label_for_charts"]] = min(u, 1.0)
    return out
