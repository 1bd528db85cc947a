"""`cm hold add` holds what the tenant has: a call id, number or address it has no record of is
refused (a typo would hold nothing while the real call is purged), naming which option was
unknown and never echoing the value, unless --allow-unknown says the data is still to arrive."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.tables.retention import legal_holds
from tests.retention.retention_helpers import World, write_tenants

CRM_EMAIL = "kim.client@example.com"
WASHED_PHONE = "+61491578888"


@pytest.fixture
def project(sqlite_warehouse, local_store, tmp_path: Path, monkeypatch) -> dict:
    tenants = tmp_path / "tenants.yaml"
    write_tenants(tenants)
    monkeypatch.setenv("CM_WAREHOUSE_URL", sqlite_warehouse.resolved_url())
    monkeypatch.setenv("CM_STORAGE_URL", local_store.root_url())
    monkeypatch.setenv("CM_TENANTS_FILE", str(tenants))
    world = World(sqlite_warehouse, local_store)
    call = world.add_call("acme-au", 5, crm_email=CRM_EMAIL)
    world.add_call("beta-us", 5, crm_phone="+12125550147")
    other_tenant_call = world.add_call("beta-us", 5)
    world.add_wash_result("acme-au", 1, WASHED_PHONE, b"k" * 32)
    return {
        "warehouse": sqlite_warehouse,
        "call": call,
        "other_tenant_call": other_tenant_call,
        "phone": call.src_e164,
    }


def _hold(*target: str, allow_unknown: bool = False):
    from cm_pipelines.cli.main import cm

    args = ["hold", "add", "--tenant", "acme-au", *target, "--reason", "matter 3"]
    args += ["--actor", "priya"] + (["--allow-unknown"] if allow_unknown else [])
    return CliRunner().invoke(cm, args)


def _holds(warehouse) -> int:
    with warehouse.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(legal_holds)).scalar_one()


def test_a_call_number_or_address_the_tenant_has_is_held(project) -> None:
    for target in (
        ["--call", project["call"].call_id],
        ["--phone", project["phone"]],  # a caller of one of its calls
        ["--phone", WASHED_PHONE],  # a number it washed
        ["--email", CRM_EMAIL.upper()],  # a CRM contact, in any case
    ):
        added = _hold(*target)
        assert added.exit_code == 0, added.output
        assert added.output.strip().startswith("hold-")
    assert _holds(project["warehouse"]) == 4


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--call", "1700000000.999"),
        ("--phone", "+61491570199"),
        ("--email", "nobody.here@example.com"),
    ],
)
def test_an_unknown_target_is_refused_naming_the_option_not_the_value(
    project, option: str, value: str
) -> None:
    refused = _hold(option, value)
    assert refused.exit_code != 0
    assert f"{option}: tenant acme-au has no" in refused.output
    assert "--allow-unknown" in refused.output
    assert value not in refused.output and value[-6:] not in refused.output
    assert _holds(project["warehouse"]) == 0


def test_another_tenants_call_is_unknown_to_this_one(project) -> None:
    refused = _hold("--call", project["other_tenant_call"].call_id)
    assert refused.exit_code != 0 and "--call: tenant acme-au has no call" in refused.output


def test_allow_unknown_holds_data_still_to_arrive(project) -> None:
    for target in (["--call", "1700000000.999"], ["--email", "nobody.here@example.com"]):
        added = _hold(*target, allow_unknown=True)
        assert added.exit_code == 0, added.output
    assert _holds(project["warehouse"]) == 2


def test_a_malformed_value_still_gets_its_own_error(project) -> None:
    refused = _hold("--phone", "12")
    assert refused.exit_code != 0 and "not a valid number" in refused.output
