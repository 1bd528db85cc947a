"""Call data ingested from the landing zone, one call day per partition, and its volumes.

Each call-day asset reads its landing files through the object store, hands the bytes to a pure
parser in ``cm_pipelines.domain.ingestion`` and replaces its partition in the warehouse, one
step per tenant slice (``tenant_slices``); whatever cannot be read is quarantined with a reason,
source file and line, never silently dropped. The ingest services live beside this module:
``call_records``, ``catalogue`` (recordings, transcripts, AI outputs) and ``crm_links``.
"""

# No ``from __future__ import annotations``: Dagster reads the asset signatures' types at
# definition time.
import json
from datetime import date

import dagster as dg

from cm_pipelines.domain.dsar.planning import AI_OUTPUTS, TRANSCRIPTS
from cm_pipelines.domain.ingestion.call_volumes import volume_totals
from cm_pipelines.ingestion.call_records import call_records_metadata, ingest_call_records
from cm_pipelines.ingestion.catalogue import (
    Catalogue,
    ai_output_row,
    catalogue_metadata,
    ingest_catalogue_slice,
    recording_row,
    transcript_row,
)
from cm_pipelines.ingestion.crm_links import crm_links_metadata, ingest_crm_links
from cm_pipelines.ingestion.tenant_slices import tenant_sliced_day_asset
from cm_pipelines.ingestion.tenants import sync_tenants
from cm_pipelines.ingestion.volumes import recount_call_volumes
from cm_pipelines.platform import settings
from cm_pipelines.platform.partitions import (
    CALL_DAY_ASSETS,
    call_day_partitions,
    call_day_range_backfill,
)
from cm_pipelines.resources.configuration import PlatformConfigResource, file_sha256
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables


@dg.asset(group_name="platform", kinds={"python", "yaml"})
def tenants(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Client tenants and their approved retention models, as configured: the source of truth
    every tenant-scoped step reads its country, time zone and registries from."""
    warehouse.assert_schema_current()
    configured = platform_config.tenants()
    config_sha = file_sha256(platform_config.tenants_path())
    with warehouse.begin() as connection:
        removed = sync_tenants(connection, configured, config_sha)
    if removed:
        context.log.warning(
            f"{len(removed)} tenant(s) are in the warehouse but no longer configured; "
            "their data is kept until retention or an operator removes it"
        )
    return dg.MaterializeResult(
        metadata={
            "tenant_count": len(configured),
            "tenant_ids": dg.MetadataValue.json(sorted(t.id for t in configured)),
            "unconfigured_tenants_in_warehouse": len(removed),
            "config_sha256": config_sha,
            "countries": dg.MetadataValue.json(
                json.loads(json.dumps(sorted({t.country for t in configured})))
            ),
        }
    )


call_records = tenant_sliced_day_asset(
    name="call_records",
    upstream="tenants",
    landing_kind="cdr",
    only_landed_tenants=True,
    ingest_slice=ingest_call_records,
    summarise=call_records_metadata,
    description="Asterisk cdr_csv call detail records of one call day, numbers normalised to "
    "E.164 with the tenant's country, extensions and anonymous callers kept, direction inferred.",
    kinds={"python", "csv"},
    pii="phone-name",
)


def _catalogue_asset(
    catalogue: Catalogue, *, upstream: str, description: str, kinds: set[str], pii: str
) -> dg.AssetsDefinition:
    def ingest(work, warehouse, object_store):
        key = settings.identifier_hash_key() if catalogue.index_store else None
        return ingest_catalogue_slice(catalogue, work, warehouse, object_store, hash_key=key)

    return tenant_sliced_day_asset(
        name=catalogue.asset_name,
        upstream=upstream,
        landing_kind=catalogue.landing_kind,
        only_landed_tenants=False,  # every tenant: its day's catalogue is what is there now
        ingest_slice=ingest,
        summarise=catalogue_metadata,
        description=description,
        kinds=kinds,
        pii=pii,
    )


recordings = _catalogue_asset(
    Catalogue(
        "recordings", "recordings", tables.recordings, ("tenant_id", "call_id"), recording_row
    ),
    upstream="call_records",
    description="Catalogue of call recordings (WAV named by uniqueid): object path, bytes, "
    "sha256 and the duration read from the WAV header, linked to the call they recorded.",
    kinds={"python", "wav"},
    pii="voice",
)

transcripts = _catalogue_asset(
    Catalogue(
        "transcripts",
        "transcripts",
        tables.transcripts,
        ("tenant_id", "call_id"),
        transcript_row,
        index_store=TRANSCRIPTS,
    ),
    upstream="recordings",
    description="Transcripts (AWS Transcribe or Whisper JSON, detected) with text and speaker "
    "segments normalised to one shape, linked to their call.",
    kinds={"python", "json"},
    pii="transcript",
)

ai_summaries = _catalogue_asset(
    Catalogue(
        "ai_summaries",
        "ai_outputs",
        tables.ai_outputs,
        ("tenant_id", "call_id", "kind"),
        ai_output_row,
        index_store=AI_OUTPUTS,
    ),
    upstream="transcripts",
    description="AI call summaries and receptionist notes: derived artefacts that follow their "
    "call's rules.",
    kinds={"python", "json"},
    pii="free-text",
)

crm_links = tenant_sliced_day_asset(
    name="crm_links",
    upstream="call_records",
    landing_kind="crm",
    only_landed_tenants=True,
    ingest_slice=ingest_crm_links,
    summarise=crm_links_metadata,
    description="Links between calls and CRM records (system, record id, contact phone and email).",
    kinds={"python", "csv"},
    pii="phone-email",
)

CALL_VOLUMES_GROUP = "call_volumes"


@dg.asset(
    group_name=CALL_VOLUMES_GROUP,
    partitions_def=call_day_partitions,
    backfill_policy=call_day_range_backfill,
    deps=list(CALL_DAY_ASSETS),
    kinds={"python", "sql"},
    tags={"cm/pii": "none"},
)
def call_day_volumes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per tenant and call day: calls, answered calls, billed seconds, recordings and their
    bytes, transcripts, AI outputs, CRM links and quarantined items, counted from live rows."""
    warehouse.assert_schema_current()
    key_range = context.partition_key_range
    first, last = date.fromisoformat(key_range.start), date.fromisoformat(key_range.end)
    with warehouse.begin() as connection:
        volumes = recount_call_volumes(connection, first, last, context.run.run_id)
    totals = volume_totals(volumes)
    context.log.info(
        f"call volumes for {key_range.start}..{key_range.end}: {len(volumes)} tenant-day(s)"
    )
    return dg.MaterializeResult(
        metadata={
            "first_day": key_range.start,
            "last_day": key_range.end,
            "days_covered": (last - first).days + 1,
            "tenant_days": len(volumes),
            "tenants": len({volume.tenant_id for volume in volumes}),
        }
        | totals
    )
