"""Resources: the only way assets touch the warehouse, the object store and configuration."""

from __future__ import annotations

from typing import Any

from cm_pipelines.resources.alerts import AlertDeliveryResource
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.io_storage import ObjectStoreIOManager, io_manager_resources
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


def default_resources() -> dict[str, Any]:
    """Resources for every environment: each reads its URL from the environment when run.
    ``CM_IO_STORAGE=object_store`` adds an ``io_manager`` keeping step outputs in the same
    object store (``io_storage``); otherwise Dagster's default IO manager stays."""
    object_store = ObjectStoreResource()
    return {
        "warehouse": WarehouseResource(),
        "object_store": object_store,
        "platform_config": PlatformConfigResource(),
        "alerts": AlertDeliveryResource(),
        **io_manager_resources(object_store),
    }


__all__ = [
    "AlertDeliveryResource",
    "ObjectStoreIOManager",
    "ObjectStoreResource",
    "PlatformConfigResource",
    "WarehouseResource",
    "default_resources",
]
