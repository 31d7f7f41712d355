"""Services of the operations database: the only place that builds its queries.

Write side (used by the monthly cycle): :func:`sync_registry`,
:func:`replace_warnings`, :func:`record_cycle_run`. Read side (used by the web
pages and the API): :func:`overview`, :func:`list_warnings`,
:func:`household_detail`, :func:`periods`, :func:`cycle_runs`. Push-API accounts:
:func:`create_account`, :func:`authenticate`, :func:`deactivate`,
:func:`list_accounts`. Clerical review of record linkage: :func:`queue_link_reviews`,
:func:`link_decisions`, :func:`list_link_reviews`, :func:`count_link_reviews`,
:func:`get_link_review`, :func:`decide_link_review`, :func:`undo_link_review`,
:func:`link_review_history`.
"""

from povguard.store.services._common import (
    AreaScopeError,
    check_area_prefix,
    check_period,
    region_prefix,
)
from povguard.store.services.accounts import (
    account_may_push,
    authenticate,
    create_account,
    deactivate,
    list_accounts,
)
from povguard.store.services.cycles import cycle_runs, record_cycle_run
from povguard.store.services.link_review import (
    LINK_DECISIONS,
    LinkReviewEventItem,
    LinkReviewItem,
    count_link_reviews,
    decide_link_review,
    get_link_review,
    link_decisions,
    link_review_history,
    list_link_reviews,
    queue_link_reviews,
    undo_link_review,
)
from povguard.store.services.queries import (
    MAX_PAGE_SIZE,
    CountItem,
    HouseholdDetail,
    Overview,
    Page,
    PersonItem,
    RegionRef,
    TownshipCount,
    WarningItem,
    household_count,
    household_detail,
    latest_period,
    list_warnings,
    overview,
    periods,
)
from povguard.store.services.registry import SyncResult, sync_registry
from povguard.store.services.screening import replace_warnings

__all__ = [
    "LINK_DECISIONS",
    "MAX_PAGE_SIZE",
    "AreaScopeError",
    "CountItem",
    "HouseholdDetail",
    "LinkReviewEventItem",
    "LinkReviewItem",
    "Overview",
    "Page",
    "PersonItem",
    "RegionRef",
    "SyncResult",
    "TownshipCount",
    "WarningItem",
    "account_may_push",
    "authenticate",
    "check_area_prefix",
    "check_period",
    "count_link_reviews",
    "create_account",
    "cycle_runs",
    "deactivate",
    "decide_link_review",
    "get_link_review",
    "household_count",
    "household_detail",
    "latest_period",
    "link_decisions",
    "link_review_history",
    "list_accounts",
    "list_link_reviews",
    "list_warnings",
    "overview",
    "periods",
    "queue_link_reviews",
    "record_cycle_run",
    "region_prefix",
    "replace_warnings",
    "sync_registry",
    "undo_link_review",
]
