"""Call data ingested from the landing zone, one call day per partition.

Each asset reads its landing files through the object store, hands the bytes to a pure parser in
``cm_pipelines.domain``, and replaces its partition in the warehouse. Whatever cannot be read is
quarantined with a reason, source file and line — nothing is silently dropped.
"""

import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from cm_pipelines import landing
from cm_pipelines.assets.ingestion_support import (
    RELANDED_DETAIL,
    RELANDED_REASON,
    QuarantineEntry,
    partition_day,
    purged_keys,
    replace_live_partition,
    replace_quarantine,
    sha256_hex,
)
from cm_pipelines.domain.ai_outputs import AiOutputFormatError, parse_ai_output
from cm_pipelines.domain.cdr import read_cdr_csv
from cm_pipelines.domain.crm_links import CrmLinksFormatError, parse_crm_links
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.domain.transcripts import TranscriptFormatError, parse_transcript
from cm_pipelines.domain.wav import WavFormatError, read_wav_header
from cm_pipelines.partitions import call_day_partitions
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables

CALLS_GROUP = "calls"
CALL_KEY = ["tenant_id", "call_id"]
ID_CHUNK = 5_000


def _counts_metadata(counter: Counter[str]) -> dg.MetadataValue:
    return dg.MetadataValue.json(dict(sorted(counter.items())))


def _unknown_tenant_folders(
    object_store: ObjectStoreResource, kind: str, known: set[str], day: str
) -> list[QuarantineEntry]:
    """Files landed under a tenant folder nobody configured: quarantined whole, never guessed at.

    Only the tenant folders are listed, then the day's folder of each unknown one: a day's run
    never walks the landing zone's whole history."""
    kind_prefix = landing.day_prefixes(kind)
    return [
        QuarantineEntry(item.path, None, "unknown_tenant", "tenant folder is not configured")
        for folder in object_store.list_folders(kind_prefix)
        if folder not in known
        for item in object_store.list_files(f"{kind_prefix}/{folder}/{day}")
    ]


def _existing_call_ids(
    connection: sa.Connection, tenant_id: str, call_ids: list[str], other_than: date | None
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(call_ids), ID_CHUNK):
        chunk = call_ids[start : start + ID_CHUNK]
        query = sa.select(tables.calls.c.call_id).where(
            tables.calls.c.tenant_id == tenant_id, tables.calls.c.call_id.in_(chunk)
        )
        if other_than is not None:
            query = query.where(tables.calls.c.partition_date != other_than)
        found.update(row[0] for row in connection.execute(query))
    return found


@dg.asset(
    group_name=CALLS_GROUP,
    partitions_def=call_day_partitions,
    deps=["tenants"],
    kinds={"python", "csv"},
    tags={"cm/pii": "phone-name"},
)
def call_records(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Asterisk cdr_csv call detail records of one call day, numbers normalised to E.164 with the
    tenant's country, extensions and anonymous callers kept, direction inferred."""
    started = time.perf_counter()
    warehouse.assert_schema_current()
    day_key = context.partition_key
    day = partition_day(day_key)
    tenants = platform_config.tenants_by_id()
    frames: list[pd.DataFrame] = []
    quarantined: list[QuarantineEntry] = _unknown_tenant_folders(
        object_store, "cdr", set(tenants), day_key
    )
    files_read = 0
    read_tenants: set[str] = set()  # a missing file (purged, never landed) replaces nothing
    for tenant_id, tenant in sorted(tenants.items()):
        path = landing.cdr_file(tenant_id, day_key)
        if not object_store.exists(path):
            continue
        files_read += 1
        read_tenants.add(tenant_id)
        result = read_cdr_csv(object_store.read_bytes(path), path, {tenant_id: tenant})
        quarantined.extend(
            QuarantineEntry(
                row.source_file,
                row.line_number,
                row.reason_code,
                row.detail,
                row.raw_record,
                tenant_id,
            )
            for row in result.quarantined
        )
        if not result.calls.empty:
            frames.append(result.calls)
    parsed = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with warehouse.begin() as connection:
        if not parsed.empty:
            keep = pd.Series(True, index=parsed.index)
            for tenant_id, group in parsed.groupby("tenant_id"):
                elsewhere = _existing_call_ids(
                    connection, str(tenant_id), group["call_id"].tolist(), other_than=day
                )
                if elsewhere:
                    clash = group["call_id"].isin(elsewhere)
                    keep.loc[group.index[clash]] = False
                    quarantined.extend(
                        QuarantineEntry(
                            str(row.source_file),
                            int(row.source_line),
                            "duplicate_call",
                            "uniqueid already ingested from another call day",
                            None,
                            str(tenant_id),
                        )
                        for row in group.loc[clash].itertuples()
                    )
            purged = purged_keys(connection, tables.calls, day, tenants.keys(), CALL_KEY)
            if purged:
                relanded = pd.Series(
                    [
                        key in purged
                        for key in zip(parsed["tenant_id"], parsed["call_id"], strict=True)
                    ],
                    index=parsed.index,
                )
                relanded &= keep
                keep &= ~relanded
                quarantined.extend(
                    QuarantineEntry(
                        str(row.source_file),
                        int(row.source_line),
                        RELANDED_REASON,
                        RELANDED_DETAIL,
                        None,
                        str(row.tenant_id),
                    )
                    for row in parsed.loc[relanded].itertuples()
                )
            parsed = parsed.loc[keep].copy()
            parsed["partition_date"] = day
            parsed["ingested_run_id"] = context.run.run_id
        inserted = replace_live_partition(
            connection, tables.calls, day, read_tenants, parsed, ["tenant_id", "call_id"]
        )
        reasons = replace_quarantine(
            connection, "call_records", day_key, quarantined, context.run.run_id
        )
    elapsed = time.perf_counter() - started
    if reasons:
        context.log.warning(
            f"{sum(reasons.values())} CDR row(s) quarantined for {day_key}: {dict(reasons)}"
        )
    by_tenant = Counter(parsed["tenant_id"]) if not parsed.empty else Counter()
    directions = Counter(parsed["direction"]) if not parsed.empty else Counter()
    number_kinds = (
        Counter(parsed["src_kind"]) + Counter(parsed["dst_kind"]) if not parsed.empty else Counter()
    )
    return dg.MaterializeResult(
        metadata={
            "rows_parsed": len(parsed),
            "rows_inserted": inserted,
            "rows_quarantined": sum(reasons.values()),
            "quarantine_reasons": _counts_metadata(reasons),
            "files_read": files_read,
            "calls_by_tenant": _counts_metadata(by_tenant),
            "directions": _counts_metadata(directions),
            "party_number_kinds": _counts_metadata(number_kinds),
            "rows_per_second": round(len(parsed) / elapsed, 1) if elapsed > 0 else 0.0,
        }
    )


def _live_call_ids(connection: sa.Connection, tenant_id: str, day: date) -> set[str]:
    rows = connection.execute(
        sa.select(tables.calls.c.call_id).where(
            tables.calls.c.tenant_id == tenant_id,
            tables.calls.c.partition_date == day,
            tables.calls.c.deleted_at.is_(None),
        )
    )
    return {row[0] for row in rows}


def _catalogue_day(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    *,
    asset_name: str,
    landing_kind: str,
    table: sa.Table,
    key_columns: list[str],
    build_row: Callable[[Tenant, str, bytes], dict],
) -> dict[str, Any]:
    """Shared loop of the per-object catalogues: list a day's objects per tenant, parse, link.

    ``build_row`` returns the row for one object, or raises ``ValueError`` whose first argument
    is a reason code (quarantined). Returns the asset's metadata: counts per kind and reason.
    """
    warehouse.assert_schema_current()
    day_key = context.partition_key
    day = partition_day(day_key)
    tenants = platform_config.tenants_by_id()
    quarantined = _unknown_tenant_folders(object_store, landing_kind, set(tenants), day_key)
    rows: list[dict] = []
    kinds: Counter[str] = Counter()
    seen = 0
    with warehouse.connect() as connection:
        live_calls = {
            tenant_id: _live_call_ids(connection, tenant_id, day) for tenant_id in tenants
        }
        purged = purged_keys(connection, table, day, tenants.keys(), key_columns)
    for tenant_id, tenant in sorted(tenants.items()):
        prefix = f"{landing.day_prefixes(landing_kind)}/{tenant_id}/{day_key}"
        for item in object_store.list_files(prefix):
            seen += 1
            data = object_store.read_bytes(item.path)
            try:
                row = build_row(tenant, item.path, data)
            except ValueError as exc:
                reason = str(exc.args[0]) if exc.args else "unreadable"
                detail = str(exc.args[1]) if len(exc.args) > 1 else "could not be parsed"
                quarantined.append(
                    QuarantineEntry(item.path, None, reason, detail, None, tenant_id)
                )
                continue
            if row["call_id"] not in live_calls[tenant_id]:
                quarantined.append(
                    QuarantineEntry(
                        item.path,
                        None,
                        "no_matching_call",
                        "no call of this day has this uniqueid",
                        None,
                        tenant_id,
                    )
                )
                continue
            row.update(
                tenant_id=tenant_id,
                partition_date=day,
                object_path=item.path,
                sha256=sha256_hex(data),
            )
            if tuple(str(row[name]) for name in key_columns) in purged:
                quarantined.append(
                    QuarantineEntry(
                        item.path, None, RELANDED_REASON, RELANDED_DETAIL, None, tenant_id
                    )
                )
                continue
            kinds[str(row.get("kind") or row.get("format") or landing_kind)] += 1
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        duplicated = frame.duplicated(subset=key_columns, keep="first")
        for row in frame.loc[duplicated].itertuples():
            quarantined.append(
                QuarantineEntry(
                    str(row.object_path),
                    None,
                    "duplicate_object",
                    "another object already covers this call",
                    None,
                    str(row.tenant_id),
                )
            )
        frame = frame.loc[~duplicated]
    with warehouse.begin() as connection:
        inserted = replace_live_partition(
            connection, table, day, tenants.keys(), frame, key_columns
        )
        reasons = replace_quarantine(
            connection, asset_name, day_key, quarantined, context.run.run_id
        )
    if reasons:
        context.log.warning(
            f"{sum(reasons.values())} {asset_name} object(s) quarantined for {day_key}: {dict(reasons)}"
        )
    return {
        "objects_seen": seen,
        "rows_loaded": inserted,
        "kinds": _counts_metadata(kinds),
        "objects_quarantined": sum(reasons.values()),
        "quarantine_reasons": _counts_metadata(reasons),
    }


def _uniqueid_from(path: str, prefix_separator: str | None) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if prefix_separator is not None:
        if prefix_separator not in stem:
            raise ValueError(
                "unexpected_file_name", "file name does not follow <kind>_<uniqueid>.json"
            )
        stem = stem.split(prefix_separator, 1)[1]
    return stem


@dg.asset(
    group_name=CALLS_GROUP,
    partitions_def=call_day_partitions,
    deps=[call_records],
    kinds={"python", "wav"},
    tags={"cm/pii": "voice"},
)
def recordings(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Catalogue of call recordings (WAV named by uniqueid): object path, bytes, sha256 and the
    duration read from the WAV header, linked to the call they recorded."""

    def build_row(_tenant: Tenant, path: str, data: bytes) -> dict:
        if not path.endswith(".wav"):
            raise ValueError("unexpected_file_type", "recordings must be .wav files")
        try:
            info = read_wav_header(data)
        except WavFormatError as exc:
            raise ValueError(exc.reason_code, "WAV header could not be read") from exc
        return {
            "call_id": _uniqueid_from(path, None),
            "bytes": len(data),
            "duration_s": float(info.duration_s),
            "sample_rate": int(info.sample_rate),
            "channels": int(info.channels),
        }

    return dg.MaterializeResult(
        metadata=_catalogue_day(
            context,
            warehouse,
            object_store,
            platform_config,
            asset_name="recordings",
            landing_kind="recordings",
            table=tables.recordings,
            key_columns=["tenant_id", "call_id"],
            build_row=build_row,
        )
    )


@dg.asset(
    group_name=CALLS_GROUP,
    partitions_def=call_day_partitions,
    deps=[recordings],
    kinds={"python", "json"},
    tags={"cm/pii": "transcript"},
)
def transcripts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Transcripts (AWS Transcribe or Whisper JSON, detected) with text and speaker segments
    normalised to one shape, linked to their call."""

    def build_row(_tenant: Tenant, path: str, data: bytes) -> dict:
        try:
            parsed = parse_transcript(data)
        except TranscriptFormatError as exc:
            raise ValueError(exc.reason_code, "transcript JSON could not be read") from exc
        return {
            "call_id": _uniqueid_from(path, "_"),
            "format": parsed.format,
            "language": parsed.language,
            "text": parsed.text,
            "segments": [
                {"start": s.start, "end": s.end, "speaker": s.speaker, "text": s.text}
                for s in parsed.segments
            ],
        }

    return dg.MaterializeResult(
        metadata=_catalogue_day(
            context,
            warehouse,
            object_store,
            platform_config,
            asset_name="transcripts",
            landing_kind="transcripts",
            table=tables.transcripts,
            key_columns=["tenant_id", "call_id"],
            build_row=build_row,
        )
    )


@dg.asset(
    group_name=CALLS_GROUP,
    partitions_def=call_day_partitions,
    deps=[transcripts],
    kinds={"python", "json"},
    tags={"cm/pii": "free-text"},
)
def ai_summaries(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """AI call summaries and receptionist notes: derived artefacts that follow their call's rules."""

    def build_row(_tenant: Tenant, path: str, data: bytes) -> dict:
        try:
            parsed = parse_ai_output(data)
        except AiOutputFormatError as exc:
            raise ValueError(exc.reason_code, "AI output JSON could not be read") from exc
        if not path.endswith(f"_{parsed.call_id}.json"):
            raise ValueError("call_id_mismatch", "call_id inside the file differs from its name")
        return {
            "call_id": parsed.call_id,
            "kind": parsed.kind,
            "model": parsed.model,
            "created_at": parsed.created_at,
            "text": parsed.text,
        }

    return dg.MaterializeResult(
        metadata=_catalogue_day(
            context,
            warehouse,
            object_store,
            platform_config,
            asset_name="ai_summaries",
            landing_kind="ai_outputs",
            table=tables.ai_outputs,
            key_columns=["tenant_id", "call_id", "kind"],
            build_row=build_row,
        )
    )


@dg.asset(
    group_name=CALLS_GROUP,
    partitions_def=call_day_partitions,
    deps=[call_records],
    kinds={"python", "csv"},
    tags={"cm/pii": "phone-email"},
)
def crm_links(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Links between calls and CRM records (system, record id, contact phone and email)."""
    warehouse.assert_schema_current()
    day_key = context.partition_key
    day = partition_day(day_key)
    tenants = platform_config.tenants_by_id()
    quarantined = _unknown_tenant_folders(object_store, "crm", set(tenants), day_key)
    rows: list[dict] = []
    files_read = 0
    with warehouse.connect() as connection:
        live_calls = {
            tenant_id: _live_call_ids(connection, tenant_id, day) for tenant_id in tenants
        }
    read_tenants: set[str] = set()  # a missing file (purged, never landed) replaces nothing
    for tenant_id, tenant in sorted(tenants.items()):
        path = landing.crm_links_file(tenant_id, day_key)
        if not object_store.exists(path):
            continue
        files_read += 1
        read_tenants.add(tenant_id)
        try:
            result = parse_crm_links(object_store.read_bytes(path), path, tenant.country)
        except CrmLinksFormatError as exc:
            quarantined.append(
                QuarantineEntry(
                    path, None, exc.reason_code, "CRM links file could not be read", None, tenant_id
                )
            )
            continue
        quarantined.extend(
            QuarantineEntry(
                q.source_file, q.line_number, q.reason_code, q.detail, q.raw_record, tenant_id
            )
            for q in result.quarantined
        )
        for link in result.links:
            if link.call_id not in live_calls[tenant_id]:
                quarantined.append(
                    QuarantineEntry(
                        path,
                        link.source_line,
                        "no_matching_call",
                        "no call of this day has this uniqueid",
                        None,
                        tenant_id,
                    )
                )
                continue
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "call_id": link.call_id,
                    "partition_date": day,
                    "crm_system": link.crm_system,
                    "crm_record_id": link.crm_record_id,
                    "contact_e164": link.contact_e164,
                    "contact_email": link.contact_email,
                    "source_file": path,
                    "source_line": link.source_line,
                }
            )
    frame = pd.DataFrame(rows)
    key = ["tenant_id", "call_id", "crm_system", "crm_record_id"]
    if not frame.empty:
        duplicated = frame.duplicated(subset=key, keep="first")
        quarantined.extend(
            QuarantineEntry(
                str(r.source_file),
                int(r.source_line),
                "duplicate_link",
                "same call and CRM record twice",
                None,
                str(r.tenant_id),
            )
            for r in frame.loc[duplicated].itertuples()
        )
        frame = frame.loc[~duplicated]
    with warehouse.begin() as connection:
        inserted = replace_live_partition(
            connection, tables.crm_links, day, read_tenants, frame, key
        )
        reasons = replace_quarantine(
            connection, "crm_links", day_key, quarantined, context.run.run_id
        )
    systems = Counter(frame["crm_system"]) if not frame.empty else Counter()
    return dg.MaterializeResult(
        metadata={
            "files_read": files_read,
            "links_loaded": inserted,
            "crm_systems": _counts_metadata(systems),
            "rows_quarantined": sum(reasons.values()),
            "quarantine_reasons": _counts_metadata(reasons),
        }
    )
