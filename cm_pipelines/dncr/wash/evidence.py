"""Loading the evidence a wash rests on: each registry's active version, the tenant's
suppression list, its DSAR restrictions and its consents.

Kept free of Dagster definitions so the command line can load evidence without building the
code location.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.registry_versions import active_version, as_utc, read_version
from cm_pipelines.domain.dncr.evidence import DownloadableEvidence, Evidence, WashOnlyEvidence
from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables import dncr as tables
from cm_pipelines.tables.dsar import restrictions


def load_evidence(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    registries: Sequence[Registry],
    cache: dict[str, Evidence] | None = None,
) -> list[Evidence]:
    """The active version of each registry as washing evidence (an empty one when none is
    active: the wash then fails closed for numbers that registry covers)."""
    evidence: list[Evidence] = []
    for registry in registries:
        if cache is not None and registry.id in cache:
            evidence.append(cache[registry.id])
            continue
        row = active_version(connection, registry.id)
        item: Evidence
        if row is None:
            item = (
                DownloadableEvidence(registry)
                if registry.is_downloadable
                else WashOnlyEvidence(registry)
            )
        else:
            content = read_version(object_store, row)
            index = NumberIndex(content.numbers)
            if registry.is_downloadable:
                item = DownloadableEvidence(
                    registry, str(row["version_id"]), as_utc(row["data_as_of"]), index
                )
            else:
                assert content.registered is not None and content.wash_days is not None
                item = WashOnlyEvidence(
                    registry, str(row["version_id"]), index, content.registered, content.wash_days
                )
        if cache is not None:
            cache[registry.id] = item
        evidence.append(item)
    return evidence


def suppressed_hashes(
    connection: sa.Connection, tenant_id: str, at: datetime | None = None
) -> set[str]:
    """Keyed hashes on the tenant's own do-not-call list (an erased subject keeps only this):
    every entry not removed, and not expired at ``at`` (default: now)."""
    entries = tables.suppression_entries
    moment = at or datetime.now(UTC)
    query = sa.select(entries.c.e164_hash).where(
        entries.c.tenant_id == tenant_id,
        entries.c.removed_at.is_(None),
        sa.or_(entries.c.expires_at.is_(None), entries.c.expires_at > moment),
    )
    return {str(row[0]) for row in connection.execute(query)}


def restricted_hashes(connection: sa.Connection, tenant_id: str) -> set[str]:
    """Identifier hashes under an active DSAR restriction: never exported or submitted."""
    query = sa.select(restrictions.c.identifier_hash).where(
        restrictions.c.tenant_id == tenant_id, restrictions.c.lifted_at.is_(None)
    )
    return {str(row[0]) for row in connection.execute(query)}


def tenant_consents(
    connection: sa.Connection, tenant_id: str, hashes: set[str] | None = None
) -> pd.DataFrame:
    """Consent and relationship records of a tenant (optionally only for some number hashes)."""
    consents = tables.consents
    query = sa.select(
        consents.c.e164_hash,
        consents.c.kind,
        consents.c.recorded_at,
        consents.c.expires_at,
        consents.c.revoked_at,
        consents.c.restricted_at,
    ).where(consents.c.tenant_id == tenant_id)
    rows = [dict(row) for row in connection.execute(query).mappings()]
    frame = pd.DataFrame(
        rows,
        columns=["e164_hash", "kind", "recorded_at", "expires_at", "revoked_at", "restricted_at"],
    )
    if hashes is not None and not frame.empty:
        frame = frame.loc[frame["e164_hash"].isin(hashes)]
    for column in ("recorded_at", "expires_at", "revoked_at", "restricted_at"):
        frame[column] = (
            frame[column].astype(object).map(as_utc) if not frame.empty else frame[column]
        )
    return frame
