"""Washing every campaign list of one tenant: its evidence loaded once, each list washed in its
own transaction (a bad list is quarantined, the others still washed), then the numbers to
submit to wash-only registries exported and audited."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.dncr.audit_actor import ACTOR
from cm_pipelines.dncr.wash.campaign_lists import CampaignFileError, campaign_files, is_campaign_id
from cm_pipelines.dncr.wash.campaign_washes import (
    CampaignFile,
    TenantEvidence,
    WashTotals,
    wash_campaign,
)
from cm_pipelines.dncr.wash.evidence import (
    load_evidence,
    restricted_hashes,
    suppressed_hashes,
    tenant_consents,
)
from cm_pipelines.dncr.wash.exports import file_stamp, wash_request_csv, wash_request_path
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.evidence import Evidence
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.erasure_ledger import load_erased_subjects
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.resources.warehouse import WarehouseResource

QUARANTINE_ASSET = "dncr_wash"


def wash_tenant(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    tenant: Tenant,
    registries: Mapping[str, Registry],
    *,
    washed_at: datetime,
    key: bytes,
    run_id: str,
    totals: WashTotals,
    evidence_cache: dict[str, Evidence],
) -> None:
    """Wash the tenant's campaign lists (none landed: nothing to do). ``evidence_cache`` keeps
    each registry's loaded evidence for the next tenant of the run."""
    campaigns = campaign_files(object_store, tenant)
    if not campaigns:
        return
    tenant_registries = [registries[r] for r in tenant.registries]
    requests: dict[str, set[str]] = {}
    with warehouse.connect() as connection:
        against = TenantEvidence(
            tenant,
            load_evidence(connection, object_store, tenant_registries, evidence_cache),
            suppressed_hashes(connection, tenant.id),
            restricted_hashes(connection, tenant.id),
            tenant_consents(connection, tenant.id),
            load_erased_subjects(connection, tenant.id, key).phone_hashes,
        )
    entries: list[QuarantineEntry] = []
    for campaign_id, path in campaigns:
        refused = _wash_list(
            warehouse,
            object_store,
            against,
            campaign_id,
            path,
            washed_at=washed_at,
            key=key,
            run_id=run_id,
            totals=totals,
            requests=requests,
        )
        if refused is not None:
            entries.append(refused)
            totals.unreadable_campaigns += 1
    with warehouse.begin() as connection:
        totals.wash_requests.extend(
            _export_wash_requests(connection, object_store, tenant, requests, washed_at, run_id)
        )
        replace_quarantine(connection, QUARANTINE_ASSET, tenant.id, entries, run_id)


def _wash_list(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    against: TenantEvidence,
    campaign_id: str,
    path: str,
    *,
    washed_at: datetime,
    key: bytes,
    run_id: str,
    totals: WashTotals,
    requests: dict[str, set[str]],
) -> QuarantineEntry | None:
    """Wash one landed list in its own transaction; the quarantine entry of a list refused
    (a file name that is no campaign id, or an unreadable CSV), else None."""
    tenant_id = against.tenant.id
    if not is_campaign_id(campaign_id):
        return QuarantineEntry(
            path,
            None,
            "bad_campaign_id",
            "file name must be a campaign id of 1-64 letters, digits, '-', '_' or '.'",
            None,
            tenant_id,
        )
    campaign = CampaignFile(campaign_id, path, object_store.read_bytes(path))
    try:
        with warehouse.begin() as connection:
            wash_campaign(
                connection,
                object_store,
                against,
                campaign,
                washed_at=washed_at,
                key=key,
                run_id=run_id,
                totals=totals,
                requests=requests,
            )
    except CampaignFileError as exc:
        return QuarantineEntry(path, None, "unreadable_campaign", str(exc)[:500], None, tenant_id)
    return None


def _export_wash_requests(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    tenant: Tenant,
    requests: Mapping[str, set[str]],
    washed_at: datetime,
    run_id: str,
) -> list[dict[str, Any]]:
    """One file per wash-only registry of the numbers it should be asked about, audited."""
    exported = []
    stamp = file_stamp(washed_at)
    for registry_id, numbers in sorted(requests.items()):
        if not numbers:
            continue
        request_path = wash_request_path(registry_id, tenant.id, stamp)
        body = wash_request_csv(sorted(numbers))
        object_store.write_bytes(request_path, body)
        append_audit(
            connection,
            actor=ACTOR,
            action="dncr.wash_request_exported",
            tenant_id=tenant.id,
            object_refs={
                "registry_id": registry_id,
                "path": request_path,
                "sha256": sha256_hex(body),
            },
            details={"numbers": len(numbers)},
            run_id=run_id,
        )
        exported.append(
            {
                "tenant_id": tenant.id,
                "registry_id": registry_id,
                "path": request_path,
                "numbers": len(numbers),
            }
        )
    return exported
