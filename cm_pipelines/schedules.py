"""Schedules, each in an explicit time zone. Each capability adds its schedules to ``ALL_SCHEDULES``."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.jobs import call_ingestion_job

PLATFORM_TIMEZONE = "UTC"

call_ingestion_schedule = dg.build_schedule_from_partitioned_job(
    call_ingestion_job,
    name="call_ingestion_schedule",
    hour_of_day=1,
    minute_of_hour=15,
    description="Ingests the previous call day after the PBXs rotate their CDR files.",
)

ALL_SCHEDULES: list = [call_ingestion_schedule]
