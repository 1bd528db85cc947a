"""A second `cm demo` does not layer a new world onto the first: it refuses unless --fresh,
and --fresh wipes only the embedded default (keeping the identifier hash key)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cm_pipelines.cli.demo import existing_world, wipe_embedded_world
from cm_pipelines.cli.main import cm
from cm_pipelines.platform import settings
from cm_pipelines.resources import ObjectStoreResource, WarehouseResource


def _landed_world() -> None:
    WarehouseResource().upgrade()
    ObjectStoreResource().write_bytes("landing/cdr/acme-au/2026-01-01/Master.csv", b"x\n")
    (settings.dagster_home() / "history").mkdir(parents=True)


def test_a_second_demo_is_refused_and_changes_nothing() -> None:
    assert not existing_world()
    _landed_world()
    assert existing_world()
    before = sorted(p.relative_to(settings.cm_home()) for p in settings.cm_home().rglob("*"))
    refused = CliRunner().invoke(cm, ["demo"])
    assert refused.exit_code != 0
    assert "a demo world already exists here" in refused.output
    assert "cm demo --fresh" in refused.output
    after = sorted(p.relative_to(settings.cm_home()) for p in settings.cm_home().rglob("*"))
    assert after == before


def test_fresh_wipes_warehouse_store_and_runs_but_keeps_the_hash_key() -> None:
    key = settings.identifier_hash_key()
    _landed_world()
    wipe_embedded_world()
    assert not existing_world()
    assert not (settings.cm_home() / "warehouse.db").exists()
    assert not settings.dagster_home().exists()
    assert settings.identifier_hash_key() == key


def test_fresh_refuses_to_wipe_a_deployment_elsewhere(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CM_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    _landed_world()
    with pytest.raises(Exception, match="--fresh only wipes the embedded default"):
        wipe_embedded_world()
    assert existing_world()
