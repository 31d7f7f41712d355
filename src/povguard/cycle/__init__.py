"""The monthly monitoring cycle: ingest -> link -> indicators -> screen -> warnings."""

from povguard.cycle.run import (
    CycleResult,
    StageResult,
    feed_periods,
    id_fields,
    link_keys,
    run_cycle,
)

__all__ = ["CycleResult", "StageResult", "feed_periods", "id_fields", "link_keys", "run_cycle"]
