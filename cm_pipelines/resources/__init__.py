"""Resources: the only way assets touch the warehouse, the object store and configuration."""

from __future__ import annotations

from typing import Any

from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource


def default_resources() -> dict[str, Any]:
    """Resources for every environment: each reads its URL from the environment when run."""
    return {
        "warehouse": WarehouseResource(),
        "object_store": ObjectStoreResource(),
        "platform_config": PlatformConfigResource(),
    }


__all__ = [
    "ObjectStoreResource",
    "PlatformConfigResource",
    "WarehouseResource",
    "default_resources",
]
