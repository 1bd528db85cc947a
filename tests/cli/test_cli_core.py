"""`cm init` and `cm generate` on the embedded default (everything under a temporary CM_HOME)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cm_pipelines.cli.main import cm
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource
from cm_pipelines.resources.warehouse import head_revision


def test_init_migrates_loads_tenants_and_is_repeatable(tmp_path) -> None:
    runner = CliRunner()
    first = runner.invoke(cm, ["init"])
    assert first.exit_code == 0, first.output
    assert f"warehouse_revision: {head_revision()}" in first.output
    assert "tenants: 4" in first.output
    again = runner.invoke(cm, ["init"])
    assert again.exit_code == 0, again.output
    assert WarehouseResource().current_revision() == head_revision()


def test_init_refuses_a_bad_tenants_file_with_the_path_of_the_value(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "tenants.yaml"
    bad.write_text(
        "tenants:\n  - {id: acme-au, name: A, country: ZZ, timezone: UTC, retention_days: {recordings: -3}}\n"
    )
    monkeypatch.setenv("CM_TENANTS_FILE", str(bad))
    result = CliRunner().invoke(cm, ["init"])
    assert result.exit_code != 0
    assert "tenants.yaml.tenants[0].country" in result.output
    assert "tenants.yaml.tenants[0].retention_days.recordings" in result.output


def test_generate_writes_a_deterministic_landing_zone() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cm,
        ["generate", "--seed", "5", "--calls", "60", "--tenants", "2", "--start-day", "2026-10-01"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert sum(summary["calls_by_tenant"].values()) == 60
    assert set(summary["calls_by_tenant"]) == {"acme-au", "beta-us"}
    store = ObjectStoreResource()
    first = {item.path: store.read_bytes(item.path) for item in store.list_files("landing")}
    again = runner.invoke(
        cm,
        ["generate", "--seed", "5", "--calls", "60", "--tenants", "2", "--start-day", "2026-10-01"],
    )
    assert again.exit_code == 0
    assert {item.path: store.read_bytes(item.path) for item in store.list_files("landing")} == first
    assert any(path.endswith("Master.csv") for path in first)


def test_generate_refuses_more_tenants_than_configured() -> None:
    result = CliRunner().invoke(cm, ["generate", "--calls", "10", "--tenants", "9"])
    assert result.exit_code != 0 and "--tenants must be between 1 and 4" in result.output
