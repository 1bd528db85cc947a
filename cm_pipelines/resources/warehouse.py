"""The warehouse: a SQLAlchemy engine from ``CM_WAREHOUSE_URL`` (default: a project-local SQLite file).

Runs never create or alter tables: ``cm init`` applies the Alembic migrations, and every writing
step calls ``assert_schema_current`` first so a stale database fails loudly instead of half-writing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import Field

from cm_pipelines.platform import settings

MIGRATIONS_DIR = settings.PACKAGE_DIR / "migrations"
_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


class SchemaNotCurrentError(RuntimeError):
    """The warehouse is not at the migration head; ``cm init`` upgrades it."""


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL + busy timeout + immediate write transactions: one writer at a time, readers unblocked."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def engine_for(url: str) -> sa.Engine:
    """One engine per URL per process: pools are expensive and must be shared."""
    url = settings.normalise_database_url(url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                database = sa.engine.make_url(url).database
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                engine = sa.create_engine(url, connect_args={"timeout": 30})
                _configure_sqlite(engine)
            else:
                engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            _ENGINES[url] = engine
        return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", settings.normalise_database_url(url).replace("%", "%%")
    )
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


class WarehouseResource(dg.ConfigurableResource):
    """The relational warehouse. ``url`` empty means ``CM_WAREHOUSE_URL`` or the embedded default."""

    url: str = Field(default="", description="SQLAlchemy URL; empty reads CM_WAREHOUSE_URL.")

    def resolved_url(self) -> str:
        return settings.normalise_database_url(self.url) if self.url else settings.warehouse_url()

    def get_engine(self) -> sa.Engine:
        return engine_for(self.resolved_url())

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.get_engine().begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self.get_engine().connect() as connection:
            yield connection

    @property
    def dialect(self) -> str:
        return self.get_engine().dialect.name

    def current_revision(self) -> str | None:
        with self.get_engine().connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def assert_schema_current(self) -> None:
        current = self.current_revision()
        head = head_revision()
        if current != head:
            raise SchemaNotCurrentError(
                f"warehouse schema is at revision {current or 'none'}, expected {head}: run `cm init`"
            )

    def upgrade(self) -> str:
        """Apply every pending migration; returns the revision now current."""
        command.upgrade(alembic_config(self.resolved_url()), "head")
        return head_revision()
