"""Partitions, backfill policies and the schedules' time zone, in one place."""

from __future__ import annotations

import dagster as dg

CALL_DAY_START = "2025-01-01"

PLATFORM_TIMEZONE = "UTC"
"""The zone every schedule names explicitly; tenant-local days are computed by the work itself."""

CALL_DAY_ASSETS: tuple[str, ...] = (
    "call_records",
    "recordings",
    "transcripts",
    "ai_summaries",
    "crm_links",
)
"""The ingestion assets partitioned by call day (their quarantine is too)."""

call_day_partitions = dg.DailyPartitionsDefinition(start_date=CALL_DAY_START, end_offset=1)
"""One partition per call day (the PBX's daily CDR rotation); today's is open for late files."""

call_day_backfill = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
"""Ingestion: a run per call day, so a backfill over months spreads over runs and workers."""

call_day_range_backfill = dg.BackfillPolicy.single_run()
"""Aggregates over call days: one run covers the whole range (one query, one transaction)."""
