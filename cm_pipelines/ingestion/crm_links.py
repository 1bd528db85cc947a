"""Links between calls and CRM records, one tenant slice of a call day at a time: each CSV row
ties a live call of the day to a CRM record (system, record id, contact phone and email)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from cm_pipelines.domain.dsar.erased_subjects import REASON_DROPPED, REASON_MASKED, ErasedSubjects
from cm_pipelines.domain.ingestion.crm_links import CrmLinksFormatError, parse_crm_links
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.ingestion.erased_guard import (
    ERASED_BREAKDOWN,
    blank_landing_lines,
    erased_call_ids,
    held,
    held_call_ids,
    mask_quarantined,
    tenant_holds,
    tenant_ledgers,
)
from cm_pipelines.ingestion.partition_writes import (
    live_call_ids,
    partition_day,
    replace_slice,
    without_duplicates,
)
from cm_pipelines.ingestion.tenant_slices import SliceOutcome, TenantSliceWork, json_breakdown
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables

LINK_KEY = ["tenant_id", "call_id", "crm_system", "crm_record_id"]


@dataclass
class _Read:
    rows: list[dict] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    tenants: set[str] = field(default_factory=set)
    """Tenants whose file was there: a missing file (purged, never landed) replaces nothing."""
    ledgers: dict[str, ErasedSubjects] = field(default_factory=dict)
    erased_calls: dict[str, set[str]] = field(default_factory=dict)
    erased_lines: dict[str, list[int]] = field(default_factory=dict)
    holds: dict[str, list[dict]] = field(default_factory=dict)
    held_calls: dict[str, set[str]] = field(default_factory=dict)
    """Landing lines of links an erasure dropped, by file: blanked again, never loaded."""


def _erased_link(read: _Read, link: Any, tenant_id: str, day: date) -> bool:
    """A link to an erased subject (contact number, email, CRM record id) or to their call,
    unless a legal hold keeps it (the erasure retained it too)."""
    ledger = read.ledgers.get(tenant_id)
    erased = link.call_id in read.erased_calls.get(tenant_id, set()) or bool(
        ledger
        and (
            ledger.phone_erased(link.contact_e164)
            or ledger.email_erased(link.contact_email)
            or ledger.crm_erased(link.crm_system, link.crm_record_id)
        )
    )
    if not erased:
        return False
    return link.call_id not in read.held_calls.get(tenant_id, set()) and not held(
        read.holds,
        tenant_id,
        call_id=link.call_id,
        numbers=(link.contact_e164,),
        emails=(link.contact_email,),
        on=day,
    )


def _read_file(
    read: _Read, path: str, data: bytes, tenant: Tenant, live: set[str], day: date
) -> None:
    try:
        result = parse_crm_links(data, path, tenant.country)
    except CrmLinksFormatError as exc:
        read.quarantined.append(
            QuarantineEntry(
                path, None, exc.reason_code, "CRM links file could not be read", None, tenant.id
            )
        )
        return
    read.quarantined.extend(
        QuarantineEntry(
            q.source_file, q.line_number, q.reason_code, q.detail, q.raw_record, tenant.id
        )
        for q in result.quarantined
    )
    for link in result.links:
        if _erased_link(read, link, tenant.id, day):
            read.erased_lines.setdefault(path, []).append(link.source_line)
            continue
        if link.call_id not in live:
            read.quarantined.append(
                QuarantineEntry(
                    path,
                    link.source_line,
                    "no_matching_call",
                    "no call of this day has this uniqueid",
                    None,
                    tenant.id,
                )
            )
            continue
        read.rows.append(
            {
                "tenant_id": tenant.id,
                "call_id": link.call_id,
                "crm_system": link.crm_system,
                "crm_record_id": link.crm_record_id,
                "contact_e164": link.contact_e164,
                "contact_email": link.contact_email,
                "source_file": path,
                "source_line": link.source_line,
            }
        )


def _read_slice(
    work: TenantSliceWork,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    outcome: SliceOutcome,
) -> _Read:
    day = partition_day(work.day_key)
    read = _Read()
    with warehouse.connect() as connection:
        live_calls = {t: live_call_ids(connection, t, day) for t in work.tenants}
        read.ledgers = tenant_ledgers(connection, work.tenants.keys())
        read.erased_calls = {t: erased_call_ids(connection, t, day) for t in work.tenants}
        if read.ledgers or any(read.erased_calls.values()):
            read.holds = tenant_holds(connection, work.tenants.keys())
            read.held_calls = {
                t: held_call_ids(connection, t, day, read.holds) for t in work.tenants
            }
    for tenant_id, tenant in sorted(work.tenants.items()):
        path = landing.crm_links_file(tenant_id, work.day_key)
        if not object_store.exists(path):
            continue
        outcome.counts["files_read"] += 1
        read.tenants.add(tenant_id)
        _read_file(read, path, object_store.read_bytes(path), tenant, live_calls[tenant_id], day)
    for path, lines in sorted(read.erased_lines.items()):
        blank_landing_lines(object_store, path, lines, multiline_csv=True)
        outcome.breakdown(ERASED_BREAKDOWN)[REASON_DROPPED] += len(lines)
    countries = {tenant_id: tenant.country for tenant_id, tenant in work.tenants.items()}
    read.quarantined, masked = mask_quarantined(
        read.quarantined, read.ledgers, countries, object_store
    )
    if masked:
        outcome.breakdown(ERASED_BREAKDOWN)[REASON_MASKED] += masked
    return read


def ingest_crm_links(
    work: TenantSliceWork, warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> SliceOutcome:
    """Parse the slice's CRM link files and replace those tenants' links of the day."""
    day = partition_day(work.day_key)
    outcome = SliceOutcome()
    read = _read_slice(work, warehouse, object_store, outcome)
    frame = pd.DataFrame(read.rows)
    if not frame.empty:
        frame.insert(2, "partition_date", day)
    frame, duplicates = without_duplicates(
        frame,
        LINK_KEY,
        reason_code="duplicate_link",
        detail="same call and CRM record twice",
        path_column="source_file",
        line_column="source_line",
    )
    with warehouse.begin() as connection:
        loaded, reasons = replace_slice(
            connection,
            work,
            asset_name="crm_links",
            table=tables.crm_links,
            tenants_read=read.tenants,
            frame=frame,
            key_columns=LINK_KEY,
            quarantined=read.quarantined + duplicates,
        )
    outcome.counts["links_loaded"] += loaded
    outcome.count_quarantined(reasons)
    if not frame.empty:
        outcome.breakdown("crm_systems").update(Counter(frame["crm_system"]))
    return outcome


def crm_links_metadata(total: SliceOutcome) -> dict:
    """The day's totals over every slice."""
    return {
        "files_read": total.counts["files_read"],
        "links_loaded": total.counts["links_loaded"],
        "crm_systems": json_breakdown(total, "crm_systems"),
        "rows_quarantined": total.counts["quarantined"],
        ERASED_BREAKDOWN: json_breakdown(total, ERASED_BREAKDOWN),
    }
