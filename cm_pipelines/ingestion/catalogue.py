"""Catalogues of per-call objects: recordings (WAV), transcripts (AWS Transcribe or Whisper
JSON) and AI outputs (summaries, receptionist notes), one tenant slice of a call day at a time.

Every object of the day is read, turned into a row by a pure parser, and linked to a live call
of the same day; an unreadable object, one without its call, a second object for the same call
or one whose record was purged or erased is quarantined with a reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import (
    REASON_DROPPED,
    REASON_MASKED,
    ErasedSubjects,
)
from cm_pipelines.domain.ingestion.ai_outputs import AiOutputFormatError, parse_ai_output
from cm_pipelines.domain.ingestion.transcripts import TranscriptFormatError, parse_transcript
from cm_pipelines.domain.ingestion.wav import WavFormatError, read_wav_header
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.fulfil.object_versions import drop_noncurrent_versions
from cm_pipelines.dsar.identifier_index import reindex
from cm_pipelines.ingestion.erased_guard import (
    ERASED_BREAKDOWN,
    delete_landing_object,
    erased_call_ids,
    held_call_ids,
    mask_document,
    tenant_holds,
    tenant_ledgers,
)
from cm_pipelines.ingestion.partition_writes import (
    RELANDED_DETAIL,
    RELANDED_REASON,
    live_call_ids,
    partition_day,
    purged_keys,
    replace_slice,
    sha256_hex,
    without_duplicates,
)
from cm_pipelines.ingestion.tenant_slices import SliceOutcome, TenantSliceWork, json_breakdown
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry
from cm_pipelines.resources.warehouse import WarehouseResource

RowBuilder = Callable[[Tenant, str, bytes], dict]
"""Returns the row for one object, or raises ``ValueError(reason_code, detail)``."""


@dataclass(frozen=True)
class Catalogue:
    """One kind of per-call object: where it lands, where it is catalogued, how it is read."""

    asset_name: str
    landing_kind: str
    table: sa.Table
    key_columns: tuple[str, ...]
    build_row: RowBuilder
    index_store: str | None = None
    """The DSAR store name under which the identifier index holds this catalogue's text."""

    @property
    def is_text(self) -> bool:
        """JSON documents whose text may name an erased subject (recordings are audio)."""
        return self.landing_kind != "recordings"


@dataclass
class _Links:
    """What the warehouse says about the slice's day before any object is read."""

    live_calls: dict[str, set[str]]
    purged: set[tuple[str, ...]]
    ledgers: dict[str, ErasedSubjects] = field(default_factory=dict)
    erased_calls: dict[str, set[str]] = field(default_factory=dict)
    held_calls: dict[str, set[str]] = field(default_factory=dict)
    """Calls a legal hold keeps: their artefacts stay as the erasure left them."""
    rows: list[dict] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)


def _link(catalogue: Catalogue, links: _Links, tenant: Tenant, item_path: str, data: bytes):
    """The object's catalogue row, or ``None`` once it is quarantined."""

    def refuse(reason: str, detail: str) -> None:
        links.quarantined.append(QuarantineEntry(item_path, None, reason, detail, None, tenant.id))

    try:
        row = catalogue.build_row(tenant, item_path, data)
    except ValueError as exc:
        reason = str(exc.args[0]) if exc.args else "unreadable"
        refuse(reason, str(exc.args[1]) if len(exc.args) > 1 else "could not be parsed")
        return None
    if row["call_id"] not in links.live_calls[tenant.id]:
        refuse("no_matching_call", "no call of this day has this uniqueid")
        return None
    row.update(tenant_id=tenant.id, object_path=item_path, sha256=sha256_hex(data))
    if tuple(str(row[name]) for name in catalogue.key_columns) in links.purged:
        refuse(RELANDED_REASON, RELANDED_DETAIL)
        return None
    return row


def _read_day(
    catalogue: Catalogue,
    work: TenantSliceWork,
    object_store: ObjectStoreResource,
    links: _Links,
    outcome: SliceOutcome,
) -> None:
    day = partition_day(work.day_key)
    for tenant_id, tenant in sorted(work.tenants.items()):
        prefix = f"{landing.day_prefixes(catalogue.landing_kind)}/{tenant_id}/{work.day_key}"
        for item in object_store.list_files(prefix):
            outcome.counts["objects_seen"] += 1
            data = object_store.read_bytes(item.path)
            row = _link(catalogue, links, tenant, item.path, data)
            if row is None:
                continue
            if row["call_id"] in links.erased_calls.get(tenant_id, ()):
                delete_landing_object(object_store, item.path)
                outcome.breakdown(ERASED_BREAKDOWN)[REASON_DROPPED] += 1
                continue
            ledger = links.ledgers.get(tenant_id)
            held = row["call_id"] in links.held_calls.get(tenant_id, ())
            if ledger and catalogue.is_text and not held:
                masked = _masked(object_store, item.path, data, tenant, ledger, outcome)
                if masked is not data:
                    row = _link(catalogue, links, tenant, item.path, masked) or row
            row["partition_date"] = day
            kind = row.get("kind") or row.get("format") or catalogue.landing_kind
            outcome.breakdown("kinds")[str(kind)] += 1
            links.rows.append(row)


def _masked(
    object_store: ObjectStoreResource,
    path: str,
    data: bytes,
    tenant: Tenant,
    ledger: ErasedSubjects,
    outcome: SliceOutcome,
) -> bytes:
    """The object with erased subjects masked, rewritten in the landing zone when it named one
    (its older versions dropped, as the erasure's redaction does)."""
    masked, mentions = mask_document(data, tenant.country, ledger)
    if not mentions:
        return data
    object_store.write_bytes(path, masked)
    drop_noncurrent_versions(object_store, path)
    outcome.breakdown(ERASED_BREAKDOWN)[REASON_MASKED] += 1
    return masked


def ingest_catalogue_slice(
    catalogue: Catalogue,
    work: TenantSliceWork,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    *,
    hash_key: bytes | None = None,
) -> SliceOutcome:
    """List a day's objects per tenant of the slice, parse, link, replace the partition; for a
    text catalogue the identifier index of the same partition is replaced with it."""
    day = partition_day(work.day_key)
    outcome = SliceOutcome()
    with warehouse.connect() as connection:
        links = _Links(
            live_calls={t: live_call_ids(connection, t, day) for t in work.tenants},
            purged=purged_keys(
                connection, catalogue.table, day, work.tenants.keys(), catalogue.key_columns
            ),
            ledgers=tenant_ledgers(connection, work.tenants.keys()),
            erased_calls={t: erased_call_ids(connection, t, day) for t in work.tenants},
        )
        if links.ledgers:
            holds = tenant_holds(connection, links.ledgers)
            links.held_calls = {t: held_call_ids(connection, t, day, holds) for t in links.ledgers}
    _read_day(catalogue, work, object_store, links, outcome)
    frame, duplicates = without_duplicates(
        pd.DataFrame(links.rows),
        catalogue.key_columns,
        reason_code="duplicate_object",
        detail="another object already covers this call",
        path_column="object_path",
    )
    with warehouse.begin() as connection:
        loaded, reasons = replace_slice(
            connection,
            work,
            asset_name=catalogue.asset_name,
            table=catalogue.table,
            tenants_read=work.tenants.keys(),  # every tenant: its catalogue is what is there now
            frame=frame,
            key_columns=catalogue.key_columns,
            quarantined=links.quarantined + duplicates,
        )
        if catalogue.index_store is not None:
            if hash_key is None:
                raise ValueError(f"{catalogue.asset_name} needs the identifier hash key")
            outcome.counts["index_rows"] += reindex(
                connection,
                catalogue.index_store,
                {tenant_id: tenant.country for tenant_id, tenant in work.tenants.items()},
                hash_key,
                partition_date=day,
            )
    outcome.counts["rows_loaded"] += loaded
    outcome.count_quarantined(reasons)
    return outcome


def catalogue_metadata(total: SliceOutcome) -> dict:
    """The day's totals over every slice."""
    return {
        "objects_seen": total.counts["objects_seen"],
        "rows_loaded": total.counts["rows_loaded"],
        "kinds": json_breakdown(total, "kinds"),
        "objects_quarantined": total.counts["quarantined"],
        ERASED_BREAKDOWN: json_breakdown(total, ERASED_BREAKDOWN),
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


def recording_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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


def transcript_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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


def ai_output_row(_tenant: Tenant, path: str, data: bytes) -> dict:
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
