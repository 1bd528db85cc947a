"""Access and portability: the subject's records as one encrypted package, its key handed over.

The package is written under the request's exports prefix and recorded (path, hash, expiry) in
the same transaction as the step; its key goes only to ``key_handoff``, never beside it.

Free text with names the recogniser was unsure of (masked all the same) puts the request in
``awaiting_review`` in that transaction: the key is held (``key_handoff.hold_key``), verify and
complete wait, and ``cm dsar review`` approves (the next run completes and releases the key) or
rejects (``dsar.review``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import planning
from cm_pipelines.domain.dsar.cover_page import RETENTION_LABELS, Disclosure
from cm_pipelines.domain.dsar.export_package import (
    ENCRYPTION,
    PACKAGE_SUFFIX,
    BuiltPackage,
    PackageContent,
    SealedPackage,
    build_package,
    encrypt_package,
    sha256_hex,
)
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.fulfil import plan_items, step_log
from cm_pipelines.dsar.fulfil.context import FulfilmentContext
from cm_pipelines.dsar.fulfil.package_content import package_content
from cm_pipelines.dsar.request_changes import set_state
from cm_pipelines.dsar.request_records import RequestRecord
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_purge import purge_objects
from cm_pipelines.tables.dsar import dsar_exports


def export_prefix(fulfilment: FulfilmentContext) -> str:
    return f"{landing.EXPORTS}/dsar/{fulfilment.tenant.id}/{fulfilment.request_id}"


def export(fulfilment: FulfilmentContext) -> None:
    done = step_log.resumed_past(fulfilment, "export")
    if done is not None:
        fulfilment.report.result_path = done.get("object_path")
        return
    _remove_orphan_packages(fulfilment)
    record = fulfilment.record()
    content = package_content(fulfilment, record)
    created = fulfilment.clock()
    content.disclosure = disclosure(fulfilment, record, content, created)
    built = build_package(content)
    sealed = encrypt_package(built.data, fulfilment.request_id)
    path = f"{export_prefix(fulfilment)}/{created.strftime('%Y%m%dT%H%M%S')}{PACKAGE_SUFFIX}"
    fulfilment.object_store.write_bytes(path, sealed.data)
    names = content.names.report() if content.names is not None else {}
    review = bool(names.get("texts_with_unsure"))
    if review:
        delivery = key_handoff.hold_key(fulfilment.request_id, sealed.key, fulfilment.object_store)
    else:
        delivery = key_handoff.deliver_key(
            fulfilment.request_id, sealed.key, fulfilment.object_store
        )
    details = {
        "object_path": path,
        "sha256": sealed.sha256,
        "bytes": len(sealed.data),
        "manifest_sha256": built.manifest_sha256,
        "categories": {k: v["count"] for k, v in built.manifest["categories"].items()},
        "files": len(built.manifest["files"]),
        "key_delivery": delivery,
        "names": names,
        "review": "required" if review else "none",
    }
    _record_export(fulfilment, path, created, built, sealed, details)
    fulfilment.report.result_path = path
    fulfilment.report.key_delivery = delivery


def disclosure(
    fulfilment: FulfilmentContext,
    record: RequestRecord,
    content: PackageContent,
    created: datetime,
) -> Disclosure:
    """What the cover page states: the controller (the tenant), recipients seen in the
    subject's own records (CRM systems), the tenant's registries and retention model."""
    tenant = fulfilment.tenant
    crm_rows = content.categories.get(planning.CRM_LINKS, [])
    expires = created + timedelta(days=fulfilment.export_ttl_days)
    return Disclosure(
        controller=tenant.name,
        request_id=fulfilment.request_id,
        request_type=record.request_type,
        jurisdiction=record.jurisdiction,
        generated_at=created.strftime("%Y-%m-%d %H:%M UTC"),
        expires_at=expires.strftime("%Y-%m-%d"),
        categories={name: len(rows) for name, rows in content.categories.items()},
        crm_systems=sorted({str(row["crm_system"]) for row in crm_rows if row.get("crm_system")}),
        registries=tuple(tenant.registries),
        retention_days={kind: tenant.retention_for(kind) for kind in RETENTION_LABELS},
    )


def _remove_orphan_packages(fulfilment: FulfilmentContext) -> None:
    # A run killed after writing a package but before recording it leaves an orphan whose
    # key was never handed over: it can never be opened, so it goes.
    with fulfilment.warehouse.connect() as connection:
        recorded = {
            row[0]
            for row in connection.execute(
                sa.select(dsar_exports.c.object_path).where(
                    dsar_exports.c.request_id == fulfilment.request_id
                )
            )
        }
    leftovers = [
        item.path
        for item in fulfilment.object_store.list_files(export_prefix(fulfilment))
        if item.path not in recorded
    ]
    if leftovers:
        purge_objects(fulfilment.object_store, leftovers)


def _record_export(
    fulfilment: FulfilmentContext,
    path: str,
    created: datetime,
    built: BuiltPackage,
    sealed: SealedPackage,
    details: dict[str, Any],
) -> None:
    """The package's row (with its expiry), its actions executed and the step, in one go."""
    with fulfilment.warehouse.begin() as connection:
        connection.execute(
            sa.insert(dsar_exports).values(
                request_id=fulfilment.request_id,
                tenant_id=fulfilment.tenant.id,
                object_path=path,
                sha256=sealed.sha256,
                bytes=len(sealed.data),
                manifest_sha256=built.manifest_sha256,
                encryption=ENCRYPTION,
                created_at=created,
                expires_at=created + timedelta(days=fulfilment.export_ttl_days),
                run_id=fulfilment.run_id,
            )
        )
        plan_items.mark_executed(
            fulfilment,
            connection,
            [
                a
                for a in plan_items.load_plan(fulfilment, connection)
                if a.action == planning.EXPORT
            ],
        )
        for name, category in built.manifest["categories"].items():
            step_log.record_executed(
                fulfilment, connection, name, category["count"], exported=category["count"]
            )
        step_log.finish(fulfilment, connection, "export", details)
        if details["review"] == "required":
            set_state(
                connection, fulfilment.request_id, "awaiting_review", run_id=fulfilment.run_id
            )


def verify_export(fulfilment: FulfilmentContext) -> dict[str, Any]:
    """The recorded package is there and still has the hash it was recorded with."""
    with fulfilment.warehouse.connect() as connection:
        row = connection.execute(
            sa.select(dsar_exports.c.object_path, dsar_exports.c.sha256)
            .where(dsar_exports.c.request_id == fulfilment.request_id)
            .order_by(dsar_exports.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return {"failed": 1, "package": "missing"}
    ok = (
        fulfilment.object_store.exists(row[0])
        and sha256_hex(fulfilment.object_store.read_bytes(row[0])) == row[1]
    )
    fulfilment.report.result_path = row[0]
    return {"failed": 0 if ok else 1, "package_sha256_matches": ok}
