"""Alembic environment: the URL comes from the config the warehouse resource builds."""

from __future__ import annotations

from alembic import context

from cm_pipelines.resources.warehouse import engine_for
from cm_pipelines.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = engine_for(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported: run `cm init` against a database")
run_migrations_online()
