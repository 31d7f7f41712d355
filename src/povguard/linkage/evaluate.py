"""Linkage evaluation: the ``links`` table against the synthetic twin's truth.

Only evaluation code reads the twin's truth (DESIGN.md, "Truth stays apart"). The
truth of a delivered row is derived from two things only: the *clean* record the
department meant to send (``truth/feeds/<period>/<source>.clean.parquet``) and the
registry the twin published (``registry/*.parquet``):

* person-level sources: the clean ID number names a registry person (person and
  household known); failing that a declared non-resident relative (household
  only); failing that, where the source carries a household number, a registry
  household; otherwise the person is truly absent and a correct linker leaves
  the row unlinked;
* household-level sources: the clean head ID names a registry person (normally
  the head) whose household is the target; failing that the clean household
  number.

The loaded and quarantined rows of a ``(period, source)`` are put back in file
order and aligned one-to-one with ``<source>.rows.parquet``, exactly as the
ingestion tests do. The comparison runs inside the analytics engine (the truth
goes in as an in-memory table); only per-group counts come back.

Scoring, per loaded row: the *unit* is the person when the truth names a person
of a person-level source, the household otherwise. A predicted link that is right
is a true positive; a wrong one is a false positive and, when the truth had a
target, also a false negative; no prediction where the truth has a target is a
false negative; no prediction and no target is a true negative. Rows waiting in
the clerical review queue (method ``review``), ``unlinked`` and ``ambiguous`` rows
are not predictions, whatever ids they carry.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Group
from rich.table import Table

from povguard.engine import Engine
from povguard.errors import ConfigError
from povguard.evaluate.scores import Score
from povguard.linkage.link import LINKS, LinkKeys

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "NOT_LINKED",
    "TRUE_LINK_SCHEMA",
    "LinkScore",
    "LinkageEvaluation",
    "ReviewVolume",
    "evaluate_linkage",
    "resolve_twin",
    "true_links",
    "truth_periods",
]

#: Link methods that are not a prediction (the row is not linked).
NOT_LINKED: frozenset[str] = frozenset({"unlinked", "ambiguous", "review"})
#: Method label of a loaded row that has no row in ``links`` at all.
NO_LINK_ROW = "(no link row)"
#: Defect bucket of rows without any logged defect.
CLEAN = "clean"

#: Schema of :func:`true_links`.
TRUE_LINK_SCHEMA = pa.schema(
    [
        ("period", pa.string()),
        ("source", pa.string()),
        ("level", pa.string()),
        ("row_index", pa.int64()),
        ("row_uid", pa.string()),
        ("person_id", pa.string()),
        ("household_id", pa.string()),
        ("defects", pa.list_(pa.string())),
    ]
)

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SEP = "|"  # joins a row's defect types into one signature string inside the engine


# --------------------------------------------------------------------------- truth


def resolve_twin(path: Path) -> tuple[Path, Path]:
    """The truth and registry folders of a twin.

    Parameters
    ----------
    path:
        Either the twin folder (holding ``truth/`` and ``registry/``) or its
        ``truth/`` folder (whose sibling is ``registry/``).

    Returns
    -------
    tuple[Path, Path]
        ``(truth_dir, registry_dir)``; ``truth_dir`` holds ``feeds/<YYYY-MM>/``.

    Raises
    ------
    ConfigError
        When no ``feeds/`` truth or no registry folder is found, naming the paths.
    """
    if (path / "truth" / "feeds").is_dir():
        truth = path / "truth"
    elif (path / "feeds").is_dir() and any(path.glob("feeds/*/*.rows.parquet")):
        truth = path
    else:
        raise ConfigError(
            f"no twin truth at {path}: expected {path / 'truth' / 'feeds'} "
            f"(a twin folder) or {path / 'feeds'} with <YYYY-MM>/<source>.rows.parquet"
        )
    registry = truth.parent / "registry"
    if not (registry / "persons.parquet").is_file():
        raise ConfigError(f"no registry at {registry} (expected {registry / 'persons.parquet'})")
    return truth, registry


def truth_periods(truth_dir: Path) -> list[str]:
    """The ``YYYY-MM`` periods with delivered-row truth under ``truth_dir/feeds``."""
    feeds = truth_dir / "feeds"
    if not feeds.is_dir():
        raise ConfigError(f"no truth folder {feeds}")
    return sorted(
        p.name
        for p in feeds.iterdir()
        if p.is_dir() and _PERIOD.match(p.name) and any(p.glob("*.rows.parquet"))
    )


def _read(path: Path, columns: list[str]) -> pa.Table:
    """Read ``columns`` of a Parquet file as strings; absent columns come back null."""
    names = set(pq.read_schema(path).names)
    present = [c for c in dict.fromkeys(columns) if c in names]
    table = pq.read_table(path, columns=present)
    out = {}
    for c in dict.fromkeys(columns):
        if c in names:
            out[c] = table[c].cast(pa.string())
        else:
            out[c] = pa.nulls(table.num_rows, pa.string())
    return pa.table(out)


def _registry_con(registry_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the registry tables ``persons``, ``relatives``, ``households``."""
    con = duckdb.connect()
    for name, cols in (
        ("persons", ["id_number", "household_id"]),
        ("relatives", ["id_number", "household_id"]),
        ("households", ["household_id"]),
    ):
        path = registry_dir / f"{name}.parquet"
        try:
            table = _read(path, cols)
        except (OSError, pa.ArrowInvalid) as exc:
            con.close()
            raise ConfigError(f"registry file {path}: {exc}") from exc
        con.register(f"_{name}", table)
        # one household per ID (an ID listed twice keeps the smallest household code)
        key = "household_id" if name == "households" else "id_number"
        agg = "" if name == "households" else ", min(household_id) AS household_id"
        con.execute(
            f"CREATE TABLE {name} AS SELECT {key}{agg} FROM _{name} "
            f"WHERE {key} IS NOT NULL AND {key} <> '' GROUP BY {key}"
        )
        con.unregister(f"_{name}")
    return con


def _source_truth(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, period: str, k: LinkKeys
) -> pa.Table | None:
    folder = truth_dir / "feeds" / period
    rows_path = folder / f"{k.source}.rows.parquet"
    if not rows_path.is_file():
        return None
    rows = pq.read_table(rows_path, columns=["row_index", "row_uid"])
    # '#fix' rows re-deliver a record of an earlier period: look in every clean file so far
    fixes = bool(pc.any(pc.ends_with(rows["row_uid"], "#fix")).as_py())
    clean_paths = [
        truth_dir / "feeds" / p / f"{k.source}.clean.parquet"
        for p in truth_periods(truth_dir)
        if p == period or (fixes and p < period)
    ]
    key_cols = [c for c in (k.id, k.household_no) if c]
    cols = ["_row_uid", *key_cols]
    parts = [_read(p, cols) for p in clean_paths if p.is_file()]
    clean = (
        pa.concat_tables(parts)
        if parts
        else pa.table({c: pa.array([], pa.string()) for c in dict.fromkeys(cols)})
    )
    defects_path = folder / f"{k.source}.defects.parquet"
    defects = (
        _read(defects_path, ["row_uid", "defect"])
        if defects_path.is_file()
        else pa.table({"row_uid": pa.array([], pa.string()), "defect": pa.array([], pa.string())})
    )
    con.register("_rows", rows)
    con.register("_clean", clean)
    con.register("_defects", defects)

    def col(name: str | None) -> str:
        return f"nullif(trim(c.\"{name}\"), '')" if name else "NULL::VARCHAR"

    if k.level == "person":
        joins = """
            LEFT JOIN persons p ON p.id_number = c.cid
            LEFT JOIN relatives r ON r.id_number = c.cid
            LEFT JOIN households h ON h.household_id = c.chh
        """
        target = """
            p.id_number AS person_id,
            CASE WHEN p.id_number IS NOT NULL THEN p.household_id
                 WHEN r.id_number IS NOT NULL THEN r.household_id
                 ELSE h.household_id END AS household_id
        """
    else:
        joins = """
            LEFT JOIN persons p ON p.id_number = c.cid
            LEFT JOIN households h ON h.household_id = c.chh
        """
        target = """
            NULL::VARCHAR AS person_id,
            coalesce(p.household_id, h.household_id) AS household_id
        """
    sql = f"""
        WITH r0 AS (
            SELECT row_index, row_uid, regexp_replace(row_uid, '#(dup|fix)$', '') AS base
            FROM _rows
        ),
        c AS (
            SELECT c._row_uid AS uid, any_value({col(k.id)}) AS cid,
                   any_value({col(k.household_no)}) AS chh
            FROM _clean c GROUP BY c._row_uid
        ),
        d AS (
            SELECT row_uid, list_sort(list_distinct(list(defect))) AS defects
            FROM (
                SELECT r0.row_uid, x.defect FROM r0 JOIN _defects x ON x.row_uid = r0.row_uid
                UNION ALL
                SELECT r0.row_uid, x.defect FROM r0 JOIN _defects x ON x.row_uid = r0.base
                WHERE r0.base <> r0.row_uid
            )
            WHERE defect IS NOT NULL
            GROUP BY row_uid
        )
        SELECT
            $period AS period, $source AS source, $level AS level,
            r0.row_index::BIGINT AS row_index, r0.row_uid,
            {target},
            coalesce(d.defects, []::VARCHAR[]) AS defects
        FROM r0
        LEFT JOIN c ON c.uid = r0.base
        {joins}
        LEFT JOIN d ON d.row_uid = r0.row_uid
        ORDER BY r0.row_index
    """
    try:
        params = {"period": period, "source": k.source, "level": k.level}
        out = con.execute(sql, params).to_arrow_table()
    finally:
        for name in ("_rows", "_clean", "_defects"):
            con.unregister(name)
    return out.cast(TRUE_LINK_SCHEMA)


def _period_truth(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, period: str, keys: list[LinkKeys]
) -> pa.Table:
    parts = [t for k in keys if (t := _source_truth(con, truth_dir, period, k)) is not None]
    if not parts:
        return TRUE_LINK_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def true_links(truth_dir: Path, registry_dir: Path, period: str, keys: list[LinkKeys]) -> pa.Table:
    """The true person and household of every delivered row of ``period``.

    Parameters
    ----------
    truth_dir:
        The twin's ``truth/`` folder (holding ``feeds/<YYYY-MM>/``).
    registry_dir:
        The twin's ``registry/`` folder.
    period:
        ``YYYY-MM``.
    keys:
        Link keys of the sources (:func:`povguard.cycle.link_keys`); sources
        without keys are left out.

    Returns
    -------
    pyarrow.Table
        One row per delivered row (``<source>.rows.parquet``) with schema
        :data:`TRUE_LINK_SCHEMA`: ``level`` (``person``/``household``),
        ``row_index`` (position among the file's data rows), ``row_uid``, the true
        ``person_id`` (registry ID number; null for household-level sources,
        relatives and persons absent from the registry), the true
        ``household_id`` (null when the row truly has no registry target) and the
        sorted distinct ``defects`` logged for the row or, for ``#dup``/``#fix``
        copies, for its base row in the same delivery.

    Raises
    ------
    ConfigError
        When the truth of ``period`` or a registry file is missing.
    """
    if not (truth_dir / "feeds" / period).is_dir():
        raise ConfigError(f"no truth for {period} in {truth_dir / 'feeds' / period}")
    con = _registry_con(registry_dir)
    try:
        return _period_truth(con, truth_dir, period, keys)
    finally:
        con.close()


# --------------------------------------------------------------------------- scores


@dataclass
class LinkScore:
    """Link counts of a group of loaded rows, and the rates derived from them.

    A wrong link to a row that has a true target counts both as a false positive
    and a false negative, so ``tp + fp + fn + tn`` may exceed ``rows``.
    """

    rows: int = 0
    linked: int = 0
    with_target: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, n: int, has_target: bool, predicted: bool, correct: bool) -> None:
        """Count ``n`` rows with the given outcome."""
        self.rows += n
        self.linked += n * predicted
        self.with_target += n * has_target
        if predicted and correct:
            self.tp += n
        elif predicted:
            self.fp += n
            self.fn += n * has_target
        elif has_target:
            self.fn += n
        else:
            self.tn += n

    @property
    def score(self) -> Score:
        """The rates, as the warnings evaluation computes them."""
        return Score(self.tp, self.fp, self.fn)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was linked."""
        return self.score.precision

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when no row had a target."""
        return self.score.recall

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        return self.score.f1

    def to_dict(self) -> dict[str, Any]:
        """Counts and rates; a rate whose denominator is zero is ``None``."""
        return {
            "rows": self.rows,
            "linked": self.linked,
            "with_target": self.with_target,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": round(self.precision, 4) if self.tp + self.fp else None,
            "recall": round(self.recall, 4) if self.tp + self.fn else None,
            "f1": round(self.f1, 4) if self.tp + self.fp and self.tp + self.fn else None,
        }


@dataclass
class ReviewVolume:
    """Rows waiting in the clerical review queue (method ``review``)."""

    rows: int = 0
    share: float = 0.0
    with_target: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"rows": self.rows, "share": round(self.share, 6), "with_target": self.with_target}


@dataclass
class LinkageEvaluation:
    """The ``links`` table against the twin's truth.

    Attributes
    ----------
    periods:
        Evaluated periods.
    rows:
        Delivered rows of the evaluated sources (the truth's row count).
    loaded, quarantined:
        Rows found loaded in ``raw_<source>`` / in ``quarantine``.
    unmatched:
        Delivered rows that could not be put next to a loaded or quarantined
        row (a file that failed, or a source whose counts disagree; see
        ``notes``); not scored.
    overall:
        Scores of every loaded row.
    by_defect:
        Scores of the rows carrying each defect type as logged by the twin
        (``clean`` = no defect); a row with two defects counts in both.
    by_source, by_method, by_period:
        Scores per source, link method (``(no link row)`` for a loaded row
        without a link) and period.
    review:
        The clerical review queue's volume.
    notes:
        Problems met (misaligned sources, duplicate link rows...).
    """

    periods: list[str]
    rows: int = 0
    loaded: int = 0
    quarantined: int = 0
    unmatched: int = 0
    overall: LinkScore = field(default_factory=LinkScore)
    by_defect: dict[str, LinkScore] = field(default_factory=dict)
    by_source: dict[str, LinkScore] = field(default_factory=dict)
    by_method: dict[str, LinkScore] = field(default_factory=dict)
    by_period: dict[str, LinkScore] = field(default_factory=dict)
    review: ReviewVolume = field(default_factory=ReviewVolume)
    notes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """Overall precision."""
        return self.overall.precision

    @property
    def recall(self) -> float:
        """Overall recall."""
        return self.overall.recall

    @property
    def f1(self) -> float:
        """Overall F1."""
        return self.overall.f1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every figure."""

        def group(d: dict[str, LinkScore]) -> dict[str, Any]:
            return {k: v.to_dict() for k, v in d.items()}

        return {
            "periods": list(self.periods),
            "rows": self.rows,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "unmatched": self.unmatched,
            "overall": self.overall.to_dict(),
            "by_defect": group(self.by_defect),
            "by_source": group(self.by_source),
            "by_method": group(self.by_method),
            "by_period": group(self.by_period),
            "review": self.review.to_dict(),
            "notes": list(self.notes),
        }

    def _groups(self) -> list[tuple[str, str, LinkScore]]:
        out = [("overall", "all loaded rows", self.overall)]
        for title, d in (
            ("defect", self.by_defect),
            ("source", self.by_source),
            ("method", self.by_method),
        ):
            out += [(title, k, v) for k, v in d.items()]
        return out

    def to_markdown(self) -> str:
        """A compact Markdown report: counts, review volume and one score table."""
        periods = f"{self.periods[0]}..{self.periods[-1]}" if self.periods else "-"
        lines = [
            f"Linkage evaluation {periods}: {self.rows:,} delivered rows, "
            f"{self.loaded:,} loaded, {self.quarantined:,} quarantined, "
            f"{self.unmatched:,} unmatched; clerical review {self.review.rows:,} "
            f"({self.review.share:.2%}), {self.review.with_target:,} with a true target.",
            "",
            "| group | value | rows | linked | tp | fp | fn | tn | precision | recall | F1 |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for title, name, s in self._groups():
            d = s.to_dict()
            lines.append(
                f"| {title} | {name} | {s.rows:,} | {s.linked:,} | {s.tp:,} | {s.fp:,} "
                f"| {s.fn:,} | {s.tn:,} | {_rate(d['precision'])} | {_rate(d['recall'])} "
                f"| {_rate(d['f1'])} |"
            )
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def to_rich(self) -> RenderableType:
        """Rich tables for the command line (summary, then scores by group)."""
        return rich_report(self)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def rich_report(ev: LinkageEvaluation) -> RenderableType:
    """Rich rendering of a :class:`LinkageEvaluation` (summary and score tables).

    Parameters
    ----------
    ev:
        The evaluation to show.

    Returns
    -------
    rich.console.RenderableType
        A group of tables ready for ``Console.print``.
    """
    periods = f"{ev.periods[0]}..{ev.periods[-1]}" if ev.periods else "-"
    summary = Table(title=f"链接评估 linkage evaluation {periods}")
    summary.add_column("item")
    summary.add_column("value", justify="right")
    for label, value in (
        ("delivered rows 记录", f"{ev.rows:,}"),
        ("loaded 入库", f"{ev.loaded:,}"),
        ("quarantined 隔离", f"{ev.quarantined:,}"),
        ("unmatched 未对齐", f"{ev.unmatched:,}"),
        ("precision 精确率", _rate(ev.overall.to_dict()["precision"])),
        ("recall 召回率", _rate(ev.overall.to_dict()["recall"])),
        ("F1", _rate(ev.overall.to_dict()["f1"])),
        ("clerical review 人工复核", f"{ev.review.rows:,} ({ev.review.share:.2%})"),
        ("  with a true target 有真实目标", f"{ev.review.with_target:,}"),
    ):
        summary.add_row(label, value)
    parts: list[RenderableType] = [summary]
    for title, d in (
        ("by defect type 按缺陷类型", ev.by_defect),
        ("by source 按来源", ev.by_source),
        ("by link method 按链接方式", ev.by_method),
    ):
        t = Table(title=title)
        t.add_column("group")
        for col in ("rows", "linked", "tp", "fp", "fn", "tn", "precision", "recall", "F1"):
            t.add_column(col, justify="right")
        for name, s in d.items():
            x = s.to_dict()
            t.add_row(
                name,
                f"{s.rows:,}",
                f"{s.linked:,}",
                f"{s.tp:,}",
                f"{s.fp:,}",
                f"{s.fn:,}",
                f"{s.tn:,}",
                _rate(x["precision"]),
                _rate(x["recall"]),
                _rate(x["f1"]),
            )
        parts.append(t)
    parts += [f"[yellow]note:[/] {n}" for n in ev.notes]
    return Group(*parts)


# --------------------------------------------------------------------------- engine side


def _positions(engine: Engine, period: str, sources: list[str]) -> Any | None:
    """Loaded and quarantined rows of ``period`` in file order, numbered per source."""
    parts: list[Any] = []
    for s in sources:
        name = f"raw_{s}"
        if not engine.exists(name):
            continue
        t = engine.table(name)
        t = t.filter(t.period == period)
        parts.append(
            t.select(
                source=ibis.literal(s),
                file=t._file.cast("string"),
                row=t._row.cast("int64"),
                loaded=ibis.literal(True),
            )
        )
    if engine.exists("quarantine"):
        q = engine.table("quarantine")
        q = q.filter((q.period == period) & q.source.isin(sources) & q.row.notnull())
        parts.append(
            q.select(
                source=q.source.cast("string"),
                file=q.file.cast("string"),
                row=q.row.cast("int64"),
                loaded=ibis.literal(False),
            )
        )
    if not parts:
        return None
    union = parts[0]
    for p in parts[1:]:
        union = union.union(p)
    return union.mutate(
        row_index=ibis.row_number().over(group_by="source", order_by=["row", "file"])
    )


def _period_counts(
    engine: Engine,
    period: str,
    truth: pa.Table,
    ev: LinkageEvaluation,
) -> list[dict[str, Any]]:
    """Per-group counts of one period (bounded: sources x methods x defect signatures)."""
    sources = sorted(set(truth["source"].to_pylist()))
    ev.rows += truth.num_rows
    pos = _positions(engine, period, sources)
    per_source = truth.group_by("source").aggregate([("row_index", "count")])
    want = dict(
        zip(
            per_source["source"].to_pylist(),
            per_source["row_index_count"].to_pylist(),
            strict=True,
        )
    )
    have: dict[str, dict[bool, int]] = defaultdict(lambda: {True: 0, False: 0})
    if pos is not None:
        counts = engine.fetch(pos.group_by(["source", "loaded"]).aggregate(n=ibis._.count()))
        for r in counts.to_pylist():
            have[r["source"]][bool(r["loaded"])] = int(r["n"])
    ok = []
    for s in sources:
        found = have[s][True] + have[s][False]
        if found == want[s]:
            ok.append(s)
            continue
        ev.unmatched += want[s]
        if found:
            ev.notes.append(
                f"{period} {s}: {want[s]:,} delivered rows in the truth but {found:,} "
                "loaded or quarantined; source not scored"
            )
        else:
            ev.notes.append(f"{period} {s}: nothing loaded or quarantined; source not scored")
    if not ok or pos is None:
        return []
    ev.loaded += sum(have[s][True] for s in ok)
    ev.quarantined += sum(have[s][False] for s in ok)
    keep = truth.filter(pc.is_in(truth["source"], pa.array(ok, pa.string())))
    sig = pc.binary_join(keep["defects"], _SEP)
    t = ibis.memtable(
        pa.table(
            {
                "t_source": keep["source"],
                "t_level": keep["level"],
                "t_index": keep["row_index"],
                "t_person": keep["person_id"],
                "t_household": keep["household_id"],
                "t_defects": sig,
            }
        )
    )
    j = t.inner_join(pos, [t.t_source == pos.source, t.t_index == pos.row_index])
    if engine.exists(LINKS):
        links = engine.table(LINKS)
        links = links.filter(links.period == period).select(
            l_source=links.source,
            l_file=links._file.cast("string"),
            l_row=links._row.cast("int64"),
            l_person=links.person_id.cast("string"),
            l_household=links.household_id.cast("string"),
            l_method=links.method.cast("string"),
        )
        j = j.left_join(
            links,
            [j.source == links.l_source, j.file == links.l_file, j.row == links.l_row],
        )
        method = j.l_method
        person, household = j.l_person, j.l_household
    else:
        method = ibis.null("string")
        person = household = ibis.null("string")
    by_person = (j.t_level == "person") & j.t_person.notnull()
    target = ibis.cases((by_person, j.t_person), else_=j.t_household)
    linked = method.notnull() & ~method.isin(sorted(NOT_LINKED))
    pred = ibis.cases((linked & by_person, person), (linked, household), else_=ibis.null("string"))
    scored = j.select(
        source=j.t_source,
        method=method.fill_null(NO_LINK_ROW),
        defects=j.t_defects,
        loaded=j.loaded,
        has_target=target.notnull(),
        predicted=pred.notnull(),
        correct=(pred == target).fill_null(False),
    )
    groups = ["source", "method", "defects", "loaded", "has_target", "predicted", "correct"]
    result: list[dict[str, Any]] = engine.fetch(
        scored.group_by(groups).aggregate(n=ibis._.count())
    ).to_pylist()
    joined_loaded = sum(int(r["n"]) for r in result if r["loaded"])
    expected = sum(have[s][True] for s in ok)
    if joined_loaded != expected:
        ev.notes.append(
            f"{period}: {joined_loaded - expected:+,} scored rows against {expected:,} loaded "
            f"rows (duplicate keys in {LINKS}?)"
        )
    return result


def evaluate_linkage(
    engine: Engine,
    truth_dir: Path,
    registry_dir: Path,
    periods: list[str] | None = None,
    keys: list[LinkKeys] | None = None,
) -> LinkageEvaluation:
    """Compare the ``links`` table with the twin's true links.

    Parameters
    ----------
    engine:
        The analytics store after the cycle (``raw_<source>``, ``quarantine``,
        ``links``).
    truth_dir:
        The twin's ``truth/`` folder.
    registry_dir:
        The twin's ``registry/`` folder.
    periods:
        Periods to evaluate; default every period that has both truth and links.
    keys:
        Link keys per source (default :func:`povguard.cycle.link_keys` of the
        packaged mappings).

    Returns
    -------
    LinkageEvaluation
        Counts and precision, recall and F1 overall and by defect type, source,
        link method and period, plus the clerical review volume.

    Raises
    ------
    ConfigError
        When the truth or the registry is missing, the store has no ``links``
        table, or a requested period has no truth.
    """
    if keys is None:
        from povguard.cycle import link_keys
        from povguard.ingest import load_mappings

        keys = link_keys(load_mappings())
    available = truth_periods(truth_dir)
    if not engine.exists(LINKS):
        raise ConfigError(f"no {LINKS} table in the analytics store: run povguard cycle first")
    if periods is None:
        linked = engine.fetch(engine.table(LINKS).select("period").distinct())["period"]
        periods = sorted(set(available) & {str(p) for p in linked.to_pylist()})
    else:
        missing = [p for p in periods if p not in available]
        if missing:
            raise ConfigError(
                f"no truth for period(s) {', '.join(missing)} in {truth_dir / 'feeds'} "
                f"(available: {', '.join(available) or 'none'})"
            )
        periods = sorted(set(periods))
    ev = LinkageEvaluation(periods=list(periods))
    if not periods:
        ev.notes.append(f"no period has both truth in {truth_dir / 'feeds'} and {LINKS}")
    by_defect: dict[str, LinkScore] = defaultdict(LinkScore)
    by_source: dict[str, LinkScore] = defaultdict(LinkScore)
    by_method: dict[str, LinkScore] = defaultdict(LinkScore)
    con = _registry_con(registry_dir)
    try:
        for period in periods:
            truth = _period_truth(con, truth_dir, period, keys)
            score = ev.by_period.setdefault(period, LinkScore())
            for r in _period_counts(engine, period, truth, ev):
                if not r["loaded"]:
                    continue
                n = int(r["n"])
                outcome = (bool(r["has_target"]), bool(r["predicted"]), bool(r["correct"]))
                defects = str(r["defects"] or "").split(_SEP) if r["defects"] else [CLEAN]
                for s in (
                    ev.overall,
                    score,
                    by_source[r["source"]],
                    by_method[r["method"]],
                    *(by_defect[d] for d in defects),
                ):
                    s.add(n, *outcome)
                if r["method"] == "review":
                    ev.review.rows += n
                    ev.review.with_target += n * outcome[0]
    finally:
        con.close()
    ev.review.share = ev.review.rows / ev.loaded if ev.loaded else 0.0
    ev.by_defect = dict(sorted(by_defect.items(), key=lambda kv: (kv[0] != CLEAN, kv[0])))
    ev.by_source = dict(sorted(by_source.items()))
    ev.by_method = dict(sorted(by_method.items(), key=lambda kv: -kv[1].rows))
    return ev
