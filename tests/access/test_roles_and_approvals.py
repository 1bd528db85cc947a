"""Roles and four eyes: who may do what, who may approve, and approvals that are asked for
once, decided by a different person, used once and audited at every step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.access.approvals import (
    ApprovalError,
    approved,
    complete,
    decide,
    request_approval,
)
from cm_pipelines.domain.operations.roles import (
    BREAKER_OVERRIDE,
    HOLD_RELEASE,
    AccessRefused,
    identity_named,
    parse_roles,
    require,
    require_approver,
)
from cm_pipelines.domain.tenants import ConfigError
from cm_pipelines.resources import PlatformConfigResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.operations import operation_approvals
from cm_pipelines.trust.chain import verify_warehouse_chain

IDENTITIES = parse_roles(
    {
        "identities": [
            {"name": "priya", "roles": ["privacy_officer"]},
            {"name": "omar", "roles": ["privacy_officer", "auditor"]},
            {"name": "dana", "roles": ["data_engineer"]},
            {"name": "sam", "roles": ["support"]},
            {"name": "avery", "roles": ["auditor"]},
        ]
    }
)


def test_the_shipped_roles_file_is_valid_and_names_every_role() -> None:
    identities = PlatformConfigResource().identities()
    roles = {role for identity in identities.values() for role in identity.roles}
    assert roles == {"privacy_officer", "data_engineer", "support", "auditor"}


@pytest.mark.parametrize(
    "document,problem",
    [
        ({}, "needs a list under `identities`"),
        ({"identities": [{"name": "x", "roles": ["admin"]}]}, "unknown admin"),
        ({"identities": [{"name": "Bad Name", "roles": ["auditor"]}]}, "lowercase"),
        ({"identities": [{"name": "x", "roles": []}]}, "non-empty list"),
        (
            {
                "identities": [
                    {"name": "x", "roles": ["auditor"]},
                    {"name": "x", "roles": ["support"]},
                ]
            },
            "listed twice",
        ),
    ],
)
def test_a_bad_roles_file_is_refused_with_what_to_fix(document, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_roles(document)


def test_each_role_does_only_what_it_may() -> None:
    require(IDENTITIES["priya"], "hold.release")
    require(IDENTITIES["sam"], "dsar.verify")
    require(IDENTITIES["dana"], "retention.override")
    require(IDENTITIES["dana"], "jobs.launch")
    for name, action in [
        ("sam", "dsar.run"),
        ("sam", "hold.add"),
        ("dana", "dsar.run"),
        ("dana", "hold.release"),
        ("avery", "dsar.submit"),
        ("avery", "retention.purge"),
        ("priya", "jobs.launch"),
    ]:
        with pytest.raises(AccessRefused, match="may not"):
            require(IDENTITIES[name], action)


def test_an_unlisted_name_is_refused_and_a_hostile_one_is_not_echoed() -> None:
    with pytest.raises(AccessRefused, match="'root' is not an identity in roles.yaml"):
        identity_named(IDENTITIES, "root", "roles.yaml")
    with pytest.raises(AccessRefused) as caught:
        identity_named(IDENTITIES, "x'; DROP TABLE x; --", "roles.yaml")
    assert "DROP" not in str(caught.value)
    assert identity_named(IDENTITIES, "cli:Priya", "roles.yaml").name == "priya"


def test_four_eyes_needs_a_different_person_with_an_approving_role() -> None:
    with pytest.raises(AccessRefused, match="second, different person"):
        require_approver(HOLD_RELEASE, ["cli:priya"], IDENTITIES["priya"])
    with pytest.raises(AccessRefused, match="second, different person"):  # the verifier
        require_approver("erasure", ["cli:dana", "omar"], IDENTITIES["omar"])
    with pytest.raises(AccessRefused, match="needs a privacy officer"):
        require_approver(BREAKER_OVERRIDE, ["cli:priya"], IDENTITIES["dana"])
    require_approver(BREAKER_OVERRIDE, ["cli:dana"], IDENTITIES["priya"])


def _ask(connection, target: str = "hold-1", by: str = "cli:priya") -> dict:
    return request_approval(
        connection,
        action=HOLD_RELEASE,
        target=target,
        tenant_id="acme-au",
        reason="matter closed (ticket 12)",
        requested_by=by,
        details={"scope": "phone"},
    )


def test_an_approval_is_asked_once_decided_by_another_and_used_once(sqlite_warehouse) -> None:
    with sqlite_warehouse.begin() as connection:
        first = _ask(connection)
        assert _ask(connection)["approval_id"] == first["approval_id"]  # asked twice: one
        with pytest.raises(ApprovalError, match="pending: a second person approves it first"):
            approved(connection, first["approval_id"], HOLD_RELEASE, "hold-1")
        with pytest.raises(AccessRefused):
            decide(connection, first["approval_id"], IDENTITIES["priya"], approve=True)
        decided = decide(connection, first["approval_id"], IDENTITIES["omar"], approve=True)
        assert decided["state"] == "approved" and decided["decided_by"] == "cli:omar"
        with pytest.raises(ApprovalError, match="not hold_release of hold-2"):
            approved(connection, first["approval_id"], HOLD_RELEASE, "hold-2")
        complete(connection, first["approval_id"], run_id="run-1")
        with pytest.raises(ApprovalError, match="is completed"):
            approved(connection, first["approval_id"], HOLD_RELEASE, "hold-1")
        with pytest.raises(ApprovalError, match="not pending"):
            decide(connection, first["approval_id"], IDENTITIES["omar"], approve=True)
        # a new request for the same target is a new approval once the first was used
        assert _ask(connection)["approval_id"] != first["approval_id"]
    with sqlite_warehouse.connect() as connection:
        entries = connection.execute(sa.select(audit_log)).mappings().all()
        assert verify_warehouse_chain(connection).ok
    actions = [(e["action"], e["actor"]) for e in entries]
    assert actions[:3] == [
        ("approval.requested", "cli:priya"),
        ("approval.granted", "cli:omar"),
        ("approval.completed", "cli:omar"),
    ]
    assert "matter closed" not in str([dict(e) for e in entries])  # the reason only hashed


def test_an_unanswered_approval_lapses_after_a_week(sqlite_warehouse) -> None:
    with sqlite_warehouse.begin() as connection:
        asked = _ask(connection)
        connection.execute(
            sa.update(operation_approvals).values(
                requested_at=datetime.now(UTC) - timedelta(days=8)
            )
        )
        with pytest.raises(ApprovalError, match="lapsed unanswered"):
            decide(connection, asked["approval_id"], IDENTITIES["omar"], approve=True)
        assert _ask(connection)["approval_id"] != asked["approval_id"]


def test_a_rejection_needs_a_reason_and_unlocks_nothing(sqlite_warehouse) -> None:
    with sqlite_warehouse.begin() as connection:
        asked = _ask(connection)
        with pytest.raises(ApprovalError, match="say why"):
            decide(connection, asked["approval_id"], IDENTITIES["omar"], approve=False)
        decide(connection, asked["approval_id"], IDENTITIES["omar"], approve=False, reason="no")
        with pytest.raises(ApprovalError, match="is rejected"):
            approved(connection, asked["approval_id"], HOLD_RELEASE, "hold-1")


@pytest.fixture
def cli_project(tmp_path: Path, monkeypatch):
    from cm_pipelines.resources import WarehouseResource

    WarehouseResource().upgrade()
    return CliRunner()


def test_commands_act_as_a_listed_identity_allowed_to_act(cli_project, tmp_path, monkeypatch):
    from cm_pipelines.cli.main import cm

    hold = ["hold", "add", "--tenant", "acme-au", "--call", "1.1", "--reason", "matter 1"]
    hold.append("--allow-unknown")  # the project holds no calls: a hold on one still to arrive
    unnamed = cli_project.invoke(cm, [*hold, "--actor", "root"])
    assert unnamed.exit_code != 0 and "'root' is not an identity in " in unnamed.output
    assert "config/roles.yaml" in unnamed.output
    support = cli_project.invoke(cm, [*hold, "--actor", "sam"])
    assert support.exit_code != 0 and "sam (support) may not hold.add" in support.output
    placed = cli_project.invoke(cm, [*hold, "--actor", "priya"])
    assert placed.exit_code == 0, placed.output
    hold_id = placed.output.strip()

    # a deployment's own roles file
    custom = tmp_path / "team.yaml"
    custom.write_text("identities:\n  - name: lee\n    roles: [privacy_officer]\n")
    monkeypatch.setenv("CM_ROLES_FILE", str(custom))
    asked = cli_project.invoke(
        cm, ["hold", "release", hold_id, "--reason", "closed", "--actor", "lee"]
    )
    assert asked.exit_code == 0, asked.output
    approval_id = asked.output.split("approval ")[1].split(":")[0]
    alone = cli_project.invoke(cm, ["approve", approval_id, "--by", "lee"])
    assert alone.exit_code != 0 and "second, different person" in alone.output
    listed = cli_project.invoke(cm, ["approvals"])
    assert approval_id in listed.output and "pending" in listed.output
    monkeypatch.delenv("CM_ROLES_FILE")
    rejected = cli_project.invoke(cm, ["reject", approval_id, "--by", "omar", "--reason", "open"])
    assert rejected.exit_code == 0, rejected.output
    assert cli_project.invoke(cm, ["approvals"]).output.strip() == "no approvals waiting"
    listed = cli_project.invoke(cm, ["hold", "list"])
    assert hold_id in listed.output and "released" not in listed.output
