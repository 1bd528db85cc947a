"""Shared fixtures: temporary SQLite + folder platforms, the real PostgreSQL, a loopback S3 server.

Tests that need PostgreSQL use the local server for real; under ``CI=true`` a missing server is a
failure, not a skip. S3 behaviour is tested against moto's server on loopback, as s3fs's own
tests do.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource, WarehouseResource

PG_ADMIN_URL = os.environ.get(
    "CM_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


TEST_IDENTIFIER_HASH_KEY = "5a" * 32


@pytest.fixture(scope="session", autouse=True)
def _one_identifier_hash_key() -> Iterator[None]:
    """One identifier hash key for the whole session, as a deployment has one: data ingested by
    a module-scoped template (before any per-test CM_HOME exists) is hashed with the key its
    tests look it up with (the identifier index is keyed). Tests may still set their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CM_IDENTIFIER_HASH_KEY", TEST_IDENTIFIER_HASH_KEY)
        yield


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own CM_HOME so nothing leaks into the developer's project folder."""
    home = tmp_path / "cm_home"
    monkeypatch.setenv("CM_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    for name in ("CM_WAREHOUSE_URL", "CM_STORAGE_URL", "CM_TENANTS_FILE", "CM_REGISTRIES_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_warehouse(tmp_path: Path) -> WarehouseResource:
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'warehouse.db'}")
    warehouse.upgrade()
    return warehouse


@pytest.fixture
def local_store(tmp_path: Path) -> ObjectStoreResource:
    root = tmp_path / "store"
    root.mkdir()
    return ObjectStoreResource(url=f"file://{root}")


@pytest.fixture
def platform_config() -> PlatformConfigResource:
    return PlatformConfigResource()


@pytest.fixture
def local_resources(
    sqlite_warehouse: WarehouseResource,
    local_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dict[str, object]:
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": platform_config,
    }


def _postgres_or_fail() -> sa.Engine:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        message = "PostgreSQL is not reachable at 127.0.0.1:5432"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: integration tests must not skip)")
        pytest.skip(message)
    return engine


def _fresh_postgres_database() -> Iterator[str]:
    """A fresh, empty database on the local PostgreSQL server, dropped afterwards."""
    admin = _postgres_or_fail()
    name = f"cm_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from cm_pipelines.resources import warehouse as warehouse_module

        engine = warehouse_module._ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
                ),
                {"name": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the local PostgreSQL server, dropped afterwards."""
    yield from _fresh_postgres_database()


@pytest.fixture
def postgres_warehouse(postgres_url: str) -> WarehouseResource:
    warehouse = WarehouseResource(url=postgres_url)
    warehouse.upgrade()
    return warehouse


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol server on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_bucket(endpoint: str, *, versioned: bool = False) -> str:
    import boto3

    name = f"cm-test-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def s3_store(s3_endpoint: str) -> ObjectStoreResource:
    bucket = make_bucket(s3_endpoint)
    return ObjectStoreResource(url=f"s3://{bucket}/cm", s3_endpoint_url=s3_endpoint)


@pytest.fixture
def s3_versioned_store(s3_endpoint: str) -> ObjectStoreResource:
    bucket = make_bucket(s3_endpoint, versioned=True)
    return ObjectStoreResource(url=f"s3://{bucket}/cm", s3_endpoint_url=s3_endpoint)


@pytest.fixture
def second_postgres_url() -> Iterator[str]:
    """Another fresh database, e.g. for Dagster's own storage beside the warehouse."""
    yield from _fresh_postgres_database()
