"""``cm audit verify`` and ``cm audit tail`` against the project-local warehouse and store."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.cli.main import cm
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.trust.chain import record_anchor, verify_warehouse_chain


@pytest.fixture
def project_warehouse() -> WarehouseResource:
    """The warehouse ``cm`` itself uses: the default under this test's CM_HOME."""
    warehouse = WarehouseResource()
    warehouse.upgrade()
    with warehouse.begin() as connection:
        for index in range(5):
            append_audit(
                connection,
                actor="cli:test",
                action="dsar.step",
                tenant_id="beta-us" if index % 2 else "acme-au",
                object_refs={"request_id": f"dsar-{index}"},
                details={"index": index},
            )
    return warehouse


def _verify(*arguments: str):
    return CliRunner().invoke(cm, ["audit", "verify", *arguments])


def test_verify_reports_an_intact_chain(project_warehouse: WarehouseResource) -> None:
    result = _verify()
    assert result.exit_code == 0, result.output
    assert "audit chain intact: 5 entries, head 5" in result.output
    document = json.loads(_verify("--json").output)
    assert document["ok"] is True and document["head_seq"] == 5 and document["problem"] is None


def test_verify_names_the_tampered_entry_and_exits_1(project_warehouse: WarehouseResource) -> None:
    with project_warehouse.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        connection.execute(
            sa.update(audit_log).where(audit_log.c.seq == 3).values(details={"index": 99})
        )
    result = _verify("--json")
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert (document["ok"], document["first_bad_seq"], document["problem"]) == (
        False,
        3,
        "altered",
    )
    human = _verify()
    assert human.exit_code == 1 and "broken at entry 3: altered" in human.output


def test_verify_uses_the_anchors_unless_told_not_to(project_warehouse: WarehouseResource) -> None:
    store = ObjectStoreResource()
    with project_warehouse.connect() as connection:
        record_anchor(store, verify_warehouse_chain(connection))
    with project_warehouse.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq == 5))
    result = _verify("--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["problem"] == "removed"
    assert _verify("--no-anchors").exit_code == 0


def test_verify_on_an_uninitialised_warehouse_says_what_to_do() -> None:
    result = _verify()
    assert result.exit_code == 1 and "cm init" in result.output


def test_tail_shows_the_newest_entries_of_one_tenant(project_warehouse: WarehouseResource) -> None:
    result = CliRunner().invoke(
        cm, ["audit", "tail", "--tenant", "beta-us", "--limit", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [row["seq"] for row in rows] == [2, 4]
    assert {row["tenant_id"] for row in rows} == {"beta-us"}


@pytest.mark.parametrize("tenant", ["../acme-au", "acme-au' OR '1'='1", "x" * 65, "acme\x00au"])
def test_tail_refuses_a_hostile_tenant_id(
    project_warehouse: WarehouseResource, tenant: str
) -> None:
    result = CliRunner().invoke(cm, ["audit", "tail", "--tenant", tenant])
    assert result.exit_code == 2
    assert "--tenant" in result.output and tenant not in result.output
