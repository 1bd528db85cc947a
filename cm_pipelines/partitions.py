"""Partitions and backfill policies, in one place."""

from __future__ import annotations

import dagster as dg

CALL_DAY_START = "2025-01-01"

call_day_partitions = dg.DailyPartitionsDefinition(start_date=CALL_DAY_START, end_offset=1)
"""One partition per call day (the PBX's daily CDR rotation); today's is open for late files."""

call_day_backfill = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
"""Ingestion: a run per call day, so a backfill over months spreads over runs and workers."""

call_day_range_backfill = dg.BackfillPolicy.single_run()
"""Aggregates over call days: one run covers the whole range (one query, one transaction)."""


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run of an asset job cover every partition from ``first`` to
    ``last`` (what a single-run backfill launches)."""
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
