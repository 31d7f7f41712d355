"""ORM models of the operations database (SQLAlchemy 2 typed declarative).

Tables: ``regions``, ``households``, ``persons``, ``warnings``, ``cycle_runs``,
``api_accounts``, ``link_review_pairs``, ``link_review_events``.
Schema changes go through an Alembic revision in ``povguard/store/migrations``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

#: Constraint names are deterministic so that migrations name them the same on
#: every backend (and SQLite batch migrations can find them).
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Region levels, top down.
REGION_LEVELS: Final = ("province", "county", "township", "village")
#: What a warning says about a household: the policy pack's rule kinds plus
#: ``needs_verification`` (unknown is not safe). Checked by the services, not by a
#: database constraint, so that a new kind needs no migration.
WARNING_KINDS: Final = (
    "risk",
    "screening",
    "guarantee",
    "ineligibility",
    "elimination",
    "tier",
    "needs_verification",
)
#: The three monitored household types (三类户).
HOUSEHOLD_TYPES: Final = ("unstable_former_poor", "edge", "sudden_hardship")
#: States of a monthly cycle run.
CYCLE_STATUSES: Final = ("running", "succeeded", "failed")

#: JSON document column: JSONB on PostgreSQL, JSON text elsewhere.
JSONDoc: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")
#: Auto-increment key: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

REGION_CODE_LEN: Final = 12
HOUSEHOLD_ID_LEN: Final = 32
ID_NUMBER_LEN: Final = 32
PERIOD_LEN: Final = 7
#: Length of the stored token prefix (for lookup; the token itself is only hashed).
TOKEN_PREFIX_LEN: Final = 8


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every operations table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Region(Base):
    """An administrative region (GB/T 2260 + township and village codes, 12 digits)."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint(_in("level", REGION_LEVELS), name="level"),)

    code: Mapped[str] = mapped_column(String(REGION_CODE_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(REGION_CODE_LEN), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)


class Household(Base):
    """A registered rural household (the household number is the key)."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(HOUSEHOLD_ID_LEN), primary_key=True)
    village_code: Mapped[str] = mapped_column(
        String(REGION_CODE_LEN), ForeignKey("regions.code"), index=True
    )
    address: Mapped[str | None] = mapped_column(String(200))
    head_name: Mapped[str | None] = mapped_column(String(64))
    head_id_number: Mapped[str | None] = mapped_column(String(ID_NUMBER_LEN))
    members: Mapped[int] = mapped_column(Integer, default=0)
    former_poor: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_year: Mapped[int | None] = mapped_column(Integer)
    exit_year: Mapped[int | None] = mapped_column(Integer)
    registration_cause: Mapped[str | None] = mapped_column(String(64))
    monitoring_status: Mapped[str | None] = mapped_column(String(32))
    monitoring_type: Mapped[str | None] = mapped_column(String(32))
    dibao: Mapped[bool] = mapped_column(Boolean, default=False)
    tekun: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_period: Mapped[str | None] = mapped_column(String(PERIOD_LEN))

    village: Mapped[Region] = relationship(lazy="raise")
    persons: Mapped[list[Person]] = relationship(
        back_populates="household", lazy="raise", order_by="Person.id_number"
    )


class Person(Base):
    """A member of a registered household (the resident ID number is the key)."""

    __tablename__ = "persons"

    id_number: Mapped[str] = mapped_column(String(ID_NUMBER_LEN), primary_key=True)
    household_id: Mapped[str] = mapped_column(
        String(HOUSEHOLD_ID_LEN), ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(64))
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    relation: Mapped[str | None] = mapped_column(String(32))
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    education: Mapped[str | None] = mapped_column(String(32))
    school_status: Mapped[str | None] = mapped_column(String(32))
    chronic_illness: Mapped[bool] = mapped_column(Boolean, default=False)
    serious_illness: Mapped[bool] = mapped_column(Boolean, default=False)
    disability_grade: Mapped[int] = mapped_column(Integer, default=0)
    work_capacity: Mapped[str | None] = mapped_column(String(32))
    migrant_worker: Mapped[bool] = mapped_column(Boolean, default=False)
    medical_insured: Mapped[bool] = mapped_column(Boolean, default=True)

    household: Mapped[Household] = relationship(back_populates="persons", lazy="raise")


class HouseholdWarning(Base):
    """A warning raised for a household in a period by a rule or model."""

    __tablename__ = "warnings"
    __table_args__ = (
        UniqueConstraint("period", "household_id", "rule_id"),
        CheckConstraint(
            "household_type IS NULL OR " + _in("household_type", HOUSEHOLD_TYPES),
            name="household_type",
        ),
        Index("ix_warnings_period_rule_id", "period", "rule_id"),
        Index("ix_warnings_household_id_period", "household_id", "period"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LEN))
    household_id: Mapped[str] = mapped_column(
        String(HOUSEHOLD_ID_LEN), ForeignKey("households.id", ondelete="CASCADE")
    )
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))
    household_type: Mapped[str | None] = mapped_column(String(32))
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    values: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CycleRun(Base):
    """One run of the monthly cycle for a period (stage counts and timings)."""

    __tablename__ = "cycle_runs"
    __table_args__ = (CheckConstraint(_in("status", CYCLE_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LEN), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    stages: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class ApiAccount(Base):
    """A department account allowed to push feeds through the API (``POST /api/v1/feeds``).

    Only a salted hash of the account's API token is stored
    (:mod:`povguard.store.services.accounts`); ``token_prefix`` (the token's first
    characters) narrows the lookup when a token is presented.
    """

    __tablename__ = "api_accounts"

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    department: Mapped[str] = mapped_column(String(100))
    sources: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    token_hash: Mapped[str] = mapped_column(String(255))
    token_prefix: Mapped[str] = mapped_column(String(TOKEN_PREFIX_LEN), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


#: States of a pair in the clerical review queue of record linkage.
LINK_REVIEW_STATUSES: Final = ("pending", "match", "non_match")
#: What happened to a pair in the review queue (its append-only audit trail).
LINK_REVIEW_ACTIONS: Final = ("queued", "decided", "undone")
#: Length of a review pair's key (a hex content hash).
PAIR_KEY_LEN: Final = 64
SOURCE_LEN: Final = 64
ACTOR_LEN: Final = 100


class LinkReviewPair(Base):
    """A record-candidate pair of uncertain match probability, for clerical review.

    The key is a stable hash of the department record's compared values and the
    candidate person, so the same pair in a later month is the same row: a stored
    decision is reused and the pair is never asked twice. ``record``,
    ``candidate`` (the compared fields of both sides) and ``explanation`` (per
    field: comparison level and Bayes factor) are JSON text. ``version`` is
    bumped by every change of the decision (optimistic locking).
    """

    __tablename__ = "link_review_pairs"
    __table_args__ = (CheckConstraint(_in("status", LINK_REVIEW_STATUSES), name="status"),)

    pair_key: Mapped[str] = mapped_column(String(PAIR_KEY_LEN), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LEN), index=True)
    first_period: Mapped[str] = mapped_column(String(PERIOD_LEN))
    last_period: Mapped[str] = mapped_column(String(PERIOD_LEN))
    file: Mapped[str] = mapped_column(Text)
    row: Mapped[int] = mapped_column(Integer)
    person_id: Mapped[str] = mapped_column(String(ID_NUMBER_LEN))
    household_id: Mapped[str | None] = mapped_column(String(HOUSEHOLD_ID_LEN))
    match_probability: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    record: Mapped[str] = mapped_column(Text)
    candidate: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(ACTOR_LEN))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's hook


class LinkReviewEvent(Base):
    """One step of a review pair's audit trail (append-only: never updated or deleted)."""

    __tablename__ = "link_review_events"
    __table_args__ = (CheckConstraint(_in("action", LINK_REVIEW_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    pair_key: Mapped[str] = mapped_column(
        String(PAIR_KEY_LEN), ForeignKey("link_review_pairs.pair_key"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    before_status: Mapped[str | None] = mapped_column(String(16))
    after_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
