"""Washing one campaign list: every number decided and stored, blocked ones recorded as
blocked-call evidence (hashed number), allowed ones exported for the dialer (minus
DSAR-restricted numbers), and numbers a wash-only registry has no fresh result for collected
as wash requests. The totals of a whole wash run are kept in ``WashTotals``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import sqlalchemy as sa

from cm_pipelines.dncr.audit_actor import ACTOR
from cm_pipelines.dncr.wash.campaign_lists import read_campaign_csv
from cm_pipelines.dncr.wash.exports import allowed_export_csv, allowed_export_path, file_stamp
from cm_pipelines.domain.dncr.content_hashing import sha256_hex
from cm_pipelines.domain.dncr.evidence import Evidence
from cm_pipelines.domain.dncr.fast_numbers import prepare_numbers_fast
from cm_pipelines.domain.dncr.fast_washing import wash_fast
from cm_pipelines.domain.dncr.wash_decisions import BLOCKING_REASONS
from cm_pipelines.domain.dsar.erased_subjects import REASON_DROPPED
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables import dncr as tables


@dataclass
class WashTotals:
    """What a whole wash run did, across tenants and campaigns: its assets' metadata."""

    numbers: int = 0
    allowed: int = 0
    blocked: int = 0
    reasons: Counter = field(default_factory=Counter)
    campaigns: int = 0
    blocked_records: int = 0
    exports: list[dict[str, Any]] = field(default_factory=list)
    wash_requests: list[dict[str, Any]] = field(default_factory=list)
    restricted_skipped: int = 0
    unreadable_campaigns: int = 0
    erased_dropped: int = 0

    def add_campaign(
        self, results: pd.DataFrame, reasons: Counter, restricted_skipped: int
    ) -> None:
        self.numbers += len(results)
        self.allowed += int((results["decision"] == "allowed").sum())
        self.blocked += int((results["decision"] == "blocked").sum())
        self.reasons.update(reasons)
        self.campaigns += 1
        self.restricted_skipped += restricted_skipped

    def metadata(self, washed_at: datetime) -> dict[str, dict[str, Any]]:
        """The metadata of each asset the wash materialises (counts and paths, no number)."""
        reasons = dict(sorted(self.reasons.items()))
        return {
            "dncr_wash_results": {
                "campaigns": self.campaigns,
                "numbers": self.numbers,
                "allowed": self.allowed,
                "blocked": self.blocked,
                "reasons": dg.MetadataValue.json(reasons),
                "unreadable_campaigns": self.unreadable_campaigns,
                "erased_subject": dg.MetadataValue.json(
                    {REASON_DROPPED: self.erased_dropped} if self.erased_dropped else {}
                ),
                "washed_at": washed_at.isoformat(),
            },
            "dncr_blocked_calls": {
                "blocked_records": self.blocked_records,
                "reasons": dg.MetadataValue.json(
                    {k: v for k, v in reasons.items() if k in BLOCKING_REASONS}
                ),
            },
            "dncr_allowed_exports": {
                "exports": dg.MetadataValue.json(self.exports),
                "restricted_skipped": self.restricted_skipped,
            },
            "dncr_wash_requests": {
                "requests": dg.MetadataValue.json(self.wash_requests),
                "numbers": sum(item["numbers"] for item in self.wash_requests),
            },
        }


@dataclass(frozen=True)
class TenantEvidence:
    """What a tenant's lists are washed against, loaded once for all its campaigns."""

    tenant: Tenant
    evidence: list[Evidence]
    suppressed: set[str]
    restricted: set[str]
    consents: pd.DataFrame
    erased: frozenset[str] = frozenset()
    """Keyed hashes of the tenant's erased subjects' numbers (the erasure ledger)."""


@dataclass(frozen=True)
class CampaignFile:
    """One landed campaign list: its id (the file name), where it landed and its bytes."""

    campaign_id: str
    path: str
    data: bytes


def wash_campaign(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    against: TenantEvidence,
    campaign: CampaignFile,
    *,
    washed_at: datetime,
    key: bytes,
    run_id: str,
    totals: WashTotals,
    requests: dict[str, set[str]],
) -> None:
    """Wash one list inside the caller's transaction; a list that cannot be read raises
    ``CampaignFileError`` before anything is written. Wash-request numbers are added to
    ``requests`` (per registry), counts to ``totals``."""
    tenant, campaign_id = against.tenant, campaign.campaign_id
    frame = read_campaign_csv(campaign.data, campaign.path)
    numbers = prepare_numbers_fast(frame["phone"].tolist(), tenant.country, key)
    results = wash_fast(
        numbers,
        evidence=against.evidence,
        suppressed_hashes=against.suppressed,
        consents=against.consents,
        washed_at=washed_at,
        tenant_country=tenant.country,
    )
    results["contact_ref"] = frame["contact_ref"].to_numpy(dtype=object)
    erased = results["e164_hash"].isin(against.erased)
    if erased.any():  # an erased subject is neither stored, exported nor submitted anywhere
        totals.erased_dropped += int(erased.sum())
        results = results.loc[~erased].reset_index(drop=True)
    is_restricted = results["e164_hash"].isin(against.restricted).to_numpy()
    _store_decisions(connection, results, is_restricted, tenant.id, campaign_id, washed_at, run_id)
    totals.blocked_records += _store_blocked_calls(
        connection, results, tenant.id, campaign_id, washed_at, run_id
    )
    allowed = results.loc[(results["decision"] == "allowed") & ~is_restricted].drop_duplicates(
        subset=["e164"]
    )
    export = allowed_export_csv(allowed)
    export_path = allowed_export_path(tenant.id, campaign_id, file_stamp(washed_at))
    object_store.write_bytes(export_path, export)
    _collect_wash_requests(results, is_restricted, requests)
    restricted_skipped = int(
        np.count_nonzero(is_restricted & (results["decision"] == "allowed").to_numpy())
    )
    reasons = Counter(results["reason"])
    _record_campaign_wash(
        connection,
        against,
        campaign,
        results,
        reasons,
        export_path=export_path,
        export_sha=sha256_hex(export),
        allowed_exported=len(allowed),
        restricted_skipped=restricted_skipped,
        washed_at=washed_at,
        run_id=run_id,
    )
    totals.add_campaign(results, reasons, restricted_skipped)
    totals.exports.append(
        {
            "tenant_id": tenant.id,
            "campaign_id": campaign_id,
            "path": export_path,
            "allowed": len(allowed),
        }
    )


def _store_decisions(
    connection: sa.Connection,
    results: pd.DataFrame,
    is_restricted: np.ndarray,
    tenant_id: str,
    campaign_id: str,
    washed_at: datetime,
    run_id: str,
) -> None:
    """Every decision into ``wash_results``; a DSAR-restricted number's row is marked so."""
    stored = results.assign(
        tenant_id=tenant_id,
        campaign_id=campaign_id,
        washed_at=washed_at,
        run_id=run_id,
        restricted_at=[washed_at if flag else None for flag in is_restricted],
        deleted_at=None,
    )
    bulk_insert(connection, tables.wash_results, stored)


def _store_blocked_calls(
    connection: sa.Connection,
    results: pd.DataFrame,
    tenant_id: str,
    campaign_id: str,
    washed_at: datetime,
    run_id: str,
) -> int:
    """One ``blocked_calls`` record per number and reason, naming the registry, version,
    evidence date and rule; the number only as its keyed hash."""
    blocked = results.loc[results["decision"] == "blocked"].drop_duplicates(
        subset=["e164_hash", "reason"]
    )
    if blocked.empty:
        return 0
    blocked_rows = pd.DataFrame(
        {
            "tenant_id": tenant_id,
            "campaign_id": campaign_id,
            "e164_hash": blocked["e164_hash"],
            "reason": blocked["reason"],
            "rule": blocked["rule"],
            "registry_id": blocked["registry_id"],
            "registry_version": blocked["registry_version"],
            "evidence_date": blocked["evidence_date"],
            "decided_at": washed_at,
            "run_id": run_id,
            "deleted_at": None,
        }
    )
    return bulk_insert(connection, tables.blocked_calls, blocked_rows)


def _collect_wash_requests(
    results: pd.DataFrame, is_restricted: np.ndarray, requests: dict[str, set[str]]
) -> None:
    """Numbers a wash-only registry should be asked about, per registry; never a restricted
    number (it must not be submitted anywhere)."""
    needing = results.loc[results["needs_wash_registry"].notna() & ~is_restricted]
    for registry_id, group in needing.groupby("needs_wash_registry"):
        requests.setdefault(str(registry_id), set()).update(str(n) for n in group["e164"])


def _record_campaign_wash(
    connection: sa.Connection,
    against: TenantEvidence,
    campaign: CampaignFile,
    results: pd.DataFrame,
    reasons: Counter,
    *,
    export_path: str,
    export_sha: str,
    allowed_exported: int,
    restricted_skipped: int,
    washed_at: datetime,
    run_id: str,
) -> None:
    """The ``campaign_washes`` row and the audit entry of the exported allowed list."""
    tenant = against.tenant
    versions = {item.registry.id: item.version_id for item in against.evidence}
    connection.execute(
        sa.insert(tables.campaign_washes).values(
            tenant_id=tenant.id,
            campaign_id=campaign.campaign_id,
            source_file=campaign.path,
            source_sha256=sha256_hex(campaign.data),
            washed_at=washed_at,
            numbers=len(results),
            allowed=int((results["decision"] == "allowed").sum()),
            blocked=int((results["decision"] == "blocked").sum()),
            restricted_skipped=restricted_skipped,
            reasons=dict(sorted(reasons.items())),
            registry_versions=versions,
            allowed_export_path=export_path,
            allowed_export_sha256=export_sha,
            run_id=run_id,
        )
    )
    append_audit(
        connection,
        actor=ACTOR,
        action="dncr.allowed_list_exported",
        tenant_id=tenant.id,
        object_refs={
            "campaign_id": campaign.campaign_id,
            "export_path": export_path,
            "export_sha256": export_sha,
            "registry_versions": versions,
        },
        details={
            "numbers": len(results),
            "allowed_exported": allowed_exported,
            "blocked": int((results["decision"] == "blocked").sum()),
            "restricted_skipped": restricted_skipped,
            "reasons": dict(sorted(reasons.items())),
        },
        run_id=run_id,
    )
