"""The retention states asset and the guarded purge job on SQLite + a local folder.

Covers: states metadata and forecasts, a policy change mid-life recorded from the tenants file,
legal holds (each scope) keeping a call's whole lineage, the circuit breaker tripping and the
audited override, a purge killed after some batches (and between deleting objects and marking
rows) resumed to the same end state, the proof manifest matching what was deleted, an object
that refuses deletion, DNCR and DSAR records, and the `cm hold` / `cm retention` commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits
from cm_pipelines.domain.retention.digests import artefacts_digest
from cm_pipelines.domain.trust.audit_chain import verify_chain
from cm_pipelines.platform import landing, settings
from cm_pipelines.platform.instance import get_instance
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource, object_purge
from cm_pipelines.retention.holds import add_hold, release_hold
from cm_pipelines.retention.purge.claims import ClaimPolicy, PurgeBusy
from cm_pipelines.retention.purge.execute import execute_plan
from cm_pipelines.retention.purge.guard import guard_plan
from cm_pipelines.retention.purge.plan import prepare_plan
from cm_pipelines.retention.purge.plan_records import PurgeRefused
from cm_pipelines.retention.purge.prove import prove_plan
from cm_pipelines.retention.purge.settings import PurgeSettings
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables.retention import (
    purge_plan_items,
    purge_plans,
    retention_policy_versions,
    retention_tombstones,
)
from cm_pipelines.trust.chain import read_chain
from tests.retention.retention_helpers import (
    CRM_HEADER,
    World,
    cdr_line,
    engine_purge,
    materialization,
    purge_config,
    retention_defs,
    run_job,
    run_purge,
    today,
    write_tenants,
)
from tests.run_failures import assert_one_line_reason

OBJECT_TABLES = {
    "recordings": call_tables.recordings,
    "transcripts": call_tables.transcripts,
    "ai_summaries": call_tables.ai_outputs,
}
NO_BREAKER = {"max_tenant_share": 1.0}


@pytest.fixture
def tenants_path(tmp_path: Path) -> Path:
    return tmp_path / "tenants.yaml"


@pytest.fixture
def resources(sqlite_warehouse, local_store, tenants_path):
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": write_tenants(tenants_path),
    }


@pytest.fixture
def world(sqlite_warehouse, local_store) -> World:
    return World(sqlite_warehouse, local_store)


def hash_key() -> bytes:
    return settings.identifier_hash_key()


def tenant_by_id(resources, tenant_id):
    return resources["platform_config"].tenants_by_id()[tenant_id]


def rows(warehouse: WarehouseResource, table: sa.Table) -> pd.DataFrame:
    with warehouse.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(table)).mappings().all())


def live_state(warehouse: WarehouseResource, store: ObjectStoreResource) -> dict:
    """Every object-bearing row: (type, tenant, call, kind) -> (row live?, object present?)."""
    state = {}
    for record_type, table in OBJECT_TABLES.items():
        for row in rows(warehouse, table).itertuples():
            key = (record_type, row.tenant_id, row.call_id, getattr(row, "kind", ""))
            state[key] = (pd.isna(row.deleted_at), store.exists(row.object_path))
    return state


def assert_nothing_orphaned(warehouse, store) -> None:
    for key, (row_live, object_present) in live_state(warehouse, store).items():
        assert row_live == object_present, (
            f"orphan: {key} row live={row_live} object={object_present}"
        )


def seed_mixed(world: World) -> dict:
    """Old calls (recording due at 30 days, derived inherit), fresh calls, a held call."""
    old = [world.add_call("acme-au", 45, crm_email=f"p{n}@example.com") for n in range(4)]
    fresh = [world.add_call("acme-au", 2) for _ in range(3)]
    held = world.add_call("acme-au", 45, crm_phone="+61491579999")
    other = [world.add_call("beta-us", 40) for _ in range(2)]
    return {"old": old, "fresh": fresh, "held": held, "other": other}


def test_states_asset_reports_a_table_per_tenant_type_and_forecasts(resources, world):
    seed_mixed(world)
    world.add_call("acme-au", 27)  # recording due in 3 days
    world.add_call("acme-au", 10)  # due in 20 days
    with resources["warehouse"].begin() as connection:
        add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            phone="+61491579999",
            reason="matter 42",
            actor="tester",
            hash_key=hash_key(),
        )
    result = run_job(resources, "retention_states_job")
    assert result.success
    metadata = materialization(result, "retention_states")
    table = metadata["states_by_tenant_and_type"]
    assert "| tenant | record type | active | due | held | purged |" in table
    assert "| acme-au | recordings |" in table and "| beta-us | call_logs |" in table
    by_state = metadata["by_state"]
    # acme-au: 4 old lineages due (recording, transcript, 2 ai outputs, crm link; the call row
    # is kept 730 days) + beta-us 2 * (recording + transcript + 2 ai outputs)
    assert by_state["due"] == 4 * 5 + 2 * 4
    # the held call's lineage (call, recording, transcript, 2 ai, crm link) and the day's CDR
    # file and CRM links file, which still hold its lines
    assert by_state["held"] == 6 + 2
    assert metadata["due_next_7_days"] == 4  # the 27-day-old call's recording and derived
    assert metadata["due_next_30_days"] == 4 + 4 + 3 * 4  # 27, 10 and three 2-day-old calls
    assert metadata["held_past_expiry"] == 5 + 1  # + the CRM links file (its links are due)
    assert metadata["policies_in_force"]["acme-au"]["recordings"] == "v1: 30d"
    # Nothing personal in the metadata.
    assert "+61491579999" not in json.dumps({k: str(v) for k, v in metadata.items()})
    stored = rows(
        resources["warehouse"],
        sa.Table(
            "retention_states", sa.MetaData(), autoload_with=resources["warehouse"].get_engine()
        ),
    )
    assert len(stored) == sum(by_state.values())
    assert set(stored["state"]) == {"active", "due", "held"}
    due_recordings = stored.loc[
        (stored["state"] == "due") & (stored["record_type"] == "transcripts")
    ]
    assert set(due_recordings["expiry_basis"]) == {"inherited:recordings"}
    assert set(due_recordings["policy_version"]) <= {
        "acme-au/recordings/v1",
        "beta-us/recordings/v1",
    }


def test_a_policy_change_in_the_tenants_file_is_a_new_version_from_today(
    resources, world, tenants_path
):
    call = world.add_call("acme-au", 100, recording=False, transcript=False, ai_kinds=())
    assert run_job(resources, "retention_states_job").success
    # Shorten call logs from 730 to 60 days: the call is now past it, under version 2.
    resources["platform_config"] = write_tenants(tenants_path, call_logs=60)
    result = run_job(resources, "retention_states_job")
    assert result.success
    assert materialization(result, "retention_states")["policy_versions_recorded"] == 1
    versions = rows(resources["warehouse"], retention_policy_versions)
    changed = versions.loc[
        (versions["tenant_id"] == "acme-au") & (versions["record_type"] == "call_logs")
    ].sort_values("version")
    assert list(changed["retention_days"]) == [730, 60]
    assert str(changed["effective_from"].iloc[1])[:10] == today().isoformat()
    purge = run_purge(resources, purge_config(**NO_BREAKER))
    assert purge.success
    tombstones = rows(resources["warehouse"], retention_tombstones)
    assert tombstones.loc[tombstones["artefact_id"] == call.call_id, "policy_version"].tolist() == [
        "acme-au/call_logs/v2"
    ]
    actions = [entry["action"] for entry in read_chain_of(resources)]
    assert actions.count("retention.policy_version_recorded") >= 2


def read_chain_of(resources) -> list[dict]:
    with resources["warehouse"].connect() as connection:
        return read_chain(connection)


def test_purge_deletes_what_is_due_keeps_holds_and_proves_it(resources, world):
    seeded = seed_mixed(world)
    with resources["warehouse"].begin() as connection:
        hold_id = add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            phone="+61491579999",  # matches the held call's CRM contact only
            reason="litigation hold",
            actor="tester",
            hash_key=hash_key(),
        )
    result = run_purge(resources, purge_config(**NO_BREAKER))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    warehouse, store = resources["warehouse"], resources["object_store"]

    for call in seeded["old"] + seeded["other"]:
        for record_type, path in call.object_paths.items():
            assert not store.exists(path), record_type
    for call in seeded["fresh"] + [seeded["held"]]:
        for path in call.object_paths.values():
            assert store.exists(path)
    assert_nothing_orphaned(warehouse, store)

    calls = rows(warehouse, call_tables.calls).set_index("call_id")
    assert calls["deleted_at"].isna().all()  # call logs are kept 730 days
    transcripts = rows(warehouse, call_tables.transcripts).set_index("call_id")
    purged_transcript = transcripts.loc[seeded["old"][0].call_id]
    assert pd.notna(purged_transcript["deleted_at"])
    assert purged_transcript["text"] == "" and purged_transcript["segments"] == []
    links = rows(warehouse, call_tables.crm_links)
    purged_links = links.loc[links["deleted_at"].notna()]
    assert len(purged_links) == 4
    assert purged_links["contact_email"].isna().all()

    proof_meta = materialization(result, "retention_proof_of_deletion")
    proof = json.loads(store.read_bytes(proof_meta["proof_path"]))
    assert proof_meta["proof_path"].startswith("audit/retention/proofs/")
    assert (
        hashlib.sha256(store.read_bytes(proof_meta["proof_path"])).hexdigest()
        == proof_meta["proof_sha256"]
    )
    tombstones = rows(warehouse, retention_tombstones)
    assert proof["totals"]["purged"] == len(tombstones) == 4 * 5 + 2 * 4
    assert proof["totals"]["objects_deleted"] == 6 * 4
    assert proof["totals"]["objects_verified_absent"] == 6 * 4
    assert proof["by_tenant"]["acme-au"]["crm_links"]["purged"] == 4
    assert proof["by_tenant"]["beta-us"]["recordings"] == {"purged": 2, "objects_deleted": 2}
    assert proof["tombstones_sha256"] == artefacts_digest(tombstones)
    assert sum(proof["policy_versions"].values()) == len(tombstones)
    assert set(proof["policy_versions"]) == {
        "acme-au/recordings/v1",
        "acme-au/crm_links/v1",
        "beta-us/recordings/v1",
    }
    assert proof["run_ids"] == [result.run_id]
    # The proof names only ids, counts and hashes.
    text = json.dumps(proof)
    assert "@example.com" not in text and "+6149157" not in text and "Jo" not in text
    # Tombstones carry no personal data: ids, types, hashes, versions.
    assert set(tombstones.columns) == {
        "tombstone_id",
        "tenant_id",
        "record_type",
        "artefact_id",
        "object_sha256",
        "deleted_at",
        "policy_version",
        "plan_id",
        "run_id",
    }
    held_states = {c.call_id for c in [seeded["held"]]}
    assert not set(tombstones["artefact_id"]) & held_states

    chain = read_chain_of(resources)
    assert verify_chain(chain).ok
    actions = [entry["action"] for entry in chain]
    for action in ("legal_hold.added", "retention.purge_planned", "retention.purge_completed"):
        assert action in actions
    completed = [e for e in chain if e["action"] == "retention.purge_completed"][0]
    assert completed["object_refs"]["proof_sha256"] == proof_meta["proof_sha256"]

    # Released, the hold no longer keeps the call: the next purge takes it.
    with warehouse.begin() as connection:
        release_hold(connection, hold_id, reason="matter closed", actor="tester")
    again = run_purge(resources, purge_config(**NO_BREAKER))
    assert again.success
    for path in seeded["held"].object_paths.values():
        assert not store.exists(path)
    # its lineage, and the day's CRM links file now that none of its links is left
    assert materialization(again, "retention_proof_of_deletion")["purged"] == 5 + 1
    last = rows(warehouse, retention_tombstones).sort_values("tombstone_id").iloc[-1]
    assert last["record_type"] == "crm_link_files"
    assert last["artefact_id"] == landing.crm_links_file(
        "acme-au", seeded["held"].call_date.isoformat()
    )


@pytest.mark.parametrize("scope", ["call", "phone", "email"])
def test_each_hold_scope_keeps_the_whole_lineage(resources, world, scope):
    target = world.add_call("acme-au", 50, crm_email="jo@example.com", crm_phone="+61491578888")
    bystander = world.add_call("acme-au", 50)
    values = {
        "call": {"call_id": target.call_id},
        "phone": {"phone": "0491 578 888"},  # national form, normalised with the tenant country
        "email": {"email": "JO@example.com"},
    }[scope]
    with resources["warehouse"].begin() as connection:
        add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            reason="hold",
            actor="tester",
            hash_key=hash_key(),
            **values,
        )
    assert run_purge(resources, purge_config(**NO_BREAKER)).success
    store = resources["object_store"]
    assert all(store.exists(path) for path in target.object_paths.values())
    assert not any(store.exists(path) for path in bystander.object_paths.values())
    links = rows(resources["warehouse"], call_tables.crm_links)
    assert links["deleted_at"].isna().all()


def test_a_dated_hold_keeps_only_calls_in_its_window(resources, world):
    inside = world.add_call("acme-au", 50, src="+61491577777")
    outside = world.add_call("acme-au", 80, src="+61491577777")
    with resources["warehouse"].begin() as connection:
        add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            phone="+61491577777",
            from_date=today() - timedelta(days=60),
            to_date=today() - timedelta(days=40),
            reason="window",
            actor="tester",
            hash_key=hash_key(),
        )
    assert run_purge(resources, purge_config(**NO_BREAKER)).success
    store = resources["object_store"]
    assert store.exists(inside.object_paths["recordings"])
    assert not store.exists(outside.object_paths["recordings"])


def test_the_circuit_breaker_refuses_then_an_audited_override_proceeds(resources, world):
    seeded = seed_mixed(world)
    refused = run_purge(resources, purge_config())
    assert not refused.success
    evaluation = [
        e for e in refused.get_asset_check_evaluations() if e.check_name == "retention_purge_guard"
    ][0]
    assert not evaluation.passed
    assert evaluation.metadata["breaker_tripped"].value is True
    # Nothing was executed: every object is still there.
    assert all(store_has(resources, call) for call in seeded["old"])
    plans = rows(resources["warehouse"], purge_plans)
    assert list(plans["status"]) == ["refused"]
    shares = evaluation.metadata["tenant_shares"].value
    assert shares["acme-au"] > 0.2 and shares["beta-us"] > 0.2
    # the run's failure message says why, in one line (not a raw check-failed error)
    assert_one_line_reason(refused, "refused", "breaker: ", "acme-au")

    reason = "first purge after onboarding a year of backlog (ticket OPS-7)"
    # an override without a second person's approval is refused before anything is planned
    unapproved = run_purge(resources, purge_config(override_reason=reason, override_by="ops-lead"))
    assert not unapproved.success
    assert_one_line_reason(unapproved, "override refused")
    assert all(store_has(resources, call) for call in seeded["old"])
    approval_id = approve_override(resources, reason, requested_by="ops-lead", approver="omar")
    approved = run_purge(
        resources,
        purge_config(override_reason=reason, override_by="ops-lead", override_approval=approval_id),
    )
    assert approved.success
    # the approval is used once: a second run under it is refused
    again = run_purge(
        resources,
        purge_config(override_reason=reason, override_by="ops-lead", override_approval=approval_id),
    )
    assert not again.success
    assert not any(store_has(resources, call) for call in seeded["old"])
    plans = rows(resources["warehouse"], purge_plans).set_index("status")
    assert plans.loc["completed", "override_reason"] == reason
    assert plans.loc["completed", "override_by"] == "ops-lead"
    chain = read_chain_of(resources)
    overrides = [e for e in chain if e["action"] == "retention.breaker_overridden"]
    assert len(overrides) == 1
    assert overrides[0]["actor"] == "operator:ops-lead"
    assert overrides[0]["details"]["reason_sha256"] == hashlib.sha256(reason.encode()).hexdigest()
    assert reason not in json.dumps([e["details"] for e in chain], default=str)
    assert any(e["action"] == "retention.purge_refused" for e in chain)
    proof = json.loads(resources["object_store"].read_bytes(plans.loc["completed", "proof_path"]))
    assert proof["override"]["used"] is True


def approve_override(resources, reason: str, *, requested_by: str, approver: str) -> str:
    """A breaker override asked for by one person and approved by a privacy officer."""
    from cm_pipelines.access.approvals import decide
    from cm_pipelines.retention.override_approvals import ask_for_override

    identities = resources["platform_config"].identities()
    limits = {"max_tenant_share": 0.2, "max_plan_items": 250_000}
    with resources["warehouse"].begin() as connection:
        approval = ask_for_override(connection, None, reason, requested_by, limits)
        decide(connection, approval["approval_id"], identities[approver], approve=True)
    return approval["approval_id"]


def test_the_absolute_ceiling_trips_the_breaker(resources, world):
    seed_mixed(world)
    result = run_purge(resources, purge_config(max_tenant_share=1.0, max_plan_items=5))
    assert not result.success
    evaluation = result.get_asset_check_evaluations()[0]
    assert "ceiling 5" in evaluation.metadata["breaker_reasons"].value[0]
    assert_one_line_reason(result, "refused", "ceiling 5")


def store_has(resources, call) -> bool:
    return all(resources["object_store"].exists(p) for p in call.object_paths.values())


class Killed(RuntimeError):
    """Stands in for the process being killed mid-purge."""


def _end_state(resources) -> tuple:
    warehouse, store = resources["warehouse"], resources["object_store"]
    tombstones = rows(warehouse, retention_tombstones)
    return (
        sorted(live_state(warehouse, store).items()),
        sorted(zip(tombstones["record_type"], tombstones["artefact_id"], strict=True)),
    )


def _dying(kill_point: str, at_call: int = 3):
    real = object_purge.purge_objects
    calls = {"count": 0}

    def dying_purge(store, paths, **kwargs):
        calls["count"] += 1
        if calls["count"] == at_call:
            if kill_point == "after_deleting_objects":
                real(store, paths, **kwargs)
            raise Killed("process killed")
        return real(store, paths, **kwargs)

    return dying_purge


KILL_CONFIG = purge_config(**NO_BREAKER, object_batch_size=3, row_batch_size=2)


@pytest.mark.parametrize("kill_point", ["before_deleting", "after_deleting_objects"])
def test_a_killed_purge_resumes_the_same_plan_to_the_same_end_state(
    resources, world, monkeypatch, tmp_path, kill_point
):
    seeded = seed_mixed(world)
    real = object_purge.purge_objects
    monkeypatch.setattr(object_purge, "purge_objects", _dying(kill_point))
    first = run_purge(resources, KILL_CONFIG)
    assert not first.success
    plan_id = materialization(first, "retention_purge_plan")["plan_id"]
    items = rows(resources["warehouse"], purge_plan_items)
    assert 0 < (items["status"] == "purged").sum() < len(items)
    assert rows(resources["warehouse"], purge_plans)["status"].tolist() == ["executing"]
    if kill_point == "after_deleting_objects":
        # Killed between deleting a batch's objects and marking its rows: live rows without
        # their objects, until the resume marks them.
        state = live_state(resources["warehouse"], resources["object_store"])
        assert any(row_live and not present for row_live, present in state.values())

    monkeypatch.setattr(object_purge, "purge_objects", real)
    second = run_purge(resources, KILL_CONFIG)
    assert second.success
    resumed = materialization(second, "retention_purge_plan")
    assert resumed["plan_id"] == plan_id and resumed["resumed"] is True
    assert_nothing_orphaned(resources["warehouse"], resources["object_store"])

    items = rows(resources["warehouse"], purge_plan_items)
    assert set(items["status"]) == {"purged"}
    tombstones = rows(resources["warehouse"], retention_tombstones)
    assert len(tombstones) == len(items)
    assert not tombstones.duplicated(["tenant_id", "record_type", "artefact_id"]).any()
    # Nothing outside the plan was deleted.
    planned = set(zip(items["record_type"], items["artefact_id"], strict=True))
    assert set(zip(tombstones["record_type"], tombstones["artefact_id"], strict=True)) == planned
    for call in seeded["fresh"]:
        assert store_has(resources, call)
    proof_path = materialization(second, "retention_proof_of_deletion")["proof_path"]
    proof = json.loads(resources["object_store"].read_bytes(proof_path))
    assert proof["totals"]["purged"] == len(tombstones)
    assert proof["tombstones_sha256"] == artefacts_digest(tombstones)
    assert set(proof["run_ids"]) == {first.run_id, second.run_id}

    # The same world purged without interruption ends in the same state.
    (tmp_path / "reference").mkdir()
    reference_resources = {
        **resources,
        "warehouse": WarehouseResource(url=f"sqlite:///{tmp_path / 'reference.db'}"),
        "object_store": ObjectStoreResource(url=f"file://{tmp_path / 'reference'}"),
    }
    reference_resources["warehouse"].upgrade()
    seed_mixed(World(reference_resources["warehouse"], reference_resources["object_store"]))
    assert run_purge(reference_resources, KILL_CONFIG).success
    assert _end_state(resources) == _end_state(reference_resources)


def test_a_hold_placed_while_a_purge_is_down_withdraws_its_pending_items(
    resources, world, monkeypatch
):
    seeded = seed_mixed(world)
    real = object_purge.purge_objects
    monkeypatch.setattr(object_purge, "purge_objects", _dying("before_deleting"))
    assert not run_purge(resources, KILL_CONFIG).success
    items = rows(resources["warehouse"], purge_plan_items)
    late = seeded["old"][-1]
    late_pending = items.loc[(items["status"] == "pending") & (items["call_id"] == late.call_id)]
    assert len(late_pending) > 0
    # the day's CRM links file was planned too (all its links were due); held with its link now
    crm_file = items.loc[items["record_type"] == "crm_link_files"]
    assert crm_file["status"].tolist() == ["pending"]
    late_pending = pd.concat([late_pending, crm_file])
    with resources["warehouse"].begin() as connection:
        add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            call_id=late.call_id,
            reason="late hold",
            actor="tester",
            hash_key=hash_key(),
        )
    monkeypatch.setattr(object_purge, "purge_objects", real)
    second = run_purge(resources, KILL_CONFIG)
    assert second.success
    assert materialization(second, "retention_purge_plan")["withdrawn"] == {
        "now_held": len(late_pending)
    }
    for path in late_pending["object_path"].dropna():
        assert resources["object_store"].exists(path)
    items = rows(resources["warehouse"], purge_plan_items)
    assert (items["status"] == "withdrawn").sum() == len(late_pending)
    assert set(items["status"]) == {"purged", "withdrawn"}
    assert_nothing_orphaned(resources["warehouse"], resources["object_store"])
    proof_path = materialization(second, "retention_proof_of_deletion")["proof_path"]
    proof = json.loads(resources["object_store"].read_bytes(proof_path))
    assert proof["totals"]["withdrawn"] == len(late_pending)


@contextlib.contextmanager
def undeletable(path: Path):
    """Make one file refuse deletion: immutable as root, a read-only folder otherwise."""
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        folder = path.parent
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)


def test_an_object_that_refuses_deletion_is_reported_its_row_kept_and_the_run_fails(
    resources, world, local_store
):
    seeded = seed_mixed(world)
    stuck = seeded["old"][0]
    stuck_path = Path(local_store.full_path(stuck.object_paths["recordings"]))
    with undeletable(stuck_path):
        result = run_purge(resources, purge_config(**NO_BREAKER))
        assert not result.success
        failure = [e for e in result.all_events if e.is_step_failure][0]
        assert "refused deletion" in failure.event_specific_data.error.message
        assert stuck_path.exists()
        recordings = rows(resources["warehouse"], call_tables.recordings).set_index("call_id")
        assert pd.isna(recordings.loc[stuck.call_id, "deleted_at"])  # row kept live
        items = rows(resources["warehouse"], purge_plan_items)
        failed = items.loc[items["status"] == "failed"]
        assert failed["artefact_id"].tolist() == [stuck.call_id]
        assert failed["detail"].iloc[0] in ("permission_denied", "os_eperm", "os_eacces")
        # Everything else was purged, and the proof says what was and was not deleted.
        plan = rows(resources["warehouse"], purge_plans).iloc[0]
        assert plan["status"] == "completed_with_failures"
        proof = json.loads(resources["object_store"].read_bytes(plan["proof_path"]))
        assert proof["totals"]["failed"] == 1
        assert proof["totals"]["purged"] == len(items) - 1
        assert_nothing_orphaned(resources["warehouse"], resources["object_store"])
    # Once the store lets go, the next nightly run plans it again and finishes.
    again = run_purge(resources, purge_config(**NO_BREAKER))
    assert again.success
    assert not stuck_path.exists()
    assert materialization(again, "retention_proof_of_deletion")["purged"] == 1


def test_wash_results_and_blocked_calls_are_purged_and_phone_holds_keep_them(resources, world):
    key = hash_key()
    old_wash = world.add_wash_result("acme-au", 150, "+61491571111", key)
    held_wash = world.add_wash_result("acme-au", 150, "+61491572222", key)
    held_block = world.add_blocked_call("acme-au", 150, "+61491572222", key)
    fresh_block = world.add_blocked_call("acme-au", 10, "+61491573333", key)
    with resources["warehouse"].begin() as connection:
        add_hold(
            connection,
            tenant_by_id(resources, "acme-au"),
            phone="+61491572222",
            reason="complaint",
            actor="tester",
            hash_key=key,
        )
    assert run_purge(resources, purge_config(**NO_BREAKER)).success
    wash = rows(resources["warehouse"], dncr_tables.wash_results).set_index("id")
    assert pd.notna(wash.loc[old_wash, "deleted_at"])
    assert pd.isna(wash.loc[old_wash, "e164"]) and wash.loc[old_wash, "e164_hash"] == ""
    assert pd.isna(wash.loc[held_wash, "deleted_at"])
    blocked = rows(resources["warehouse"], dncr_tables.blocked_calls).set_index("id")
    assert pd.isna(blocked.loc[held_block, "deleted_at"])  # matched through the keyed hash
    assert pd.isna(blocked.loc[fresh_block, "deleted_at"])


def test_closed_dsar_case_files_are_purged_after_their_retention(resources, world, local_store):
    from cm_pipelines.tables import dsar as dsar_tables

    closed = datetime.now(UTC) - timedelta(days=1200)
    certificate_path = "audit/dsar/certificates/dsar-00000000000000000001.json"
    local_store.write_bytes(certificate_path, b'{"request": "dsar-00000000000000000001"}')
    base = {
        "tenant_id": "acme-au",
        "request_type": "erasure",
        "jurisdiction": "au",
        "identifiers": [{"kind": "email", "value": "jo@example.com"}],
        "identifier_hashes": ["hk1:abc"],
        "received_at": closed,
        "received_on": closed.date(),
        "due_date": closed.date(),
        "submitted_by": "dpo",
        "created_at": closed,
        "updated_at": closed,
        "completed_at": closed,
    }
    with resources["warehouse"].begin() as connection:
        connection.execute(
            sa.insert(dsar_tables.dsar_requests),
            [
                {**base, "request_id": "dsar-00000000000000000001", "state": "completed"},
                {**base, "request_id": "dsar-00000000000000000002", "state": "in_progress"},
            ],
        )
        connection.execute(
            sa.insert(dsar_tables.dsar_certificates).values(
                request_id="dsar-00000000000000000001",
                tenant_id="acme-au",
                object_path=certificate_path,
                sha256="0" * 64,
                body={"subject_hash": "hk1:abc"},
                created_at=closed,
            )
        )
    assert run_purge(resources, purge_config(**NO_BREAKER)).success
    requests = rows(resources["warehouse"], dsar_tables.dsar_requests).set_index("request_id")
    assert requests.loc["dsar-00000000000000000001", "identifiers"] == []
    assert requests.loc["dsar-00000000000000000002", "identifiers"] != []  # open cases stay
    assert not local_store.exists(certificate_path)
    tombstones = rows(resources["warehouse"], retention_tombstones)
    assert tombstones["artefact_id"].tolist() == ["request:dsar-00000000000000000001"]
    # Purged once; the next run finds nothing to do.
    again = run_purge(resources, purge_config(**NO_BREAKER))
    assert materialization(again, "retention_purge_plan")["items"] == 0


def test_hold_and_retention_commands(
    resources, world, monkeypatch, tenants_path, sqlite_warehouse, local_store
):
    from cm_pipelines.cli.main import cm

    monkeypatch.setenv("CM_WAREHOUSE_URL", sqlite_warehouse.resolved_url())
    monkeypatch.setenv("CM_STORAGE_URL", local_store.root_url())
    monkeypatch.setenv("CM_TENANTS_FILE", str(tenants_path))
    seed_mixed(world)
    runner = CliRunner()

    added = runner.invoke(
        cm,
        ["hold", "add", "--tenant", "acme-au", "--phone", "+61491579999", "--reason", "matter 9",
         "--actor", "priya"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    hold_id = added.output.strip()
    listed = runner.invoke(cm, ["hold", "list"])
    assert hold_id in listed.output and "+61491579999" not in listed.output
    assert "+61******999" in listed.output
    bad = runner.invoke(
        cm,
        [
            "hold",
            "add",
            "--tenant",
            "acme-au",
            "--phone",
            "12",
            "--email",
            "a@b.co",
            "--reason",
            "x",
            "--actor",
            "priya",
        ],
    )
    assert bad.exit_code != 0 and "exactly one" in bad.output
    unknown = runner.invoke(
        cm,
        ["hold", "add", "--tenant", "nope", "--call", "1.1", "--reason", "x", "--actor", "priya"],
    )
    assert unknown.exit_code != 0 and "unknown tenant" in unknown.output

    planned = runner.invoke(cm, ["retention", "plan", "--json"])
    assert planned.exit_code == 0, planned.output
    report = json.loads(planned.output)
    assert report["would_purge"] == 4 * 5 + 2 * 4
    assert report["breaker"]["would_trip"] is True
    assert report["held_past_expiry"] == {
        "acme-au/recordings": 1,
        "acme-au/transcripts": 1,
        "acme-au/ai_summaries": 2,
        "acme-au/crm_links": 1,
        "acme-au/crm_link_files": 1,  # its links are due; it holds the held call's line
    }
    human = runner.invoke(cm, ["retention", "plan", "--tenant", "beta-us"])
    assert "beta-us" in human.output and "WOULD REFUSE" in human.output
    assert rows(sqlite_warehouse, purge_plans).empty  # a dry run writes nothing

    purged = runner.invoke(
        cm,
        [
            "retention",
            "purge",
            "--tenant",
            "beta-us",
            "--override-reason",
            "backlog",
            "--actor",
            "dana",
        ],
    )
    assert purged.exit_code == 0, purged.output
    assert "waits for approval" in purged.output and "purged" not in purged.output
    approval_id = purged.output.split("approval ")[1].split(":")[0]
    assert rows(sqlite_warehouse, purge_plans).empty  # nothing ran before the second person
    own = runner.invoke(cm, ["approve", approval_id, "--by", "dana"])
    assert own.exit_code != 0 and "a second, different person" in own.output
    purged = runner.invoke(cm, ["approve", approval_id, "--by", "priya"])
    assert purged.exit_code == 0, purged.output
    assert "purged 8 artefact(s)" in purged.output
    run_id = next(line for line in purged.output.splitlines() if line.startswith("run "))
    run_id = run_id.split()[1].rstrip(":")
    run = get_instance().get_run_by_id(run_id)
    assert run is not None and run.tags["cm/exclusive_tenant"] == "beta-us"
    # While another run holds an acme-au plan, a purge of acme-au refuses and says why.
    _plan(resources, "acme-au", "run-elsewhere")
    busy = runner.invoke(cm, ["retention", "purge", "--tenant", "acme-au", "--actor", "dana"])
    assert busy.exit_code != 0
    assert "plan step refused: purge plan purge-" in busy.output, busy.output
    assert "is being worked on by run run-elsewhere" in busy.output
    asked = runner.invoke(
        cm, ["hold", "release", hold_id, "--reason", "closed", "--actor", "priya"]
    )
    assert asked.exit_code == 0, asked.output
    release_id = asked.output.split("approval ")[1].split(":")[0]
    assert "+61******999" in runner.invoke(cm, ["hold", "list"]).output  # still held
    released = runner.invoke(cm, ["approve", release_id, "--by", "omar"])
    assert released.exit_code == 0, released.output
    assert f"released {hold_id}" in released.output
    again = runner.invoke(
        cm, ["hold", "release", hold_id, "--reason", "closed", "--actor", "priya"]
    )
    assert again.exit_code != 0 and "already released" in again.output
    policies = runner.invoke(cm, ["retention", "policies", "--tenant", "acme-au"])
    assert "acme-au/recordings/v1" in policies.output


# --- landing files and quarantined lines -----------------------------------------------------


def ingest(resources: dict, day: str) -> dict:
    """The CDR and CRM ingestion assets of one day (their checks are tested elsewhere)."""
    from cm_pipelines.ingestion import assets as call_assets

    result = dg.materialize(
        [call_assets.call_records, call_assets.crm_links],
        resources=resources,
        partition_key=day,
        raise_on_error=False,
    )
    assert result.success
    return {name: materialization(result, name) for name in ("call_records", "crm_links")}


def rows_of(warehouse, table, tenant_id: str, day) -> list[dict]:
    with warehouse.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                sa.select(table)
                .where(table.c.tenant_id == tenant_id, table.c.partition_date == day)
                .order_by(*table.primary_key.columns)
            ).mappings()
        ]


def test_landing_files_and_quarantined_lines_go_with_their_rows_and_reingesting_is_a_no_op(
    resources, tenants_path
):
    resources["platform_config"] = write_tenants(tenants_path, call_logs=60)
    warehouse, store = resources["warehouse"], resources["object_store"]
    old = today() - timedelta(days=100)
    day = old.isoformat()
    started = datetime.combine(old, datetime.min.time()) + timedelta(hours=9)
    acme_cdr, acme_crm = landing.cdr_file("acme-au", day), landing.crm_links_file("acme-au", day)
    beta_cdr = landing.cdr_file("beta-us", day)
    store.write_bytes(
        acme_cdr,
        "\n".join(
            [
                cdr_line("acme-au", "1750000000.1", "+61491570101", "+61299990000", started),
                cdr_line("acme-au", "1750000000.2", "+61491570102", "+61299990000", started),
                '"acme-au","+61491570103","only","five","fields"',  # quarantined, raw kept
            ]
        ).encode()
        + b"\n",
    )
    store.write_bytes(
        acme_crm,
        f"{CRM_HEADER}\n1750000000.1,hubspot,contact/1,+61491570101,jo@example.com\n"
        "1750000000.2,hubspot,contact/2,not-a-number,\n".encode(),
    )
    store.write_bytes(
        beta_cdr,
        (cdr_line("beta-us", "1750000000.9", "+12125550147", "1001", started) + "\n").encode(),
    )
    ingest(resources, day)
    quarantine_t = call_tables.quarantine
    with warehouse.connect() as connection:
        raw = connection.execute(
            sa.select(quarantine_t.c.asset, quarantine_t.c.raw_record).where(
                quarantine_t.c.tenant_id == "acme-au"
            )
        ).all()
    assert sorted(asset for asset, record in raw if record) == ["call_records", "crm_links"]

    result = run_purge(resources, purge_config(**NO_BREAKER))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    # Every row of the acme files is purged, so the files went too; beta's calls are kept.
    assert not store.exists(acme_cdr) and not store.exists(acme_crm)
    assert store.exists(beta_cdr)
    with warehouse.connect() as connection:
        lines = connection.execute(
            sa.select(quarantine_t.c.raw_record, quarantine_t.c.purged_at).where(
                quarantine_t.c.tenant_id == "acme-au"
            )
        ).all()
    assert len(lines) == 2 and all(r is None and at is not None for r, at in lines)
    tombstones = rows(warehouse, retention_tombstones).set_index(["record_type", "artefact_id"])
    assert tombstones.loc[("cdr_files", acme_cdr), "policy_version"] == "acme-au/call_logs/v1"
    # the CRM file went when its last line did: the quarantined one (call_logs, 60 days)
    assert tombstones.loc[("crm_link_files", acme_crm), "policy_version"] == "acme-au/call_logs/v1"
    assert (tombstones.reset_index()["record_type"] == "quarantine_records").sum() == 2
    items = rows(warehouse, purge_plan_items)
    order = items.sort_values("item_no")["record_type"].tolist()
    assert order.index("cdr_files") > max(i for i, t in enumerate(order) if t == "call_logs")
    proof_path = materialization(result, "retention_proof_of_deletion")["proof_path"]
    proof = json.loads(store.read_bytes(proof_path))
    assert proof["by_tenant"]["acme-au"]["cdr_files"] == {"purged": 1, "objects_deleted": 1}
    assert proof["by_tenant"]["acme-au"]["crm_link_files"] == {"purged": 1, "objects_deleted": 1}
    assert proof["by_tenant"]["acme-au"]["quarantine_records"] == {"purged": 2}
    assert "+6149157" not in json.dumps(proof) and "Master.csv" not in json.dumps(proof)

    # Re-ingesting the day changes nothing: the acme files are gone, their rows stay purged.
    calls_before = rows_of(warehouse, call_tables.calls, "acme-au", old)
    links_before = rows_of(warehouse, call_tables.crm_links, "acme-au", old)
    assert len(calls_before) == 2 and all(c["deleted_at"] is not None for c in calls_before)
    again = ingest(resources, day)
    assert again["call_records"]["files_read"] == 1  # beta's
    assert again["crm_links"]["files_read"] == 0
    assert rows_of(warehouse, call_tables.calls, "acme-au", old) == calls_before
    assert rows_of(warehouse, call_tables.crm_links, "acme-au", old) == links_before
    with warehouse.connect() as connection:
        kept_raw = connection.execute(
            sa.select(sa.func.count())
            .select_from(quarantine_t)
            .where(quarantine_t.c.tenant_id == "acme-au", quarantine_t.c.raw_record.is_not(None))
        ).scalar_one()
    assert kept_raw == 0
    # The next purge finds nothing more to take.
    assert (
        materialization(run_purge(resources, purge_config(**NO_BREAKER)), "retention_purge_plan")[
            "items"
        ]
        == 0
    )


def test_quarantined_consent_and_campaign_lines_age_out_with_the_call_logs_policy(
    resources, tenants_path
):
    resources["platform_config"] = write_tenants(tenants_path, call_logs=60)
    warehouse = resources["warehouse"]
    quarantine_t = call_tables.quarantine
    now = datetime.now(UTC)
    lines = [  # (asset, days since quarantined, raw line)
        ("dncr_consents", 100, "+61491570111,express,2025-01-01"),
        ("dncr_wash", 100, "+61491570112"),
        ("dncr_consents", 10, "+61491570113,express,2026-01-01"),
    ]
    with warehouse.begin() as connection:
        connection.execute(
            sa.insert(quarantine_t),
            [
                {
                    "asset": asset,
                    "partition_key": "acme-au",
                    "tenant_id": "acme-au",
                    "source_file": f"landing/consents/acme-au/{asset}.csv",
                    "source_line": line_no,
                    "reason_code": "invalid_phone",
                    "detail": "a phone number could not be read",
                    "raw_record": raw,
                    "run_id": "seeded",
                    "created_at": now - timedelta(days=age),
                }
                for line_no, (asset, age, raw) in enumerate(lines, start=2)
            ],
        )
    result = run_purge(resources, purge_config(**NO_BREAKER))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    with warehouse.connect() as connection:
        after = connection.execute(
            sa.select(
                quarantine_t.c.source_line, quarantine_t.c.raw_record, quarantine_t.c.purged_at
            )
            .where(quarantine_t.c.tenant_id == "acme-au")
            .order_by(quarantine_t.c.source_line)
        ).all()
    # the two lines older than 60 days are wiped and marked; the recent one keeps its raw line
    assert [(line, raw is None, at is not None) for line, raw, at in after] == [
        (2, True, True),
        (3, True, True),
        (4, False, False),
    ]
    proof_path = materialization(result, "retention_proof_of_deletion")["proof_path"]
    proof = json.loads(resources["object_store"].read_bytes(proof_path))
    assert proof["by_tenant"]["acme-au"]["quarantine_records"] == {"purged": 2}
    assert "+6149157" not in json.dumps(proof)


def test_a_missing_landing_file_never_wipes_live_rows(resources):
    fresh = today() - timedelta(days=5)
    day = fresh.isoformat()
    started = datetime.combine(fresh, datetime.min.time()) + timedelta(hours=9)
    store, warehouse = resources["object_store"], resources["warehouse"]
    path = landing.cdr_file("acme-au", day)
    store.write_bytes(
        path, (cdr_line("acme-au", "1760000000.1", "+61491570111", "1001", started) + "\n").encode()
    )
    store.write_bytes(
        landing.crm_links_file("acme-au", day),
        f"{CRM_HEADER}\n1760000000.1,hubspot,contact/7,,jo@example.com\n".encode(),
    )
    ingest(resources, day)
    store.delete([path, landing.crm_links_file("acme-au", day)])  # gone, not by retention
    ingest(resources, day)
    calls = rows_of(warehouse, call_tables.calls, "acme-au", fresh)
    links = rows_of(warehouse, call_tables.crm_links, "acme-au", fresh)
    assert [c["call_id"] for c in calls] == ["1760000000.1"] and calls[0]["deleted_at"] is None
    assert len(links) == 1 and links[0]["deleted_at"] is None


def test_a_landing_file_whose_lines_were_all_erased_goes_while_its_rows_stay(resources, world):
    from cm_pipelines.dsar.fulfil.erase_source_lines import blank_lines
    from cm_pipelines.tables import dsar as dsar_tables

    bare = {"recording": False, "transcript": False, "ai_kinds": ()}
    alone = world.add_call("acme-au", 100, **bare)
    shared = world.add_call("acme-au", 101, **bare)
    partner = world.add_call("acme-au", 101, **bare)
    store, warehouse = resources["object_store"], resources["warehouse"]
    # A DSAR erased two calls: rows pseudonymised and kept, their landing lines blanked.
    for call in (alone, shared):
        with warehouse.begin() as connection:
            connection.execute(
                sa.update(call_tables.calls)
                .where(call_tables.calls.c.call_id == call.call_id)
                .values(erased_at=datetime.now(UTC), src_e164=None, caller_name=None)
            )
        blanked, count = blank_lines(
            store.read_bytes(call.cdr_file), [call.cdr_line], multiline_csv=False
        )
        assert count == 1
        store.write_bytes(call.cdr_file, blanked)
    # A CRM link erasure deletes the link row outright and blanks its line: only the DSAR's
    # record of the blanked line still points at the file.
    linked = world.add_call("acme-au", 102, crm_email="jo@example.com", **bare)
    assert linked.crm_file is not None
    with warehouse.begin() as connection:
        connection.execute(
            sa.delete(call_tables.crm_links).where(
                call_tables.crm_links.c.call_id == linked.call_id
            )
        )
        connection.execute(
            sa.insert(dsar_tables.dsar_plan_items).values(
                request_id="dsar-00000000000000000009",
                store="crm_source_lines",
                item_ref=f"{linked.crm_file}#2",
                tenant_id="acme-au",
                action="blank_line",
                details={},
                executed_at=datetime.now(UTC),
            )
        )
    store.write_bytes(
        linked.crm_file, blank_lines(store.read_bytes(linked.crm_file), [2], multiline_csv=True)[0]
    )
    result = run_purge(resources, purge_config(**NO_BREAKER))
    assert result.success
    assert not store.exists(alone.cdr_file)  # nothing of anyone left in it
    assert store.exists(partner.cdr_file)  # still holds the partner's live call
    assert not store.exists(linked.crm_file)
    assert store.exists(linked.cdr_file)  # the linked call itself is not erased
    tombstones = rows(warehouse, retention_tombstones).sort_values("record_type")
    assert tombstones[["record_type", "artefact_id", "policy_version"]].values.tolist() == [
        ["cdr_files", alone.cdr_file, "acme-au/call_logs/v1"],
        ["crm_link_files", linked.crm_file, "acme-au/crm_links/v1"],
    ]
    calls = rows(warehouse, call_tables.calls).set_index("call_id")
    assert calls["deleted_at"].isna().all()  # the rows follow their own policy (730 days)


# --- scopes and concurrent runs (engine level; PostgreSQL: tests/integration) ----------------


def _plan(resources, tenant_id, run_id, claims=None):
    return prepare_plan(
        resources["warehouse"],
        resources["object_store"],
        resources["platform_config"].tenants(),
        PurgeSettings(tenant_id=tenant_id, limits=BreakerLimits(max_tenant_share=1.0)),
        run_id=run_id,
        hash_key=hash_key(),
        claims=claims,
    )


def test_overlapping_purges_refuse_while_one_holds_its_plan_and_other_tenants_go_ahead(
    resources, world
):
    seeded = seed_mixed(world)
    warehouse, store = resources["warehouse"], resources["object_store"]
    first = _plan(resources, "acme-au", "run-a")
    with pytest.raises(PurgeBusy, match="run-a"):
        _plan(resources, "acme-au", "run-b")
    with pytest.raises(PurgeBusy, match="run-a"):
        _plan(resources, None, "run-all")  # every tenant overlaps acme-au
    beta = engine_purge(resources, "beta-us", "run-c")  # another tenant goes side by side
    assert beta["status"] == "completed" and beta["items"] == 2 * 4
    assert guard_plan(warehouse, first.plan_id, hash_key=hash_key(), run_id="run-a").passed
    with pytest.raises(PurgeBusy, match="run-a"):
        execute_plan(warehouse, store, first.plan_id, run_id="run-b", hash_key=hash_key())
    execute_plan(warehouse, store, first.plan_id, run_id="run-a", hash_key=hash_key())
    assert prove_plan(warehouse, store, first.plan_id, run_id="run-a").status == "completed"
    # The same tenant again, now that run-a is done: nothing is left to take.
    assert engine_purge(resources, "acme-au", "run-b")["items"] == 0
    plans = rows(warehouse, purge_plans)
    assert set(plans["status"]) == {"completed"} and plans["claimed_by_run"].isna().all()
    assert len(plans) == 3  # the refused attempts stored nothing
    for call in seeded["old"] + seeded["other"]:
        assert not store_has(resources, call)
    assert_nothing_orphaned(warehouse, store)


def test_a_started_tenant_plan_blocks_an_all_tenants_purge_until_it_is_finished(
    resources, world, monkeypatch
):
    seed_mixed(world)
    real = object_purge.purge_objects
    monkeypatch.setattr(object_purge, "purge_objects", _dying("before_deleting", at_call=1))
    with pytest.raises(Killed):
        engine_purge(resources, "acme-au", "run-a")
    monkeypatch.setattr(object_purge, "purge_objects", real)
    killed = rows(resources["warehouse"], purge_plans).iloc[0]
    assert killed["status"] == "executing" and pd.isna(killed["claimed_by_run"])
    with pytest.raises(PurgeRefused, match="cm retention purge --tenant acme-au") as refused:
        _plan(resources, None, "run-all")
    assert not isinstance(refused.value, PurgeBusy)
    assert engine_purge(resources, "beta-us", "run-b")["status"] == "completed"
    resumed = engine_purge(resources, "acme-au", "run-c")
    assert resumed["resumed"] and resumed["plan_id"] == killed["plan_id"]
    assert engine_purge(resources, None, "run-all")["items"] == 0
    assert "executing" not in set(rows(resources["warehouse"], purge_plans)["status"])


def test_a_claim_lapses_with_its_run_and_a_run_that_lost_it_stops_before_its_next_batch(
    resources, world, monkeypatch
):
    seed_mixed(world)
    warehouse, store = resources["warehouse"], resources["object_store"]
    key = hash_key()
    first = _plan(resources, "acme-au", "run-a")  # then run-a dies without a word
    with pytest.raises(PurgeBusy):
        _plan(resources, "acme-au", "run-b")
    # The instance knows run-a has finished: its claim lapses at once.
    taken = _plan(
        resources, "acme-au", "run-b", ClaimPolicy(holder_finished={"run-a"}.__contains__)
    )
    assert taken.resumed and taken.plan_id == first.plan_id
    with pytest.raises(PurgeBusy, match="run-b"):
        guard_plan(warehouse, first.plan_id, hash_key=key, run_id="run-a")
    assert guard_plan(warehouse, first.plan_id, hash_key=key, run_id="run-b").passed

    # run-b stalls in its first batch long enough for its claim to lapse; run-c takes over.
    real = object_purge.purge_objects
    stalled = {"count": 0}

    def stalling(store_, paths, **kwargs):
        stalled["count"] += 1
        if stalled["count"] == 1:
            lapsed = ClaimPolicy(ttl=timedelta(0))
            guard_plan(warehouse, first.plan_id, hash_key=key, run_id="run-c", claims=lapsed)
        return real(store_, paths, **kwargs)

    monkeypatch.setattr(object_purge, "purge_objects", stalling)
    with pytest.raises(PurgeBusy, match="no longer holds"):
        execute_plan(warehouse, store, first.plan_id, run_id="run-b", hash_key=key)
    monkeypatch.setattr(object_purge, "purge_objects", real)
    items = rows(warehouse, purge_plan_items)
    assert set(items.loc[items["status"] == "purged", "done_run_id"]) == {"run-b"}
    assert (items["status"] == "pending").any()  # run-b stopped after its one batch
    assert rows(warehouse, purge_plans).iloc[0]["claimed_by_run"] == "run-c"
    execute_plan(warehouse, store, first.plan_id, run_id="run-c", hash_key=key)
    assert prove_plan(warehouse, store, first.plan_id, run_id="run-c").status == "completed"
    tombstones = rows(warehouse, retention_tombstones)
    assert not tombstones.duplicated(["tenant_id", "record_type", "artefact_id"]).any()
    assert set(rows(warehouse, purge_plan_items)["status"]) == {"purged"}
    assert_nothing_orphaned(warehouse, store)


def test_the_nightly_schedule_requests_one_exclusive_run_per_tenant(resources):
    from cm_pipelines.platform.run_tags import EXCLUSIVE_TENANT_TAG
    from cm_pipelines.retention.schedules import retention_purge_schedule

    scheduled = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
    job = retention_defs(resources).resolve_job_def("retention_purge_job")
    # the project's instance (persistent, under this test's DAGSTER_HOME): a schedule context
    # needs one (entered as a context manager it would leave its state storage behind)
    instance = get_instance()

    def evaluate() -> list:
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=scheduled,
            resources={"platform_config": resources["platform_config"]},
        ) as context:
            data = retention_purge_schedule.evaluate_tick(context)
        return list(data.run_requests or [])

    requests = evaluate()
    assert [r.tags[EXCLUSIVE_TENANT_TAG] for r in requests] == ["acme-au", "beta-us"]
    assert [r.run_key for r in requests] == ["acme-au:2026-11-28", "beta-us:2026-11-28"]
    assert requests[0].run_config == purge_config(tenant="acme-au")
    # a tenant whose purge is still running is skipped; an all-tenants run skips everyone
    instance.create_run_for_job(
        job, tags={EXCLUSIVE_TENANT_TAG: "acme-au"}, status=dg.DagsterRunStatus.STARTED
    )
    assert [r.tags[EXCLUSIVE_TENANT_TAG] for r in evaluate()] == ["beta-us"]
    instance.create_run_for_job(
        job, tags={EXCLUSIVE_TENANT_TAG: "*"}, status=dg.DagsterRunStatus.STARTING
    )
    assert evaluate() == []
