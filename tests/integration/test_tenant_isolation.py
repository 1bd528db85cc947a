"""Two tenants, one phone number and one email: each tenant's jobs see only their own records.

acme-au and beta-us both hold records of the same person — the same E.164 number on calls and CRM
links, the same email. beta-us also has that number on its internal do-not-call list and under a
legal hold. Then acme-au's jobs run: ingestion, washing, a DSAR access and an erasure for that
person, a retention purge with a shortened policy. beta-us's rows and objects must come out
byte-for-byte unchanged, acme-au's DSAR must find nothing of beta-us, acme-au's wash must not use
beta-us's suppression list, and beta-us's hold must not shield acme-au's records.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.platform import landing, settings

pytestmark = pytest.mark.integration

A, B = "acme-au", "beta-us"
PLANTED_CALL = "1900000000.901"
CROSS_TENANT_CALL = "1900000000.902"
TENANT_TABLES = (
    "calls",
    "recordings",
    "transcripts",
    "ai_outputs",
    "crm_links",
    "consents",
    "suppression_entries",
    "legal_holds",
    "wash_results",
    "blocked_calls",
    "retention_states",
    "restrictions",
)


def _cdr_line(tenant: str, src: str, uniqueid: str, day: str) -> str:
    fields = [tenant, src, "1004", "from-pstn", f'"" <{src}>', "PJSIP/trunk-1",
              "PJSIP/1004-2", "Dial", "PJSIP/1004,30", f"{day} 10:00:00", f"{day} 10:00:05",
              f"{day} 10:03:05", "185", "180", "ANSWERED", "DOCUMENTATION", uniqueid, ""]  # fmt: skip
    return ",".join('"' + value.replace('"', '""') + '"' for value in fields)


def _append(store, path: str, text: str, header: str | None = None) -> None:
    existing = store.read_bytes(path).decode() if store.exists(path) else (header or "")
    if existing and not existing.endswith("\n"):
        existing += "\n"
    store.write_bytes(path, (existing + text + "\n").encode())


def _snapshot(warehouse, store, tenant: str) -> dict[str, Any]:
    """Every row of every tenant-scoped table, and every object, of one tenant."""
    snapshot: dict[str, Any] = {}
    with warehouse.connect() as connection:
        live = set(sa.inspect(connection).get_table_names())
        for table in TENANT_TABLES:
            if table not in live:
                continue
            frame = pd.read_sql(
                sa.text(f"SELECT * FROM {table} WHERE tenant_id = :tenant"),
                connection,
                params={"tenant": tenant},
            )
            rows = [{k: str(v) for k, v in row.items()} for row in frame.to_dict("records")]
            snapshot[table] = sorted(rows, key=lambda row: sorted(row.items()))
    for prefix in ("landing", "audit", "exports", "archive"):
        for item in store.list_files(prefix):
            if f"/{tenant}/" in f"/{item.path}/" or item.path.split("/")[-1].startswith(tenant):
                snapshot[item.path] = hashlib.sha256(store.read_bytes(item.path)).hexdigest()
    return snapshot


def _metadata(result, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        item = event.materialization
        if item is not None and item.asset_key.path[-1] == asset:
            return {key: value.value for key, value in item.metadata.items()}
    return {}


def _run(job: str, **kwargs):
    from cm_pipelines.platform.instance import run_job

    result = run_job(job, **kwargs)
    assert result.success, f"{job} failed (run {result.run_id})"
    return result


def _dsar(tenant: str, request_type: str, phone: str, email: str) -> str:
    from cm_pipelines.cli.dsar import submit_request
    from cm_pipelines.dsar import key_handoff
    from cm_pipelines.dsar.request_changes import verify_request
    from cm_pipelines.dsar.run_config import JOB_NAME, fulfilment_run_config
    from cm_pipelines.resources import WarehouseResource

    request_id = submit_request(
        tenant=tenant,
        request_type=request_type,
        identifiers=[("phone", phone), ("email", email)],
        submitted_by="isolation-test",
    )["request_id"]
    with WarehouseResource().begin() as connection:
        verify_request(connection, request_id, method="test_identity", verified_by="test")
    with key_handoff.expect_key(request_id):
        _run(JOB_NAME, run_config=fulfilment_run_config(request_id))
    return request_id


def test_one_tenants_jobs_never_touch_another_tenants_records_of_the_same_person() -> None:
    from cm_pipelines.cli.project import generate, initialise
    from cm_pipelines.dncr.run_config import wash_run_config
    from cm_pipelines.resources import (
        ObjectStoreResource,
        PlatformConfigResource,
        WarehouseResource,
    )
    from cm_pipelines.retention.holds import add_hold
    from cm_pipelines.retention.policy_versions import record_operator_policy
    from cm_pipelines.tables import calls as call_tables
    from cm_pipelines.tables import dncr, dsar

    initialise()
    day_date = date.today() - timedelta(days=2)
    day = day_date.isoformat()
    world = generate(5, 40, None, True, 1, day_date)
    store, warehouse = ObjectStoreResource(), WarehouseResource()
    tenants = PlatformConfigResource().tenants_by_id()
    subject = next(s for s in world.subjects if s["tenant_id"] == A and s["call_ids"])
    phone, email = subject["e164"], subject["email"]
    hash_key = settings.identifier_hash_key()

    # beta-us holds the same person: a call from the number, a CRM link with number and email,
    # the number on its own do-not-call list and under its own legal hold, both campaigns list it.
    _append(store, landing.cdr_file(B, day), _cdr_line(B, phone, PLANTED_CALL, day))
    _append(store, landing.cdr_file(B, day), _cdr_line(A, phone, CROSS_TENANT_CALL, day))
    _append(
        store,
        landing.crm_links_file(B, day),
        f"{PLANTED_CALL},hubspot,B-77,{phone},{email}",
        header="call_id,crm_system,crm_record_id,contact_phone,contact_email\n",
    )
    for tenant in (A, B):
        store.write_bytes(
            landing.campaign_file(tenant, f"isolation-{tenant}"),
            f"phone,contact_ref\n{phone},ref-1\n".encode(),
        )

    ingested = _run("call_ingestion_job", partition_key=day)
    assert _metadata(ingested, "call_records")["rows_quarantined"] >= 1
    with warehouse.begin() as connection:
        calls = call_tables.calls.c
        owners = connection.execute(
            sa.select(calls.tenant_id, calls.call_id).where(
                sa.or_(calls.src_e164 == phone, calls.dst_e164 == phone)
            )
        ).all()
        assert {tenant for tenant, _ in owners} == {A, B}, "the shared number is in both tenants"
        assert (B, PLANTED_CALL) in owners
        cross = connection.execute(
            sa.select(sa.func.count()).where(calls.call_id == CROSS_TENANT_CALL)
        ).scalar_one()
        assert cross == 0, "a line naming acme-au in beta-us's file was ingested into acme-au"
        quarantined = connection.execute(
            sa.select(
                call_tables.quarantine.c.reason_code, call_tables.quarantine.c.tenant_id
            ).where(call_tables.quarantine.c.asset == "call_records")
        ).all()
        assert ("unknown_tenant", B) in quarantined
        crm = call_tables.crm_links.c
        email_owners = connection.execute(
            sa.select(crm.tenant_id, crm.call_id).where(crm.contact_email == email.lower())
        ).all()
        assert (B, PLANTED_CALL) in email_owners
        connection.execute(
            sa.insert(dncr.suppression_entries).values(
                tenant_id=B,
                e164=phone,
                e164_hash=keyed_hash(phone, hash_key),
                source="operator",
                created_at=datetime.now(UTC),
            )
        )
        b_hold = add_hold(
            connection, tenants[B], phone=phone, reason="beta litigation", actor="test",
            hash_key=hash_key,
        )  # fmt: skip

    # Washing: each tenant against its own suppression list only.
    _run("dncr_wash_job", run_config=wash_run_config())
    with warehouse.connect() as connection:
        wash = dncr.wash_results.c
        decisions = dict(
            connection.execute(
                sa.select(wash.tenant_id, wash.reason).where(
                    wash.e164_hash == keyed_hash(phone, hash_key)
                )
            ).all()
        )
    assert decisions[B] == "internal_suppression"
    assert decisions[A] != "internal_suppression", "acme-au's wash read beta-us's suppression list"

    _run("retention_states_job")  # platform-wide: every tenant's states, before the snapshot
    before_b = _snapshot(warehouse, store, B)
    assert before_b["calls"] and before_b["crm_links"] and before_b["legal_holds"]

    # acme-au: access, then erasure, for the same number and email.
    access = _dsar(A, "access", phone, email)
    erasure = _dsar(A, "erasure", phone, email)
    with warehouse.connect() as connection:
        items = connection.execute(
            sa.select(dsar.dsar_plan_items.c.tenant_id, dsar.dsar_plan_items.c.item_ref).where(
                dsar.dsar_plan_items.c.request_id.in_([access, erasure])
            )
        ).all()
        results = (
            connection.execute(
                sa.select(dsar.dsar_store_results.c.details).where(
                    dsar.dsar_store_results.c.request_id.in_([access, erasure])
                )
            )
            .scalars()
            .all()
        )
        a_calls = connection.execute(
            sa.select(call_tables.calls.c.call_id, call_tables.calls.c.erased_at).where(
                call_tables.calls.c.tenant_id == A,
                sa.or_(
                    call_tables.calls.c.src_e164 == phone, call_tables.calls.c.dst_e164 == phone
                ),
            )
        ).all()
    assert items and {tenant for tenant, _ in items} == {A}
    assert not any(PLANTED_CALL in str(ref) or "B-77" in str(ref) for _, ref in items)
    assert not any(PLANTED_CALL in str(detail) for detail in results)
    # beta-us's hold on the same number did not shield acme-au's calls from erasure
    assert all(erased_at is not None for _, erased_at in a_calls) or not a_calls

    # acme-au: shortened retention and a purge scoped to it.
    with warehouse.begin() as connection:
        record_operator_policy(
            connection, tenant_id=A, record_type="recordings", retention_days=0,
            effective_from=datetime.now(UTC).date(), actor="test",
        )  # fmt: skip
    from cm_pipelines.platform.instance import run_job

    config: dict[str, Any] = {"tenant": A}
    purge = run_job(
        "retention_purge_job", run_config={"ops": {"retention_purge_plan": {"config": config}}}
    )
    if not purge.success:  # the circuit breaker: an approved override, as operators would
        from cm_pipelines.access.approvals import decide
        from cm_pipelines.resources import PlatformConfigResource
        from cm_pipelines.retention.override_approvals import ask_for_override, override_config

        limits = {"max_tenant_share": 0.2, "max_plan_items": 250_000}
        with warehouse.begin() as connection:
            approval = ask_for_override(connection, A, "isolation test", "cli:dana", limits)
            approver = PlatformConfigResource().identities()["priya"]
            approval = decide(connection, approval["approval_id"], approver, approve=True)
        config.update(override_config(approval))
        purge = _run(
            "retention_purge_job", run_config={"ops": {"retention_purge_plan": {"config": config}}}
        )
    proof = _metadata(purge, "retention_proof_of_deletion")
    assert proof.get("purged", 0) > 0, "the purge took nothing: it would prove nothing"

    after_b = _snapshot(warehouse, store, B)
    changed = sorted(
        key for key in set(before_b) | set(after_b) if before_b.get(key) != after_b.get(key)
    )
    assert changed == [], f"acme-au's jobs changed beta-us's records: {changed}"
    with warehouse.connect() as connection:
        hold = connection.execute(
            sa.text("SELECT released_at FROM legal_holds WHERE hold_id = :id"), {"id": b_hold}
        ).scalar_one()
        audit_tenants = (
            connection.execute(
                sa.text(
                    "SELECT DISTINCT tenant_id FROM audit_log WHERE action LIKE 'dsar.%' "
                    "OR action LIKE 'retention.purge%'"
                )
            )
            .scalars()
            .all()
        )
    assert hold is None
    assert set(audit_tenants) <= {A, None}, "acme-au's DSAR or purge was audited under beta-us"
