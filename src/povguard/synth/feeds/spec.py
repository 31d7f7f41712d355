"""Declarative description of one department feed as the twin writes it.

A :class:`FeedSpec` says which columns a department's file has, with the Chinese
header the department uses, the semantic role of each column (which decides which
defects can hit it) and the physical format (XLSX with title rows and merged
headers, CSV in GBK or UTF-8 with BOM, JSON from an API export).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

FeedFormat = Literal["xlsx", "csv", "json"]
FeedEncoding = Literal["utf-8", "utf-8-sig", "gbk"]


class Role(StrEnum):
    """Semantic role of a feed column; defects are chosen by role."""

    KEY = "key"  # the department's own record id (claim number, certificate no.)
    ID = "id"  # an 18-character resident ID number
    NAME = "name"  # a Chinese personal name
    NAME_PINYIN = "name_pinyin"  # a romanised name "ZHANG WEI" (family name first)
    DATE = "date"  # a calendar date
    MONEY = "money"  # yuan, two decimals
    INT = "int"
    FLOAT = "float"
    CODE = "code"  # a value from a code list (Chinese label)
    REGION = "region"  # a 12-digit region code
    TEXT = "text"  # free text / place names


@dataclass(frozen=True)
class Column:
    """One column of a feed.

    Parameters
    ----------
    key:
        Column name in the clean table (English identifier).
    header:
        The department's Chinese column header, as written in the file.
    role:
        Semantic role; decides which defects apply.
    json_key:
        Key used in JSON exports (camelCase); defaults to ``key``.
    """

    key: str
    header: str
    role: Role
    json_key: str | None = None


@dataclass(frozen=True)
class HeaderGroup:
    """A merged header cell spanning columns ``first``..``last`` (two-row headers)."""

    label: str
    first: str
    last: str


@dataclass(frozen=True)
class FeedSpec:
    """Everything needed to render one source's monthly file.

    Parameters
    ----------
    source:
        Stable source id, e.g. ``"medical_claims"``; also the file stem.
    department, department_en:
        Sending department in Chinese and English.
    title:
        Title of the XLSX sheet / report; ``{county}``, ``{year}`` and ``{month}``
        are filled in.
    fmt, encoding:
        Physical format and text encoding (CSV only; XLSX and JSON are UTF-8).
    columns:
        Columns in file order.
    header_groups:
        Merged two-row header groups (XLSX only); empty means a one-row header.
    record_key:
        Columns that identify a record for the department (used for duplicates and
        late corrections).
    often_missing_id:
        True for sources whose rows often lack a resident ID (house inspections,
        hotline...), so the "missing ID" defect applies at its higher rate.
    excel_mangles_ids:
        True for XLSX sources whose clerks typed IDs into number cells, so some IDs
        arrive as floats or in scientific notation.
    cadence:
        Human description of when the department sends (documentation only).
    """

    source: str
    department: str
    department_en: str
    title: str
    fmt: FeedFormat
    encoding: FeedEncoding
    columns: tuple[Column, ...]
    record_key: tuple[str, ...]
    header_groups: tuple[HeaderGroup, ...] = ()
    often_missing_id: bool = False
    excel_mangles_ids: bool = False
    cadence: str = "monthly"
    sheet_name: str = "Sheet1"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        """File extension for this feed."""
        return self.fmt

    def column(self, key: str) -> Column:
        """Return the column with ``key``."""
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(f"{self.source}: no column {key!r}")

    def keys_with_role(self, *roles: Role) -> list[str]:
        """Keys of the columns whose role is one of ``roles``."""
        return [c.key for c in self.columns if c.role in roles]
