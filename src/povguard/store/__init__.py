"""Operations database: models, sessions, migrations and services.

SQLite (WAL, foreign keys) by default, PostgreSQL (psycopg 3) in production::

    from povguard.store import make_engine, migrate, session_factory, services

    migrate(settings.ops_url)
    engine = make_engine(settings.ops_url)
    Session = session_factory(engine)
    with Session() as session:
        services.sync_registry(session, regions, households, persons, period="2025-06")

Web pages and the API call the services; they never build queries themselves.
"""

from povguard.store import services
from povguard.store.db import make_engine, normalise_url, session_factory
from povguard.store.migrate import alembic_config, current_revision, head_revision, migrate
from povguard.store.models import (
    CYCLE_STATUSES,
    HOUSEHOLD_TYPES,
    REGION_LEVELS,
    WARNING_KINDS,
    ApiAccount,
    Base,
    CycleRun,
    Household,
    HouseholdWarning,
    Person,
    Region,
)
from povguard.store.services import (
    AreaScopeError,
    CountItem,
    HouseholdDetail,
    Overview,
    Page,
    PersonItem,
    RegionRef,
    SyncResult,
    TownshipCount,
    WarningItem,
    account_may_push,
    authenticate,
    create_account,
    cycle_runs,
    deactivate,
    household_count,
    household_detail,
    latest_period,
    list_accounts,
    list_warnings,
    overview,
    periods,
    record_cycle_run,
    region_prefix,
    replace_warnings,
    sync_registry,
)

__all__ = [
    "CYCLE_STATUSES",
    "HOUSEHOLD_TYPES",
    "REGION_LEVELS",
    "WARNING_KINDS",
    "ApiAccount",
    "AreaScopeError",
    "Base",
    "CountItem",
    "CycleRun",
    "Household",
    "HouseholdDetail",
    "HouseholdWarning",
    "Overview",
    "Page",
    "Person",
    "PersonItem",
    "Region",
    "RegionRef",
    "SyncResult",
    "TownshipCount",
    "WarningItem",
    "account_may_push",
    "alembic_config",
    "authenticate",
    "create_account",
    "current_revision",
    "cycle_runs",
    "deactivate",
    "head_revision",
    "household_count",
    "household_detail",
    "latest_period",
    "list_accounts",
    "list_warnings",
    "make_engine",
    "migrate",
    "normalise_url",
    "overview",
    "periods",
    "record_cycle_run",
    "region_prefix",
    "replace_warnings",
    "services",
    "session_factory",
    "sync_registry",
]
