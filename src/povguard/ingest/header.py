"""Find the header of a sheet and match its columns to a mapping's fields.

Department spreadsheets put a title row and a "填报单位" row above the header, and
many have a two-row header: a merged group label (``户主信息``) above its
sub-headers (``户主姓名``, ``户主身份证号``) while the ungrouped headers are merged
vertically over both rows. Read without merge information (openpyxl's read-only
mode), a merged cell holds its text in its first cell only, so:

* the header is the row (among the first ``scan_rows``) whose cells match the most
  field aliases;
* it is two rows when combining it with the row above or below matches strictly
  more fields: a column takes its sub-header when it has one, else the upper cell
  (vertical merge); a group label carries to the right over the empty cells of its
  merged span, and an alias ``"group/sub"`` matches a sub-header under that group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from povguard.ingest.mapping import SourceMapping, normalise_label

__all__ = ["Header", "HeaderMatcher"]

Cells = Sequence[str | None]


@dataclass(frozen=True)
class Header:
    """A detected header.

    Attributes
    ----------
    first:
        Index (in the scanned rows) of the header's first row.
    height:
        1 or 2 rows.
    labels:
        Display label of every column (unique; a repeated label gets ``(2)``...).
    assignment:
        Column index of every matched field.
    """

    first: int
    height: int
    labels: list[str]
    assignment: dict[str, int]

    @property
    def last(self) -> int:
        """Index of the header's last row."""
        return self.first + self.height - 1


def _text(cell: str | None) -> str:
    return cell.strip() if cell else ""


def _combine(top: Cells, sub: Cells) -> tuple[list[str], list[str | None]]:
    """Labels and group labels of a two-row header."""
    width = max(len(top), len(sub))
    labels: list[str] = []
    groups: list[str | None] = []
    group: str | None = None
    for c in range(width):
        t = _text(top[c]) if c < len(top) else ""
        s = _text(sub[c]) if c < len(sub) else ""
        if t:
            group = t
        if s:
            labels.append(s)
            groups.append(group)
        else:
            labels.append(t)
            groups.append(None)
            if t:
                group = None
    return labels, groups


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, label in enumerate(labels):
        text = label or f"列{i + 1}"
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text}({seen[text]})")
    return out


class HeaderMatcher:
    """Matches header rows against the field aliases of one mapping."""

    def __init__(self, mapping: SourceMapping) -> None:
        self.mapping = mapping
        self._field_of: dict[str, str] = {}
        for field in mapping.fields:
            for alias in field.aliases:
                self._field_of[alias] = field.name
        self.min_matches = min(mapping.header.min_matches, len(mapping.fields))

    def assign(self, labels: Sequence[str], groups: Sequence[str | None] = ()) -> dict[str, int]:
        """Column index of each field whose alias matches a label.

        Group-qualified aliases (``户主信息/姓名``) are matched first, then plain
        labels; a field takes the first matching column, a column one field.
        """
        assignment: dict[str, int] = {}
        taken: set[int] = set()
        keys: list[tuple[str | None, str | None]] = []
        for c, label in enumerate(labels):
            group = groups[c] if c < len(groups) else None
            plain = normalise_label(label) if label else None
            qualified = normalise_label(f"{group}/{label}") if group and label else None
            keys.append((qualified, plain))
        for phase in (0, 1):
            for c, pair in enumerate(keys):
                key = pair[phase]
                if c in taken or key is None:
                    continue
                field = self._field_of.get(key)
                if field is not None and field not in assignment:
                    assignment[field] = c
                    taken.add(c)
        return assignment

    def detect(self, rows: Sequence[Cells]) -> Header | None:
        """Find the header among ``rows`` (the first rows of a sheet).

        Returns
        -------
        Header | None
            The header, or None when no row matches at least ``min_matches`` fields.
        """
        best: tuple[int, int] | None = None  # (score, index)
        for i, row in enumerate(rows):
            score = len(self.assign([_text(c) for c in row]))
            if score and (best is None or score > best[0]):
                best = (score, i)
        if best is None:
            return None
        i = best[1]
        labels = [_text(c) for c in rows[i]]
        candidate = Header(i, 1, labels, self.assign(labels))
        for top in (i - 1, i):
            if top < 0 or top + 1 >= len(rows):
                continue
            two, groups = _combine(rows[top], rows[top + 1])
            assignment = self.assign(two, groups)
            if len(assignment) > len(candidate.assignment):
                candidate = Header(top, 2, two, assignment)
        if len(candidate.assignment) < self.min_matches:
            return None
        return Header(
            candidate.first, candidate.height, _unique(candidate.labels), candidate.assignment
        )

    def missing_required(self, assignment: dict[str, int]) -> list[str]:
        """Names of required fields that no column matched."""
        return [f.name for f in self.mapping.fields if f.required and f.name not in assignment]
