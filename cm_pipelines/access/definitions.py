"""What access shows in Dagster: the watch over support reads (evaluated by the hourly
operations watch job)."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.access.checks import support_reads_within_grants

defs = dg.Definitions(asset_checks=[support_reads_within_grants])
