"""Call data ingested from the landing zone, one call day per partition.

Each asset reads its landing files through the object store, hands the bytes to a pure parser in
``cm_pipelines.domain``, and replaces its partition in the warehouse. Whatever cannot be read is
quarantined with a reason, source file and line — nothing is silently dropped. A day is ingested
by tenant slices (``tenant_slices``): the functions here ingest one slice, the tenants given.
"""

from collections import Counter
from collections.abc import Callable
from datetime import date

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
from cm_pipelines.assets.tenant_slices import (
    SliceOutcome,
    TenantSliceWork,
    json_breakdown,
    tenant_sliced_day_asset,
)
from cm_pipelines.domain.ai_outputs import AiOutputFormatError, parse_ai_output
from cm_pipelines.domain.cdr import read_cdr_csv
from cm_pipelines.domain.crm_links import CrmLinksFormatError, parse_crm_links
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.domain.transcripts import TranscriptFormatError, parse_transcript
from cm_pipelines.domain.wav import WavFormatError, read_wav_header
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables

CALL_KEY = ["tenant_id", "call_id"]
ID_CHUNK = 5_000


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


def _ingest_call_records(
    work: TenantSliceWork, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> SliceOutcome:
    """Parse the slice's Master.csv files and replace those tenants' calls of the day."""
    day = partition_day(work.day_key)
    frames: list[pd.DataFrame] = []
    quarantined: list[QuarantineEntry] = []
    outcome = SliceOutcome()
    read_tenants: set[str] = set()  # a missing file (purged, never landed) replaces nothing
    for tenant_id, tenant in sorted(work.tenants.items()):
        path = landing.cdr_file(tenant_id, work.day_key)
        if not object_store.exists(path):
            continue
        outcome.counts["files_read"] += 1
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
            purged = purged_keys(connection, tables.calls, day, work.tenants.keys(), CALL_KEY)
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
            parsed["ingested_run_id"] = work.run_id
        outcome.counts["rows_inserted"] += replace_live_partition(
            connection, tables.calls, day, read_tenants, parsed, CALL_KEY
        )
        reasons = replace_quarantine(
            connection,
            "call_records",
            work.day_key,
            quarantined,
            work.run_id,
            tenant_ids=work.tenants.keys(),
        )
    outcome.counts["rows_parsed"] += len(parsed)
    outcome.counts["quarantined"] += sum(reasons.values())
    outcome.breakdown("quarantine_reasons").update(reasons)
    if not parsed.empty:
        outcome.breakdown("calls_by_tenant").update(Counter(parsed["tenant_id"]))
        outcome.breakdown("directions").update(Counter(parsed["direction"]))
        outcome.breakdown("party_number_kinds").update(
            Counter(parsed["src_kind"]) + Counter(parsed["dst_kind"])
        )
    return outcome


def _call_records_metadata(total: SliceOutcome) -> dict:
    rows = total.counts["rows_parsed"]
    return {
        "rows_parsed": rows,
        "rows_inserted": total.counts["rows_inserted"],
        "rows_quarantined": total.counts["quarantined"],
        "files_read": total.counts["files_read"],
        "calls_by_tenant": json_breakdown(total, "calls_by_tenant"),
        "directions": json_breakdown(total, "directions"),
        "party_number_kinds": json_breakdown(total, "party_number_kinds"),
        # per second of slice work: slices on several workers overlap in wall-clock time
        "rows_per_second": round(rows / total.seconds, 1) if total.seconds > 0 else 0.0,
    }


call_records = tenant_sliced_day_asset(
    name="call_records",
    upstream="tenants",
    landing_kind="cdr",
    only_landed_tenants=True,
    ingest_slice=_ingest_call_records,
    summarise=_call_records_metadata,
    description="Asterisk cdr_csv call detail records of one call day, numbers normalised to "
    "E.164 with the tenant's country, extensions and anonymous callers kept, direction inferred.",
    kinds={"python", "csv"},
    pii="phone-name",
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


def _ingest_catalogue_slice(
    work: TenantSliceWork,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    *,
    asset_name: str,
    landing_kind: str,
    table: sa.Table,
    key_columns: list[str],
    build_row: Callable[[Tenant, str, bytes], dict],
) -> SliceOutcome:
    """Shared loop of the per-object catalogues: list a day's objects per tenant, parse, link.

    ``build_row`` returns the row for one object, or raises ``ValueError`` whose first argument
    is a reason code (quarantined).
    """
    day = partition_day(work.day_key)
    quarantined: list[QuarantineEntry] = []
    rows: list[dict] = []
    outcome = SliceOutcome()
    with warehouse.connect() as connection:
        live_calls = {
            tenant_id: _live_call_ids(connection, tenant_id, day) for tenant_id in work.tenants
        }
        purged = purged_keys(connection, table, day, work.tenants.keys(), key_columns)
    for tenant_id, tenant in sorted(work.tenants.items()):
        prefix = f"{landing.day_prefixes(landing_kind)}/{tenant_id}/{work.day_key}"
        for item in object_store.list_files(prefix):
            outcome.counts["objects_seen"] += 1
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
            outcome.breakdown("kinds")[
                str(row.get("kind") or row.get("format") or landing_kind)
            ] += 1
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
        outcome.counts["rows_loaded"] += replace_live_partition(
            connection, table, day, work.tenants.keys(), frame, key_columns
        )
        reasons = replace_quarantine(
            connection,
            asset_name,
            work.day_key,
            quarantined,
            work.run_id,
            tenant_ids=work.tenants.keys(),
        )
    outcome.counts["quarantined"] += sum(reasons.values())
    outcome.breakdown("quarantine_reasons").update(reasons)
    return outcome


def _catalogue_metadata(total: SliceOutcome) -> dict:
    return {
        "objects_seen": total.counts["objects_seen"],
        "rows_loaded": total.counts["rows_loaded"],
        "kinds": json_breakdown(total, "kinds"),
        "objects_quarantined": total.counts["quarantined"],
    }


def _catalogue_asset(
    *,
    name: str,
    upstream: str,
    landing_kind: str,
    table: sa.Table,
    key_columns: list[str],
    build_row: Callable[[Tenant, str, bytes], dict],
    description: str,
    kinds: set[str],
    pii: str,
) -> dg.AssetsDefinition:
    def ingest(
        work: TenantSliceWork, warehouse: WarehouseResource, object_store: ObjectStoreResource
    ) -> SliceOutcome:
        return _ingest_catalogue_slice(
            work,
            warehouse,
            object_store,
            asset_name=name,
            landing_kind=landing_kind,
            table=table,
            key_columns=key_columns,
            build_row=build_row,
        )

    return tenant_sliced_day_asset(
        name=name,
        upstream=upstream,
        landing_kind=landing_kind,
        only_landed_tenants=False,  # every tenant: its day's catalogue is what is there now
        ingest_slice=ingest,
        summarise=_catalogue_metadata,
        description=description,
        kinds=kinds,
        pii=pii,
    )


def _uniqueid_from(path: str, prefix_separator: str | None) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if prefix_separator is not None:
        if prefix_separator not in stem:
            raise ValueError(
                "unexpected_file_name", "file name does not follow <kind>_<uniqueid>.json"
            )
        stem = stem.split(prefix_separator, 1)[1]
    return stem


def _recording_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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


def _transcript_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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


def _ai_output_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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


recordings = _catalogue_asset(
    name="recordings",
    upstream="call_records",
    landing_kind="recordings",
    table=tables.recordings,
    key_columns=["tenant_id", "call_id"],
    build_row=_recording_row,
    description="Catalogue of call recordings (WAV named by uniqueid): object path, bytes, "
    "sha256 and the duration read from the WAV header, linked to the call they recorded.",
    kinds={"python", "wav"},
    pii="voice",
)

transcripts = _catalogue_asset(
    name="transcripts",
    upstream="recordings",
    landing_kind="transcripts",
    table=tables.transcripts,
    key_columns=["tenant_id", "call_id"],
    build_row=_transcript_row,
    description="Transcripts (AWS Transcribe or Whisper JSON, detected) with text and speaker "
    "segments normalised to one shape, linked to their call.",
    kinds={"python", "json"},
    pii="transcript",
)

ai_summaries = _catalogue_asset(
    name="ai_summaries",
    upstream="transcripts",
    landing_kind="ai_outputs",
    table=tables.ai_outputs,
    key_columns=["tenant_id", "call_id", "kind"],
    build_row=_ai_output_row,
    description="AI call summaries and receptionist notes: derived artefacts that follow their "
    "call's rules.",
    kinds={"python", "json"},
    pii="free-text",
)


def _ingest_crm_links(
    work: TenantSliceWork, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> SliceOutcome:
    """Parse the slice's CRM link files and replace those tenants' links of the day."""
    day = partition_day(work.day_key)
    quarantined: list[QuarantineEntry] = []
    rows: list[dict] = []
    outcome = SliceOutcome()
    with warehouse.connect() as connection:
        live_calls = {
            tenant_id: _live_call_ids(connection, tenant_id, day) for tenant_id in work.tenants
        }
    read_tenants: set[str] = set()  # a missing file (purged, never landed) replaces nothing
    for tenant_id, tenant in sorted(work.tenants.items()):
        path = landing.crm_links_file(tenant_id, work.day_key)
        if not object_store.exists(path):
            continue
        outcome.counts["files_read"] += 1
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
        outcome.counts["links_loaded"] += replace_live_partition(
            connection, tables.crm_links, day, read_tenants, frame, key
        )
        reasons = replace_quarantine(
            connection,
            "crm_links",
            work.day_key,
            quarantined,
            work.run_id,
            tenant_ids=work.tenants.keys(),
        )
    outcome.counts["quarantined"] += sum(reasons.values())
    outcome.breakdown("quarantine_reasons").update(reasons)
    if not frame.empty:
        outcome.breakdown("crm_systems").update(Counter(frame["crm_system"]))
    return outcome


def _crm_links_metadata(total: SliceOutcome) -> dict:
    return {
        "files_read": total.counts["files_read"],
        "links_loaded": total.counts["links_loaded"],
        "crm_systems": json_breakdown(total, "crm_systems"),
        "rows_quarantined": total.counts["quarantined"],
    }


crm_links = tenant_sliced_day_asset(
    name="crm_links",
    upstream="call_records",
    landing_kind="crm",
    only_landed_tenants=True,
    ingest_slice=_ingest_crm_links,
    summarise=_crm_links_metadata,
    description="Links between calls and CRM records (system, record id, contact phone and email).",
    kinds={"python", "csv"},
    pii="phone-email",
)
