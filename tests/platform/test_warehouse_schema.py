"""The Alembic migrations and the table metadata describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cm_pipelines.resources.warehouse import (
    SchemaNotCurrentError,
    WarehouseResource,
    head_revision,
)
from cm_pipelines.tables import metadata


def _drift(warehouse: WarehouseResource) -> list:
    with warehouse.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_migrations_match_table_metadata_on_sqlite(sqlite_warehouse: WarehouseResource) -> None:
    assert sqlite_warehouse.current_revision() == head_revision()
    assert _drift(sqlite_warehouse) == []


@pytest.mark.integration
def test_migrations_match_table_metadata_on_postgresql(
    postgres_warehouse: WarehouseResource,
) -> None:
    assert postgres_warehouse.current_revision() == head_revision()
    assert _drift(postgres_warehouse) == []


def test_a_stale_schema_is_refused_before_any_write(tmp_path) -> None:
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaNotCurrentError, match="cm init"):
        warehouse.assert_schema_current()
    warehouse.upgrade()
    warehouse.assert_schema_current()
