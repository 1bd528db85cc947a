"""The deploy/ files say what the code does: the Celery profile is the executor's own config, the
Kubernetes values point at this code location with the same queue limits as production."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from cm_pipelines.platform import executors, settings

DEPLOY = settings.project_root() / "deploy"


def _load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_celery_profile_is_the_executors_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("CM_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CM_CELERY_BACKEND_URL", "redis://127.0.0.1:6379/1")
    monkeypatch.delenv("CM_CELERY_KEY_PREFIX", raising=False)
    profile = _load("celery.yaml")["execution"]["config"]
    assert profile == executors.celery_executor_config()
    validated = get_validated_config(str(DEPLOY / "celery.yaml"))
    assert validated["broker"] == "redis://127.0.0.1:6379/0"
    assert validated["backend"] == "redis://127.0.0.1:6379/1"


def test_kubernetes_values_run_this_code_location_with_production_limits() -> None:
    values = _load("k8s/values.yaml")
    production = _load("dagster.production.yaml")
    module = tomllib.loads((settings.project_root() / "pyproject.toml").read_text())["tool"][
        "dagster"
    ]["module_name"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["CM_EXECUTOR"] == "k8s"
    assert env["CM_IO_STORAGE"] == "object_store"  # step pods share no DAGSTER_HOME
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    runs = production["concurrency"]["runs"]
    assert values["concurrency"]["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert (
        values["concurrency"]["pools"]["defaultLimit"]
        == (production["concurrency"]["pools"]["default_limit"])
    )


def _password_values(node: object) -> list[object]:
    found: list[object] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if "password" in str(key).lower() and not isinstance(value, bool):  # not flags
                found.append(value)
            found.extend(_password_values(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_password_values(item))
    return found


def test_no_deploy_file_holds_a_credential() -> None:
    """Passwords are named (an environment variable, a Kubernetes Secret), never written down."""
    checked = 0
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for value in _password_values(yaml.safe_load(path.read_text())):
            checked += 1
            assert isinstance(value, dict) and set(value) == {"env"}, path
    assert checked >= 2  # the PostgreSQL passwords of both PostgreSQL instance files
