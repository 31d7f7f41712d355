"""Case management: users, membership_history, cases and their events, intakes, tasks,
visits, notices, decisions, plans, plan_measures, measure_deliveries, grievances.

``case_events`` is append-only: triggers refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE), as for ``audit_events``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types and code lists are spelled out here (not imported from the models) so that
# this revision keeps creating the same tables when the models change later.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

USER_ROLES = (
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
CASE_STATUSES = (
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
CASE_CHANNELS = ("department_warning", "risk_model", "self_report", "cadre_screening", "hotline")
CASE_BASES = ("risk", "needs_verification", "report")
HOUSEHOLD_TYPES = ("unstable_former_poor", "edge", "sudden_hardship")
INTAKE_KINDS = ("new_case", "relapse", "attach")
TASK_KINDS = ("visit", "cross_check", "review", "notice", "plan", "follow_up", "home_check")
TASK_STATUSES = ("open", "done", "cancelled")
LEVELS = ("village", "township", "county")
OUTCOMES = ("approve", "reject")
STAGES = ("identification", "elimination")
NOTICE_STATUSES = ("running", "ended", "withdrawn")
VISIT_KINDS = ("visit", "follow_up", "home_check")
PLAN_STATUSES = ("draft", "accepted", "superseded")
MEASURE_STATUSES = ("proposed", "accepted", "removed")
GRIEVANCE_KINDS = ("appeal", "complaint")
GRIEVANCE_STATUSES = ("open", "resolved", "dismissed")

#: Indexed columns per table (one single-column index each).
INDEXES = {
    "cases": ("assignee", "due_on", "household_id", "period", "status", "village_code"),
    "membership_history": ("household_id", "id_number"),
    "case_intakes": ("case_id", "household_id", "period"),
    "decisions": ("case_id",),
    "grievances": ("case_id", "status"),
    "notices": ("case_id", "village_code"),
    "plans": ("case_id",),
    "tasks": ("assignee", "case_id", "due_on", "status", "village_code"),
    "visits": ("case_id",),
    "plan_measures": ("plan_id",),
    "measure_deliveries": ("plan_measure_id",),
}

_REFUSED = "case_events is append-only"
SQLITE_TRIGGERS = {
    "case_events_no_update": f"""
        CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE refused'); END
    """,
    "case_events_no_delete": f"""
        CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE refused'); END
    """,
}
PG_FUNCTION = f"""
    CREATE FUNCTION case_events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_REFUSED}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$
"""
PG_TRIGGERS = {
    "case_events_no_update_delete": """
        CREATE TRIGGER case_events_no_update_delete BEFORE UPDATE OR DELETE ON case_events
        FOR EACH ROW EXECUTE FUNCTION case_events_refuse_change()
    """,
    "case_events_no_truncate": """
        CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
        FOR EACH STATEMENT EXECUTE FUNCTION case_events_refuse_change()
    """,
}


def _dialect() -> str:
    return op.get_context().dialect.name


def _check(
    table: str, column: str, values: tuple[str, ...], nullable: bool = False
) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    text = f"{column} IN ({quoted})"
    if nullable:
        text = f"{column} IS NULL OR {text}"
    return sa.CheckConstraint(text, name=op.f(f"ck_{table}_{column}"))


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, autoincrement=True, nullable=False)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_{column}_{target.split('.', maxsplit=1)[0]}")
    return sa.ForeignKeyConstraint([column], [target], name=name)


def _case_id(table: str) -> tuple[sa.Column[str], sa.ForeignKeyConstraint]:
    """The ``case_id`` column of a table that belongs to a case, and its foreign key."""
    return sa.Column("case_id", sa.String(length=48), nullable=False), _fk(
        table, "case_id", "cases.id"
    )


def upgrade() -> None:
    """Create the case-management tables (new tables: no batch mode needed)."""
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _check("users", "role", USER_ROLES),
        _pk("users"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "membership_history",
        _id(),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.String(length=7), nullable=False),
        sa.Column("valid_to", sa.String(length=7), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_membership_history_household_id_households"),
            ondelete="CASCADE",
        ),
        _pk("membership_history"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("household_type", sa.String(length=32), nullable=True),
        sa.Column("main_cause", sa.String(length=24), nullable=True),
        sa.Column("other_causes", JSON_DOC, nullable=False),
        sa.Column("relapse", sa.Boolean(), nullable=False),
        sa.Column("previous_case_id", sa.String(length=48), nullable=True),
        sa.Column("discovered_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_kind", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _check("cases", "basis", CASE_BASES),
        _check("cases", "channel", CASE_CHANNELS),
        _check("cases", "household_type", HOUSEHOLD_TYPES, nullable=True),
        _check("cases", "status", CASE_STATUSES),
        _fk("cases", "household_id", "households.id"),
        _fk("cases", "previous_case_id", "cases.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    column, fk = _case_id("case_events")
    op.create_table(
        "case_events",
        _id(),
        column,
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("before_status", sa.String(length=32), nullable=True),
        sa.Column("after_status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("changes", JSON_DOC, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        fk,
        _pk("case_events"),
        sa.UniqueConstraint(
            "case_id", "idempotency_key", name=op.f("uq_case_events_case_id_idempotency_key")
        ),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
    )
    column, fk = _case_id("case_intakes")
    op.create_table(
        "case_intakes",
        _id(),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        column,
        sa.Column("household_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("rule_ids", JSON_DOC, nullable=False),
        sa.Column("detail", JSON_DOC, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _check("case_intakes", "basis", CASE_BASES),
        _check("case_intakes", "kind", INTAKE_KINDS),
        fk,
        _pk("case_intakes"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_case_intakes_idempotency_key")),
    )
    column, fk = _case_id("decisions")
    op.create_table(
        "decisions",
        _id(),
        column,
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        _check("decisions", "level", LEVELS),
        _check("decisions", "outcome", OUTCOMES),
        _check("decisions", "stage", STAGES),
        fk,
        _pk("decisions"),
    )
    column, fk = _case_id("grievances")
    op.create_table(
        "grievances",
        _id(),
        column,
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        _check("grievances", "kind", GRIEVANCE_KINDS),
        _check("grievances", "status", GRIEVANCE_STATUSES),
        fk,
        _pk("grievances"),
    )
    column, fk = _case_id("notices")
    op.create_table(
        "notices",
        _id(),
        column,
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("earliest_end", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_seq", sa.Integer(), nullable=False),
        sa.Column("ended_seq", sa.Integer(), nullable=True),
        _check("notices", "kind", STAGES),
        _check("notices", "status", NOTICE_STATUSES),
        fk,
        _pk("notices"),
    )
    column, fk = _case_id("plans")
    op.create_table(
        "plans",
        _id(),
        column,
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("needs", JSON_DOC, nullable=False),
        sa.Column("warnings", JSON_DOC, nullable=False),
        sa.Column("catalogue_version", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        _check("plans", "status", PLAN_STATUSES),
        fk,
        _pk("plans"),
    )
    column, fk = _case_id("tasks")
    op.create_table(
        "tasks",
        _id(),
        column,
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("opened_seq", sa.Integer(), nullable=False),
        sa.Column("closed_seq", sa.Integer(), nullable=True),
        _check("tasks", "kind", TASK_KINDS),
        _check("tasks", "level", LEVELS),
        _check("tasks", "status", TASK_STATUSES),
        fk,
        _pk("tasks"),
    )
    column, fk = _case_id("visits")
    op.create_table(
        "visits",
        _id(),
        column,
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("visited_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("findings", JSON_DOC, nullable=False),
        sa.Column("authorisation_signed", sa.Boolean(), nullable=True),
        sa.Column("team", JSON_DOC, nullable=False),
        sa.Column("labour_members", sa.Integer(), nullable=True),
        _check("visits", "kind", VISIT_KINDS),
        fk,
        _pk("visits"),
    )
    op.create_table(
        "plan_measures",
        _id(),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("person_id_number", sa.String(length=32), nullable=True),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("causes", JSON_DOC, nullable=False),
        sa.Column("reason_zh", sa.Text(), nullable=False),
        sa.Column("reason_en", sa.Text(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("years", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("edit_reason", sa.Text(), nullable=True),
        _check("plan_measures", "status", MEASURE_STATUSES),
        _fk("plan_measures", "plan_id", "plans.id"),
        _pk("plan_measures"),
        sa.UniqueConstraint(
            "plan_id", "measure_id", name=op.f("uq_plan_measures_plan_id_measure_id")
        ),
    )
    op.create_table(
        "measure_deliveries",
        _id(),
        sa.Column("plan_measure_id", BIG_ID, nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("measure_deliveries", "plan_measure_id", "plan_measures.id"),
        _pk("measure_deliveries"),
    )
    for table, indexed in INDEXES.items():
        for name in indexed:
            op.create_index(op.f(f"ix_{table}_{name}"), table, [name])

    if _dialect() == "postgresql":
        for ddl in (PG_FUNCTION, *PG_TRIGGERS.values()):
            op.execute(ddl)
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    """Drop the triggers and the case-management tables (their data is lost)."""
    if _dialect() == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON case_events")
        op.execute("DROP FUNCTION IF EXISTS case_events_refuse_change()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table, indexed in reversed(INDEXES.items()):
        for name in indexed:
            op.drop_index(op.f(f"ix_{table}_{name}"), table_name=table)
    for table in (
        "measure_deliveries",
        "plan_measures",
        "visits",
        "tasks",
        "plans",
        "notices",
        "grievances",
        "decisions",
        "case_intakes",
        "case_events",
        "cases",
        "membership_history",
        "users",
    ):
        op.drop_table(table)
