"""A small call world for retention tests, written straight into the warehouse and object store.

Calls carry made-up E.164 numbers; recordings, transcripts and AI outputs get real objects so a
purge can be checked against the store, and each call is a real line of its day's Asterisk
``Master.csv`` (its CRM link one of the day's CRM links CSV), so the landing files can be
purged, re-ingested and checked too. Days are relative to today (UTC), the purge's clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.platform import landing
from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource, WarehouseResource
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables

TENANTS_YAML = """
tenants:
  - id: acme-au
    name: Acme Dental
    country: AU
    timezone: Australia/Sydney
    retention_days:
      recordings: {recordings}
      transcripts: 365
      ai_summaries: 365
      call_logs: {call_logs}
      crm_links: 40
      wash_results: 100
  - id: beta-us
    name: Beta Solar
    country: US
    timezone: America/New_York
    retention_days:
      recordings: 30
      call_logs: 730
"""


def write_tenants(
    path: Path, *, recordings: int = 30, call_logs: int = 730
) -> PlatformConfigResource:
    path.write_text(TENANTS_YAML.format(recordings=recordings, call_logs=call_logs))
    return PlatformConfigResource(tenants_file=str(path))


def today() -> date:
    return datetime.now(UTC).date()


@dataclass
class SeededCall:
    tenant_id: str
    call_id: str
    call_date: date
    src_e164: str
    dst_e164: str
    object_paths: dict[str, str] = field(default_factory=dict)  # record type/kind -> path
    cdr_file: str = ""  # the landing file its CDR line is in
    cdr_line: int = 0
    crm_file: str | None = None  # the landing file its CRM link line is in (if linked)


def cdr_line(tenant_id: str, call_id: str, src: str, dst: str, started: datetime) -> str:
    """One Asterisk cdr_csv record (18 positional fields, every text field quoted)."""
    stamp = started.strftime("%Y-%m-%d %H:%M:%S")
    ended = (started + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
    answered = (started + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M:%S")
    fields: list[object] = [
        tenant_id,
        src,
        dst,
        "from-pstn",
        f'"Jo Citizen" <{src}>',
        "SIP/trunk-0001",
        "SIP/1001-0002",
        "Dial",
        "SIP/1001,30",
        stamp,
        answered,
        ended,
        180,
        170,
        "ANSWERED",
        "DOCUMENTATION",
        call_id,
        "",
    ]
    return ",".join(
        str(value) if isinstance(value, int) else '"' + str(value).replace('"', '""') + '"'
        for value in fields
    )


CRM_HEADER = "call_id,crm_system,crm_record_id,contact_phone,contact_email"


@dataclass
class World:
    warehouse: WarehouseResource
    store: ObjectStoreResource
    calls: list[SeededCall] = field(default_factory=list)
    _sequence: int = 0

    def append_line(self, path: str, line: str, header: str | None = None) -> int:
        """Append one line to a landing file (header first when new); its 1-based line number."""
        existing = self.store.read_bytes(path).decode() if self.store.exists(path) else ""
        if not existing and header is not None:
            existing = header + "\n"
        self.store.write_bytes(path, (existing + line + "\n").encode())
        return existing.count("\n") + 1

    def add_call(
        self,
        tenant_id: str,
        days_ago: int,
        *,
        src: str | None = None,
        dst: str = "+61299990000",
        recording: bool = True,
        transcript: bool = True,
        ai_kinds: tuple[str, ...] = ("summary", "receptionist_note"),
        crm_email: str | None = None,
        crm_phone: str | None = None,
        versions: int = 1,
    ) -> SeededCall:
        self._sequence += 1
        call_date = today() - timedelta(days=days_ago)
        call_id = f"{1_700_000_000 + self._sequence}.{self._sequence}"
        src = src or f"+6149157{self._sequence % 10_000:04d}"
        day = call_date.isoformat()
        started = datetime.combine(call_date, datetime.min.time()) + timedelta(hours=10)
        call = SeededCall(tenant_id, call_id, call_date, src, dst)
        cdr_path = landing.cdr_file(tenant_id, day)
        cdr_number = self.append_line(cdr_path, cdr_line(tenant_id, call_id, src, dst, started))
        call.cdr_file, call.cdr_line = cdr_path, cdr_number
        crm_number = 0
        if crm_email or crm_phone:
            crm_path = landing.crm_links_file(tenant_id, day)
            crm_number = self.append_line(
                crm_path,
                f"{call_id},hubspot,contact-{self._sequence},{crm_phone or ''},{crm_email or ''}",
                header=CRM_HEADER,
            )
            call.crm_file = crm_path
        with self.warehouse.begin() as connection:
            connection.execute(
                sa.insert(call_tables.calls).values(
                    tenant_id=tenant_id,
                    call_id=call_id,
                    partition_date=call_date,
                    call_date=call_date,
                    started_at=started,
                    ended_at=started + timedelta(minutes=3),
                    duration_s=180,
                    billsec_s=170,
                    disposition="ANSWERED",
                    direction="inbound",
                    src_kind="e164",
                    src_e164=src,
                    dst_kind="e164",
                    dst_e164=dst,
                    caller_name="Jo Citizen",
                    channel="SIP/trunk-0001",
                    userfield="note",
                    source_file=cdr_path,
                    source_line=cdr_number,
                )
            )

            def put(path: str, payload: bytes) -> str:
                for version in range(versions):
                    self.store.write_bytes(path, payload + f" v{version}".encode())
                return hashlib.sha256(payload).hexdigest()

            if recording:
                path = landing.recording_file(tenant_id, day, call_id)
                sha = put(path, b"RIFF....WAVEfmt " + call_id.encode())
                call.object_paths["recordings"] = path
                connection.execute(
                    sa.insert(call_tables.recordings).values(
                        tenant_id=tenant_id,
                        call_id=call_id,
                        partition_date=call_date,
                        object_path=path,
                        bytes=64,
                        sha256=sha,
                        duration_s=3.0,
                        sample_rate=8000,
                        channels=1,
                    )
                )
            if transcript:
                path = landing.transcript_file(tenant_id, day, call_id, "whisper")
                sha = put(path, b'{"text": "hello this is Jo"}')
                call.object_paths["transcripts"] = path
                connection.execute(
                    sa.insert(call_tables.transcripts).values(
                        tenant_id=tenant_id,
                        call_id=call_id,
                        partition_date=call_date,
                        object_path=path,
                        sha256=sha,
                        format="whisper",
                        language="en",
                        text="hello this is Jo, call me on 0491 570 156",
                        segments=[{"start": 0, "end": 1, "speaker": "spk_0", "text": "hello"}],
                    )
                )
            for kind in ai_kinds:
                path = landing.ai_output_file(tenant_id, day, call_id, kind)
                sha = put(path, f'{{"kind": "{kind}"}}'.encode())
                call.object_paths[f"ai:{kind}"] = path
                connection.execute(
                    sa.insert(call_tables.ai_outputs).values(
                        tenant_id=tenant_id,
                        call_id=call_id,
                        kind=kind,
                        partition_date=call_date,
                        object_path=path,
                        sha256=sha,
                        model="test-model",
                        text="Jo called about a booking",
                    )
                )
            if crm_email or crm_phone:
                connection.execute(
                    sa.insert(call_tables.crm_links).values(
                        tenant_id=tenant_id,
                        call_id=call_id,
                        partition_date=call_date,
                        crm_system="hubspot",
                        crm_record_id=f"contact-{self._sequence}",
                        contact_e164=crm_phone,
                        contact_email=crm_email,
                        source_file=landing.crm_links_file(tenant_id, day),
                        source_line=crm_number,
                    )
                )
        self.calls.append(call)
        return call

    def add_wash_result(self, tenant_id: str, days_ago: int, e164: str, hash_key: bytes) -> int:
        washed = datetime.now(UTC) - timedelta(days=days_ago)
        with self.warehouse.begin() as connection:
            result = connection.execute(
                sa.insert(dncr_tables.wash_results)
                .values(
                    tenant_id=tenant_id,
                    campaign_id="spring",
                    e164=e164,
                    e164_hash=keyed_hash(e164, hash_key),
                    decision="blocked",
                    reason="registry",
                    washed_at=washed,
                )
                .returning(dncr_tables.wash_results.c.id)
            )
            return int(result.scalar_one())

    def add_blocked_call(self, tenant_id: str, days_ago: int, e164: str, hash_key: bytes) -> int:
        decided = datetime.now(UTC) - timedelta(days=days_ago)
        with self.warehouse.begin() as connection:
            result = connection.execute(
                sa.insert(dncr_tables.blocked_calls)
                .values(
                    tenant_id=tenant_id,
                    campaign_id="spring",
                    e164_hash=keyed_hash(e164, hash_key),
                    reason="registry",
                    rule="au_acma",
                    decided_at=decided,
                )
                .returning(dncr_tables.blocked_calls.c.id)
            )
            return int(result.scalar_one())


def purge_config(**values) -> dict:
    return {"ops": {"retention_purge_plan": {"config": values}}}


def retention_defs(resources: dict) -> dg.Definitions:
    """The retention assets, guard and jobs bound to the test's resources."""
    from cm_pipelines.retention import assets as retention_assets
    from cm_pipelines.retention import checks as retention_checks
    from cm_pipelines.retention.jobs import retention_purge_job, retention_states_job

    return dg.Definitions(
        assets=dg.load_assets_from_modules([retention_assets]),
        asset_checks=dg.load_asset_checks_from_modules([retention_checks]),
        jobs=[retention_purge_job, retention_states_job],
        resources=resources,
    )


def run_job(resources: dict, job_name: str, run_config: dict | None = None, instance=None):
    job = retention_defs(resources).resolve_job_def(job_name)
    if instance is not None:
        return job.execute_in_process(
            run_config=run_config or {}, instance=instance, raise_on_error=False
        )
    with dg.DagsterInstance.ephemeral() as ephemeral:
        return job.execute_in_process(
            run_config=run_config or {}, instance=ephemeral, raise_on_error=False
        )


def run_purge(resources: dict, run_config: dict | None = None, instance=None):
    return run_job(resources, "retention_purge_job", run_config, instance)


def materialization(result, asset_name: str) -> dict:
    for event in result.get_asset_materialization_events():
        found = event.materialization
        if found is not None and found.asset_key.path[-1] == asset_name:
            return {key: value.value for key, value in found.metadata.items()}
    raise AssertionError(f"{asset_name} was not materialized")


def engine_purge(
    resources: dict,
    tenant_id: str | None,
    run_id: str,
    *,
    claims=None,
    max_tenant_share: float = 1.0,
) -> dict:
    """Plan, guard, execute and prove through the engine, as the job's steps do, without a
    Dagster run (threads of one process cannot run Dagster runs side by side). Returns the
    plan id, item count and proof totals."""
    from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
    from cm_pipelines.platform import settings
    from cm_pipelines.retention.purge.execute import execute_plan
    from cm_pipelines.retention.purge.guard import guard_plan
    from cm_pipelines.retention.purge.plan import prepare_plan
    from cm_pipelines.retention.purge.prove import prove_plan
    from cm_pipelines.retention.purge.settings import PurgeSettings

    warehouse, store = resources["warehouse"], resources["object_store"]
    key = settings.identifier_hash_key()
    purge = PurgeSettings(
        tenant_id=tenant_id, limits=BreakerLimits(max_tenant_share=max_tenant_share)
    )
    plan = prepare_plan(
        warehouse,
        store,
        resources["platform_config"].tenants(),
        purge,
        run_id=run_id,
        hash_key=key,
        claims=claims,
    )
    guard = guard_plan(warehouse, plan.plan_id, hash_key=key, run_id=run_id, claims=claims)
    assert guard.passed, guard
    execute_plan(warehouse, store, plan.plan_id, run_id=run_id, hash_key=key, claims=claims)
    proof = prove_plan(warehouse, store, plan.plan_id, run_id=run_id, claims=claims)
    return {
        "plan_id": plan.plan_id,
        "items": plan.item_count,
        "resumed": plan.resumed,
        "status": proof.status,
        "totals": proof.document["totals"],
    }


def end_state(resources: dict, calls: list[SeededCall]) -> dict:
    """What a purge leaves, comparable between two warehouses seeded the same way: every row's
    purged flag, the tombstones and which files are still in the store."""
    from cm_pipelines.tables.retention import retention_tombstones

    warehouse, store = resources["warehouse"], resources["object_store"]
    state: dict = {}
    with warehouse.connect() as connection:
        for name, table, key in (
            ("calls", call_tables.calls, ("tenant_id", "call_id")),
            ("recordings", call_tables.recordings, ("tenant_id", "call_id")),
            ("transcripts", call_tables.transcripts, ("tenant_id", "call_id")),
            ("ai_outputs", call_tables.ai_outputs, ("tenant_id", "call_id", "kind")),
            ("crm_links", call_tables.crm_links, ("tenant_id", "call_id", "crm_record_id")),
        ):
            rows = connection.execute(
                sa.select(*[table.c[column] for column in key], table.c.deleted_at)
            ).all()
            state[name] = sorted((tuple(row[:-1]), row[-1] is not None) for row in rows)
        tombstones = connection.execute(
            sa.select(
                retention_tombstones.c.tenant_id,
                retention_tombstones.c.record_type,
                retention_tombstones.c.artefact_id,
                retention_tombstones.c.policy_version,
            )
        ).all()
    state["tombstones"] = sorted(tuple(row) for row in tombstones)
    paths = {path for call in calls for path in call.object_paths.values()}
    paths |= {call.cdr_file for call in calls} | {call.crm_file for call in calls if call.crm_file}
    state["objects_present"] = sorted(path for path in paths if store.exists(path))
    return state
