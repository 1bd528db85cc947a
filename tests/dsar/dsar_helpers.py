"""Helpers for DSAR tests: a small generated world ingested with the real assets, requests
submitted through the same code as ``cm dsar submit``, and the fulfilment job run in process."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.domain.dsar.requests import validate_request
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.dsar import key_handoff
from cm_pipelines.dsar.jobs import dsar_fulfillment_job
from cm_pipelines.dsar.request_changes import submit_request, verify_request
from cm_pipelines.dsar.run_config import fulfilment_run_config
from cm_pipelines.ingestion import assets as call_assets
from cm_pipelines.platform import settings
from cm_pipelines.synthetic.world import WorldSummary, generate_world
from cm_pipelines.tables import dncr
from cm_pipelines.tables.retention import legal_holds

START_DAY = date(2026, 11, 2)
DAYS = 2
INGESTION_ASSETS = [
    call_assets.call_records,
    call_assets.recordings,
    call_assets.transcripts,
    call_assets.ai_summaries,
    call_assets.crm_links,
]
TENANT_ASSETS = [call_assets.tenants]


def ingest_world(resources: dict[str, Any], *, seed: int = 3, calls: int = 120) -> WorldSummary:
    """Generate a world into the store and ingest every call day with the ingestion assets."""
    world = generate_world(
        resources["object_store"].write_bytes,
        resources["platform_config"].tenants(),
        seed=seed,
        calls=calls,
        start_day=START_DAY,
        days=DAYS,
    )
    assert dg.materialize(TENANT_ASSETS, resources=resources).success
    for offset in range(DAYS):
        day = (START_DAY + timedelta(days=offset)).isoformat()
        assert dg.materialize(INGESTION_ASSETS, resources=resources, partition_key=day).success
    return world


def subject(world: WorldSummary, tenant_id: str, *, mentioned: bool | None = None) -> dict:
    """A generated DSAR subject of a tenant (one named in other calls' transcripts if asked)."""
    for candidate in world.subjects:
        if candidate["tenant_id"] != tenant_id:
            continue
        if mentioned is None or bool(candidate["mentioned_call_ids"]) == mentioned:
            return candidate
    raise AssertionError(f"no subject in {tenant_id} with mentioned={mentioned}")


def submit(
    resources: dict[str, Any],
    tenant_id: str,
    request_type: str,
    identifiers: list[tuple[str, str]],
    *,
    verify: bool = True,
    **fields: Any,
) -> str:
    tenants = resources["platform_config"].tenants_by_id()
    validated = validate_request(
        tenant_id=tenant_id,
        request_type=request_type,
        identifiers=identifiers,
        tenants=tenants,
        **fields,
    )
    with resources["warehouse"].begin() as connection:
        request_id = submit_request(
            connection,
            validated,
            tenant=tenants[tenant_id],
            hash_key=settings.identifier_hash_key(),
            submitted_by="test",
        )
        if verify:
            verify_request(connection, request_id, method="id_document", verified_by="tester")
    return request_id


@dataclass
class RunOutcome:
    result: dg.ExecuteInProcessResult
    key: bytes | None

    @property
    def success(self) -> bool:
        return self.result.success

    def failure_messages(self) -> list[str]:
        return [
            event.step_failure_data.error.message
            for event in self.result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ]


def run(resources: dict[str, Any], request_id: str, **kwargs: Any) -> RunOutcome:
    with key_handoff.expect_key(request_id) as receiver:
        result = dsar_fulfillment_job.execute_in_process(
            run_config=kwargs.pop("run_config", fulfilment_run_config(request_id)),
            resources=resources,
            instance=kwargs.pop("instance", None) or dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            tags={"cm/dsar_request_id": request_id},
            **kwargs,
        )
    return RunOutcome(result, receiver.key)


def hash_of(value: str) -> str:
    return keyed_hash(value, settings.identifier_hash_key())


def add_number_records(resources: dict[str, Any], tenant_id: str, e164: str) -> dict[str, int]:
    """A consent, a wash result, a blocked-call record and a suppression entry for a number,
    as the do-not-call capability writes them; returns their row ids."""
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    number_hash = hash_of(e164)
    ids = {}
    with resources["warehouse"].begin() as connection:
        ids["consents"] = connection.execute(
            sa.insert(dncr.consents)
            .values(
                tenant_id=tenant_id,
                e164=e164,
                e164_hash=number_hash,
                kind="express_consent",
                recorded_at=now,
                source="web_form",
                source_file="landing/consents/x/consents.csv",
                source_line=2,
            )
            .returning(dncr.consents.c.id)
        ).scalar_one()
        ids["wash_results"] = connection.execute(
            sa.insert(dncr.wash_results)
            .values(
                tenant_id=tenant_id,
                campaign_id="reactivation-q4",
                e164=e164,
                e164_hash=number_hash,
                decision="blocked",
                reason="registry",
                washed_at=now,
            )
            .returning(dncr.wash_results.c.id)
        ).scalar_one()
        ids["blocked_calls"] = connection.execute(
            sa.insert(dncr.blocked_calls)
            .values(
                tenant_id=tenant_id,
                campaign_id="reactivation-q4",
                e164_hash=number_hash,
                reason="registry",
                rule="registry:au_acma",
                decided_at=now,
            )
            .returning(dncr.blocked_calls.c.id)
        ).scalar_one()
        ids["suppression_entries"] = connection.execute(
            sa.insert(dncr.suppression_entries)
            .values(
                tenant_id=tenant_id,
                e164=e164,
                e164_hash=number_hash,
                source="operator",
                created_at=now,
            )
            .returning(dncr.suppression_entries.c.id)
        ).scalar_one()
    return ids


def add_call_hold(resources: dict[str, Any], tenant_id: str, call_id: str, hold_id: str) -> None:
    with resources["warehouse"].begin() as connection:
        connection.execute(
            sa.insert(legal_holds).values(
                hold_id=hold_id,
                tenant_id=tenant_id,
                scope="call",
                call_id=call_id,
                reason="litigation",
                created_by="counsel",
                created_at=datetime(2026, 11, 4, tzinfo=UTC),
            )
        )


def package_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rows(resources: dict[str, Any], table: sa.Table, **where: Any) -> list[dict]:
    query = sa.select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with resources["warehouse"].connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def build_template(root: Path, *, seed: int = 3, calls: int = 120) -> tuple[Path, Path, Any]:
    """Generate and ingest a world once; tests start from copies of it (``copy_platform``)."""
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )

    database, storage = root / "template.db", root / "template_store"
    storage.mkdir(parents=True)
    warehouse = WarehouseResource(url=f"sqlite:///{database}")
    warehouse.upgrade()
    resources = {
        "warehouse": warehouse,
        "object_store": ObjectStoreResource(url=f"file://{storage}"),
        "platform_config": PlatformConfigResource(),
    }
    world = ingest_world(resources, seed=seed, calls=calls)
    warehouse.get_engine().dispose()
    return database, storage, world


def copy_platform(database: Path, storage: Path, target: Path) -> dict[str, Any]:
    """A private copy of the template warehouse (SQLite backup API) and object store."""
    import shutil
    import sqlite3

    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )

    target.mkdir(parents=True, exist_ok=True)
    copy = target / "warehouse.db"
    source = sqlite3.connect(database)
    destination = sqlite3.connect(copy)
    with destination:
        source.backup(destination)
    source.close()
    destination.close()
    shutil.copytree(storage, target / "store")
    return {
        "warehouse": WarehouseResource(url=f"sqlite:///{copy}"),
        "object_store": ObjectStoreResource(url=f"file://{target / 'store'}"),
        "platform_config": PlatformConfigResource(),
    }


_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


def readable_text(data: bytes) -> str:
    """A package file's text without SHA-256 digests: random hex can hold a digit run that a
    phone matcher reads as a valid number."""
    return _DIGEST.sub("<sha256>", data.decode("utf-8"))
