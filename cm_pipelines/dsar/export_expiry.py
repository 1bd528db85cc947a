"""Access packages do not outlive their expiry: deleted from the exports prefix, confirmed gone,
their sealed key discarded, each deletion audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cm_pipelines.dsar import key_handoff
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.dsar import dsar_exports


@dataclass(frozen=True)
class ExpiryOutcome:
    expired: int
    deleted: int
    failed: int


def expire_packages(
    warehouse: WarehouseResource, object_store: ObjectStoreResource, run_id: str
) -> ExpiryOutcome:
    """Delete every package past its expiry; one that refuses deletion is retried next time."""
    now = datetime.now(UTC)
    with warehouse.connect() as connection:
        expired = (
            connection.execute(
                dsar_exports.select().where(
                    dsar_exports.c.deleted_at.is_(None), dsar_exports.c.expires_at <= now
                )
            )
            .mappings()
            .all()
        )
    outcome = purge_objects(object_store, [row["object_path"] for row in expired])
    gone = set(outcome.gone)
    with warehouse.begin() as connection:
        for row in expired:
            if row["object_path"] not in gone:
                continue
            connection.execute(
                dsar_exports.update().where(dsar_exports.c.id == row["id"]).values(deleted_at=now)
            )
            # its key, if sealed and never collected, opens nothing any more
            key_handoff.discard_sealed_key(row["request_id"], object_store)
            key_handoff.discard_held_key(row["request_id"], object_store)
            append_audit(
                connection,
                actor="dsar_export_expiry",
                action="dsar.export.expired",
                tenant_id=row["tenant_id"],
                object_refs={"request_id": row["request_id"], "object_path": row["object_path"]},
                details={"sha256": row["sha256"]},
                run_id=run_id,
            )
    deleted = len(gone & {row["object_path"] for row in expired})
    return ExpiryOutcome(expired=len(expired), deleted=deleted, failed=len(outcome.failed))
