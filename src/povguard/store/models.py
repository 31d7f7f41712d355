"""ORM models of the operations database (SQLAlchemy 2 typed declarative).

Tables: ``regions``, ``households``, ``persons``, ``warnings``, ``cycle_runs``,
``api_accounts``, ``link_review_pairs``, ``link_review_events``, ``audit_events``,
``audit_chain_head``; case management: ``users``, ``membership_history``, ``cases``,
``case_events``, ``case_intakes``, ``tasks``, ``visits``, ``notices``, ``decisions``,
``plans``, ``plan_measures``, ``measure_deliveries``, ``grievances``.
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
    "prediction",  # the risk model's forecast (预测预警), beside the rules' warnings
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
    __table_args__ = (Index("ix_households_village_code_id", "village_code", "id"),)

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
        Index(
            "ix_warnings_period_village_code", "period", "village_code", "household_id", "rule_id"
        ),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LEN))
    household_id: Mapped[str] = mapped_column(
        String(HOUSEHOLD_ID_LEN), ForeignKey("households.id", ondelete="CASCADE")
    )
    #: The household's village when the warning was published (area scoping
    #: without a join).
    village_code: Mapped[str] = mapped_column(String(REGION_CODE_LEN))
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


#: Length of a SHA-256 hex digest (the links of the audit hash chain).
HASH_LEN: Final = 64
#: ``prev_hash`` of the first audit event.
GENESIS_HASH: Final = "0" * HASH_LEN
AUDIT_ACTION_LEN: Final = 64
ENTITY_TYPE_LEN: Final = 64
ENTITY_ID_LEN: Final = 128
REQUEST_ID_LEN: Final = 128


class AuditEvent(Base):
    """One event of the tamper-evident audit trail (append-only: never updated or deleted).

    Events form a hash chain: ``hash`` is the SHA-256 of a canonical serialisation
    of every other column (see :mod:`povguard.store.services.audit`), including
    ``prev_hash``, the ``hash`` of the event before (64 zeros for the first one).
    ``id`` is assigned by the service, 1, 2, 3... without gaps, so a deleted
    event shows as a gap. ``before`` and ``after`` are canonical JSON text (not
    JSONB, which would re-serialise them and break the hash). Triggers made by
    the migration refuse UPDATE and DELETE on both backends.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("prev_hash"),
        Index("ix_audit_events_entity_type_entity_id", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN), index=True)
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_LEN))
    entity_type: Mapped[str] = mapped_column(String(ENTITY_TYPE_LEN))
    entity_id: Mapped[str] = mapped_column(String(ENTITY_ID_LEN))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LEN), index=True)
    prev_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    hash: Mapped[str] = mapped_column(String(HASH_LEN))


class AuditChainHead(Base):
    """The single row naming the last event of the audit chain (id 1 only).

    Appending an event first updates this row, which serialises appenders (a row
    lock on PostgreSQL, the write lock on SQLite) so that no two events link to
    the same ``prev_hash``; it also lets
    :func:`povguard.store.services.audit.verify_chain` notice events cut
    off the end of the chain. Triggers refuse deleting the row and moving
    ``last_id`` backwards.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(HASH_LEN))


# ------------------------------------------------------------------ case management

#: Roles of the platform's users (issue 8 adds authentication).
USER_ROLES: Final = (
    "province",
    "city",
    "county",
    "township",
    "village",
    "department",
    "analyst",
    "auditor",
    "admin",
)
#: States of a case (the workflow's :class:`povguard.cases.CaseStatus` values).
CASE_STATUSES: Final = (
    "discovered",
    "visit",
    "cross_check",
    "village_review",
    "township_review",
    "county_approval",
    "monitored",
    "assisted",
    "elimination_assessment",
    "elimination_notice",
    "township_acceptance",
    "county_elimination_approval",
    "eliminated",
    "closed_no_risk",
    "closed_not_identified",
)
#: Identification channels (:class:`povguard.cases.Channel` values).
CASE_CHANNELS: Final = (
    "department_warning",
    "risk_model",
    "self_report",
    "cadre_screening",
    "hotline",
)
#: What brought a clue to a case: a risk warning, a needs-verification warning
#: (unknown is not safe) or a report through another channel.
CASE_BASES: Final = ("risk", "needs_verification", "report")
#: What the intake did with a clue (:class:`povguard.cases.IntakeKind` values).
INTAKE_KINDS: Final = ("new_case", "relapse", "attach")
#: Kinds of task a case step asks for.
TASK_KINDS: Final = ("visit", "cross_check", "review", "notice", "plan", "follow_up", "home_check")
TASK_STATUSES: Final = ("open", "done", "cancelled")
#: Administrative levels that review and decide.
DECISION_LEVELS: Final = ("village", "township", "county")
DECISION_OUTCOMES: Final = ("approve", "reject")
#: Procedures a decision or a public notice belongs to.
CASE_STAGES: Final = ("identification", "elimination")
NOTICE_STATUSES: Final = ("running", "ended", "withdrawn")
VISIT_KINDS: Final = ("visit", "follow_up", "home_check")
PLAN_STATUSES: Final = ("draft", "accepted", "superseded")
MEASURE_STATUSES: Final = ("proposed", "accepted", "removed")
GRIEVANCE_KINDS: Final = ("appeal", "complaint")
GRIEVANCE_STATUSES: Final = ("open", "resolved", "dismissed")
CASE_ID_LEN: Final = 48
IDEMPOTENCY_KEY_LEN: Final = 128
MEASURE_ID_LEN: Final = 64


class User(Base):
    """A user of the platform: a cadre, an official, an analyst or an auditor.

    ``area_code`` is the 12-digit region code of the area the user may see (``''`` =
    everywhere); its significant digits are the prefix every query is scoped by.
    ``password_hash`` is an argon2id hash (None: the user cannot sign in with a
    password). ``failed_logins`` counts consecutive failures; at the configured limit
    the account is locked until ``locked_until``.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ACTOR_LEN), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    area_code: Mapped[str] = mapped_column(String(REGION_CODE_LEN), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A signed-in browser session.

    ``id`` is the HMAC-SHA256 of the cookie's random token (the token itself is
    never stored); ``csrf_token`` must accompany every state-changing request of
    the session.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserToken(Base):
    """An API token of a user (``Authorization: Bearer <token>``), stored as its
    HMAC-SHA256 only; ``token_prefix`` identifies it in lists."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MembershipHistory(Base):
    """A person's membership of a household over time, from registry snapshots.

    ``[valid_from, valid_to)`` in periods: ``valid_from`` is the period of the first
    snapshot showing the person in the household, ``valid_to`` the period of the
    first snapshot showing them elsewhere (None: still a member).
    """

    __tablename__ = "membership_history"

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(
        String(HOUSEHOLD_ID_LEN), ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    id_number: Mapped[str] = mapped_column(String(ID_NUMBER_LEN), index=True)
    valid_from: Mapped[str] = mapped_column(String(PERIOD_LEN))
    valid_to: Mapped[str | None] = mapped_column(String(PERIOD_LEN))


class Case(Base):
    """One household's case, from discovery to risk elimination (or closure).

    ``state`` is the whole workflow state (:func:`povguard.cases.state_to_dict`);
    the other columns repeat what lists filter and sort on. Times of the case are
    local wall-clock times (no time zone), the way cadres count days. ``version``
    counts the case's events and is bumped by a conditional update (optimistic
    locking). ``due_on``/``due_kind`` are the most pressing deadline of the open
    step, fixed with the policy parameters in force when the step was entered.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("channel", CASE_CHANNELS), name="channel"),
        CheckConstraint(_in("basis", CASE_BASES), name="basis"),
        CheckConstraint(
            "household_type IS NULL OR " + _in("household_type", HOUSEHOLD_TYPES),
            name="household_type",
        ),
    )

    id: Mapped[str] = mapped_column(String(CASE_ID_LEN), primary_key=True)
    household_id: Mapped[str] = mapped_column(
        String(HOUSEHOLD_ID_LEN), ForeignKey("households.id"), index=True
    )
    village_code: Mapped[str] = mapped_column(String(REGION_CODE_LEN), index=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LEN), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(24))
    basis: Mapped[str] = mapped_column(String(24))
    household_type: Mapped[str | None] = mapped_column(String(32))
    main_cause: Mapped[str | None] = mapped_column(String(24))
    other_causes: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    relapse: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_case_id: Mapped[str | None] = mapped_column(
        String(CASE_ID_LEN), ForeignKey("cases.id")
    )
    discovered_at: Mapped[dt.datetime] = mapped_column(DateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime())
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    assignee: Mapped[str | None] = mapped_column(String(ACTOR_LEN), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    due_kind: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseEventRecord(Base):
    """One transition of a case (append-only: triggers refuse UPDATE and DELETE).

    ``seq`` is the case's version after the event; ``idempotency_key`` is unique per
    case, so a retried request is recognised; ``fingerprint`` identifies the request
    (action, actor, payload).
    """

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        UniqueConstraint("case_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN))
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    before_status: Mapped[str | None] = mapped_column(String(32))
    after_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LEN))
    fingerprint: Mapped[str] = mapped_column(String(HASH_LEN))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseIntake(Base):
    """A clue (a period's warnings of a household, or a report) taken in to a case.

    ``kind`` says whether it opened a new case, a relapse case or joined an open
    one; ``idempotency_key`` (e.g. ``intake:2025-06:<household>``) makes the intake
    happen once.
    """

    __tablename__ = "case_intakes"
    __table_args__ = (
        CheckConstraint(_in("kind", INTAKE_KINDS), name="kind"),
        CheckConstraint(_in("basis", CASE_BASES), name="basis"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LEN), unique=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    household_id: Mapped[str] = mapped_column(String(HOUSEHOLD_ID_LEN), index=True)
    period: Mapped[str | None] = mapped_column(String(PERIOD_LEN), index=True)
    channel: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16))
    basis: Mapped[str] = mapped_column(String(24))
    rule_ids: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN))
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Task(Base):
    """Work a case's open step asks of someone (a visit, a review, a follow-up...).

    One task is open per open case; a transition completes it and opens the next.
    ``level`` is who acts (village, township or county); ``assignee`` the user
    named for it, if any.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("kind", TASK_KINDS), name="kind"),
        CheckConstraint(_in("level", DECISION_LEVELS), name="level"),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str] = mapped_column(String(REGION_CODE_LEN), index=True)
    assignee: Mapped[str | None] = mapped_column(String(ACTOR_LEN), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    opened_seq: Mapped[int] = mapped_column(Integer)
    closed_seq: Mapped[int | None] = mapped_column(Integer)


class Visit(Base):
    """A home visit, follow-up visit or elimination home check and what it found."""

    __tablename__ = "visits"
    __table_args__ = (CheckConstraint(_in("kind", VISIT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime())
    recorded_by: Mapped[str] = mapped_column(String(ACTOR_LEN))
    findings: Mapped[Any] = mapped_column(JSONDoc)
    authorisation_signed: Mapped[bool | None] = mapped_column(Boolean)
    team: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    labour_members: Mapped[int | None] = mapped_column(Integer)


class Notice(Base):
    """A public notice (公示) of an identification or a risk elimination in a village."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint(_in("kind", CASE_STAGES), name="kind"),
        CheckConstraint(_in("status", NOTICE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str] = mapped_column(String(REGION_CODE_LEN), index=True)
    started_on: Mapped[dt.date] = mapped_column(Date)
    earliest_end: Mapped[dt.date] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    started_seq: Mapped[int] = mapped_column(Integer)
    ended_seq: Mapped[int | None] = mapped_column(Integer)


class Decision(Base):
    """A review decision on a case by a village, township or county."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_in("stage", CASE_STAGES), name="stage"),
        CheckConstraint(_in("level", DECISION_LEVELS), name="level"),
        CheckConstraint(_in("outcome", DECISION_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(ACTOR_LEN))
    at: Mapped[dt.datetime] = mapped_column(DateTime())


class AssistancePlan(Base):
    """An assistance plan of a case: recommended, edited by a cadre, then accepted.

    ``needs`` is the household's situation the plan was made for; ``version`` is
    bumped by every edit (optimistic locking).
    """

    __tablename__ = "plans"
    __table_args__ = (CheckConstraint(_in("status", PLAN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    needs: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    catalogue_version: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(ACTOR_LEN))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    accepted_by: Mapped[str | None] = mapped_column(String(ACTOR_LEN))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime())


class PlanMeasure(Base):
    """One measure of a plan (one person, where it is for one), with why it is there."""

    __tablename__ = "plan_measures"
    __table_args__ = (
        UniqueConstraint("plan_id", "measure_id"),
        CheckConstraint(_in("status", MEASURE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(BigID, ForeignKey("plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    measure_id: Mapped[str] = mapped_column(String(MEASURE_ID_LEN))
    person_id_number: Mapped[str | None] = mapped_column(String(ID_NUMBER_LEN))
    basis: Mapped[str] = mapped_column(String(24))
    causes: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    amount: Mapped[float | None] = mapped_column(Float)
    years: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    edit_reason: Mapped[str | None] = mapped_column(Text)


class MeasureDelivery(Base):
    """Assistance actually delivered under a plan measure."""

    __tablename__ = "measure_deliveries"

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    plan_measure_id: Mapped[int] = mapped_column(BigID, ForeignKey("plan_measures.id"), index=True)
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(ACTOR_LEN))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Grievance(Base):
    """An appeal against a decision, or a complaint, filed by or for a household."""

    __tablename__ = "grievances"
    __table_args__ = (
        CheckConstraint(_in("kind", GRIEVANCE_KINDS), name="kind"),
        CheckConstraint(_in("status", GRIEVANCE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID_LEN), ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime())
    filed_by: Mapped[str] = mapped_column(String(ACTOR_LEN))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(ACTOR_LEN))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    seq: Mapped[int | None] = mapped_column(Integer)
