"""An erasure above the threshold waits for a second person, inside the job: whoever launched
it (CLI, sensor, launchpad), nothing is erased until a privacy officer other than the
requester and the verifier approves."""

from __future__ import annotations

import pytest

from cm_pipelines.access.approvals import ApprovalError, decide
from cm_pipelines.domain.operations.roles import PRIVACY_OFFICER, AccessRefused, Identity
from cm_pipelines.resources import PlatformConfigResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.dsar import dsar_plan_items, dsar_requests
from cm_pipelines.tables.operations import operation_approvals
from tests.dsar.dsar_helpers import build_template, copy_platform, rows, run, subject, submit


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("erasure_approval_template"), calls=60)


@pytest.fixture
def resources(template, tmp_path):
    database, storage, _ = template
    return copy_platform(database, storage, tmp_path / "platform")


def _decide(resources, approval_id: str, identity: Identity, approve: bool = True) -> None:
    with resources["warehouse"].begin() as connection:
        decide(connection, approval_id, identity, approve=approve, reason="checked the plan")


def test_an_erasure_above_the_threshold_waits_for_a_second_privacy_officer(
    resources, template, monkeypatch
) -> None:
    monkeypatch.setenv("CM_ERASURE_APPROVAL_THRESHOLD", "0")
    person = subject(template[2], "acme-au")
    request_id = submit(resources, "acme-au", "erasure", [("phone", person["e164"])])

    stopped = run(resources, request_id)
    assert not stopped.success
    [message] = [m for m in stopped.failure_messages() if "second privacy officer" in m]
    [approval] = rows(resources, operation_approvals)
    assert f"cm approve {approval['approval_id']} --by NAME (nothing was erased)" in message
    assert approval["state"] == "pending" and approval["target"] == request_id
    assert approval["requested_by"] == "dagster:launchpad"
    assert approval["details"]["verified_by"] == "tester"
    planned = approval["details"]["planned_removals"]
    assert planned > 0
    items = rows(resources, dsar_plan_items, request_id=request_id)
    assert items and all(item["executed_at"] is None for item in items)  # nothing erased

    # asking again (a re-run) does not pile up approvals
    assert not run(resources, request_id).success
    assert len(rows(resources, operation_approvals)) == 1

    identities = PlatformConfigResource().identities()
    verifier = Identity("tester", frozenset({PRIVACY_OFFICER}))
    for refused in (verifier, identities["dana"], identities["sam"]):
        with pytest.raises(AccessRefused):
            _decide(resources, approval["approval_id"], refused)
    _decide(resources, approval["approval_id"], identities["priya"])

    erased = run(resources, request_id)
    assert erased.success, erased.failure_messages()
    [request] = rows(resources, dsar_requests, request_id=request_id)
    assert request["state"] == "completed"
    [closed] = rows(resources, operation_approvals)
    assert closed["state"] == "completed" and closed["completed_run_id"] == erased.result.run_id
    actions = [entry["action"] for entry in rows(resources, audit_log)]
    assert actions.index("approval.requested") < actions.index("approval.granted")
    assert actions.index("approval.granted") < actions.index("approval.completed")
    granted = next(e for e in rows(resources, audit_log) if e["action"] == "approval.granted")
    assert granted["actor"] == "cli:priya"
    assert granted["details"]["requested_by"] == "dagster:launchpad"

    assert run(resources, request_id).success  # completed: a re-run is a no-op
    with pytest.raises(ApprovalError):  # and the approval is never used twice
        _decide(resources, approval["approval_id"], identities["omar"])


def test_a_small_erasure_needs_no_second_person(resources, template, monkeypatch) -> None:
    monkeypatch.setenv("CM_ERASURE_APPROVAL_THRESHOLD", "100000")
    person = subject(template[2], "acme-au")
    request_id = submit(resources, "acme-au", "erasure", [("phone", person["e164"])])
    assert run(resources, request_id).success
    assert rows(resources, operation_approvals) == []


def test_a_rejected_erasure_stays_stopped(resources, template, monkeypatch) -> None:
    monkeypatch.setenv("CM_ERASURE_APPROVAL_THRESHOLD", "0")
    person = subject(template[2], "beta-us")
    request_id = submit(resources, "beta-us", "erasure", [("phone", person["e164"])])
    assert not run(resources, request_id).success
    [approval] = rows(resources, operation_approvals)
    _decide(
        resources, approval["approval_id"], PlatformConfigResource().identities()["omar"], False
    )
    assert not run(resources, request_id).success  # a new approval is asked for, nothing erased
    states = sorted(a["state"] for a in rows(resources, operation_approvals))
    assert states == ["pending", "rejected"]
    items = rows(resources, dsar_plan_items, request_id=request_id)
    assert all(item["executed_at"] is None for item in items)
