"""Daily call volumes per tenant, counted from live rows: what ``call_day_volumes`` records.

Ingestion is one run per call day so a month spreads over workers; the volumes are a handful of
GROUP BY queries over whatever range it is given, so a year of days costs one run and one
transaction instead of 365 (``BackfillPolicy.single_run``). It is kept out of the per-day
ingestion job: ``call_volumes_schedule`` counts each night the days ingested since (never
counted) and recounts those purges or erasures changed; ``call_volumes_job`` (or a UI backfill)
recounts any range by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from cm_pipelines.domain.ingestion.call_volumes import DayVolume, assemble_day_volumes
from cm_pipelines.platform.partitions import CALL_DAY_ASSETS
from cm_pipelines.resources.locks import lock_partition
from cm_pipelines.tables import calls as tables
from cm_pipelines.tables.base import live_rows
from cm_pipelines.tables.volumes import call_day_volumes as volumes_table

Measured = list[tuple[str, date, int]]


def _grouped(
    connection: sa.Connection,
    table: sa.Table,
    measures: dict[str, sa.ColumnElement],
    first: date,
    last: date,
) -> dict[str, Measured]:
    """Several measures of one table in one pass: ``measures`` maps a name to its aggregate."""
    query = (
        sa.select(table.c.tenant_id, table.c.partition_date, *measures.values())
        .where(table.c.partition_date.between(first, last), live_rows(table))
        .group_by(table.c.tenant_id, table.c.partition_date)
    )
    measured: dict[str, Measured] = {name: [] for name in measures}
    for tenant, day, *amounts in connection.execute(query):
        for name, amount in zip(measures, amounts, strict=True):
            measured[name].append((str(tenant), day, int(amount or 0)))
    return measured


def measure_call_volumes(connection: sa.Connection, first: date, last: date) -> dict[str, Measured]:
    """Each volume measure of the range, per tenant and call day, from live rows only: one
    query per table."""
    calls, recordings = tables.calls, tables.recordings
    count = sa.func.count()
    measured = {
        **_grouped(
            connection,
            calls,
            {
                "calls": count,
                "answered_calls": sa.func.count(calls.c.answered_at),  # non-null only
                "billed_seconds": sa.func.sum(calls.c.billsec_s),
            },
            first,
            last,
        ),
        **_grouped(
            connection,
            recordings,
            {"recordings": count, "recording_bytes": sa.func.sum(recordings.c.bytes)},
            first,
            last,
        ),
        **_grouped(connection, tables.transcripts, {"transcripts": count}, first, last),
        **_grouped(connection, tables.ai_outputs, {"ai_outputs": count}, first, last),
        **_grouped(connection, tables.crm_links, {"crm_links": count}, first, last),
    }
    quarantine = tables.quarantine
    rows = connection.execute(
        sa.select(quarantine.c.tenant_id, quarantine.c.partition_key, count)
        .where(
            quarantine.c.asset.in_(CALL_DAY_ASSETS),
            quarantine.c.partition_key.between(first.isoformat(), last.isoformat()),
            quarantine.c.tenant_id.is_not(None),  # files of unknown tenants belong to no one
            quarantine.c.purged_at.is_(None),
        )
        .group_by(quarantine.c.tenant_id, quarantine.c.partition_key)
    )
    measured["quarantined_items"] = [
        (str(tenant), date.fromisoformat(str(day)), int(amount)) for tenant, day, amount in rows
    ]
    return measured


COUNTED_TABLES = (
    tables.calls,
    tables.recordings,
    tables.transcripts,
    tables.ai_outputs,
    tables.crm_links,
)


def stale_call_days(connection: sa.Connection) -> set[date]:
    """Call days whose volumes no longer match the warehouse: a live row of a tenant-day never
    counted (ingested before volumes existed), or a row purged or erased after its tenant-day
    was last counted. The nightly recount takes exactly these days."""
    volumes = volumes_table
    stale: set[date] = set()
    for table in COUNTED_TABLES:
        counted = volumes.c.computed_at
        changed: sa.ColumnElement[bool] = table.c.deleted_at > counted
        if "erased_at" in table.c:
            changed = sa.or_(changed, table.c.erased_at > counted)
        query = (
            sa.select(table.c.partition_date)
            .distinct()
            .select_from(
                table.outerjoin(
                    volumes,
                    sa.and_(
                        volumes.c.tenant_id == table.c.tenant_id,
                        volumes.c.call_day == table.c.partition_date,
                    ),
                )
            )
            .where(sa.or_(sa.and_(counted.is_(None), live_rows(table)), changed))
        )
        stale.update(_as_day(value) for (value,) in connection.execute(query))
    return stale


def _as_day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def recount_call_volumes(
    connection: sa.Connection, first: date, last: date, run_id: str
) -> list[DayVolume]:
    """Replace the volumes of every call day from ``first`` to ``last`` in one transaction."""
    # one writer at a time: two overlapping ranges would each delete, then both insert
    lock_partition(connection, "all", scope="call_day_volumes")
    volumes = assemble_day_volumes(measure_call_volumes(connection, first, last))
    connection.execute(
        sa.delete(volumes_table).where(volumes_table.c.call_day.between(first, last))
    )
    if volumes:
        computed_at = datetime.now(UTC)
        connection.execute(
            sa.insert(volumes_table),
            [
                volume.as_row() | {"computed_at": computed_at, "run_id": run_id}
                for volume in volumes
            ],
        )
    return volumes
