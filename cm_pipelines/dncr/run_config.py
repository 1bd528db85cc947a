"""How a do-not-call run is asked for: the refresh and wash run configs, and the run requests
the schedule and the source sensor send. The jobs' config classes live here, so that whoever
launches a run (schedule, sensor, ``cm``, the demo) never imports the asset module."""

# No ``from __future__ import annotations``: Dagster reads these config classes from the asset
# signatures at definition time.
from typing import Any

import dagster as dg
from pydantic import Field

from cm_pipelines.dncr.registry_store import RegistrySource
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource

SNAPSHOT_OP = "dncr_registry_snapshot"
AREA_CODE_FILES_OP = "dncr_registry_area_code_files"
PARSE_AREA_CODE_FILE_OP = "dncr_registry_parse_area_code_file"
BUILD_SNAPSHOT_OP = "dncr_registry_build_snapshot"


class RegistryRefreshConfig(dg.Config):
    """Which registries to refresh. Empty ``registry_ids`` means every configured registry."""

    registry_ids: list[str] = Field(
        default_factory=list, description="Registries to refresh (empty: all configured)."
    )
    source_day: str = Field(
        default="",
        description="Build from this day's full download or change list (YYYY-MM-DD) instead "
        "of the newest; the blocking checks still decide whether it may become active.",
    )
    as_of: str = Field(
        default="", description="ISO instant to treat as now (backfills, tests); empty: now."
    )


class WashConfig(dg.Config):
    """Which tenants to wash. Empty ``tenant_ids`` means every configured tenant."""

    tenant_ids: list[str] = Field(
        default_factory=list, description="Tenants whose campaign lists to wash (empty: all)."
    )
    washed_at: str = Field(
        default="", description="ISO instant to wash at (backfills, tests); empty: now."
    )


def refresh_run_config(
    registry_ids: list[str] | None = None, *, source_day: str = "", as_of: str = ""
) -> dict[str, Any]:
    """Run config launching ``dncr_registry_refresh_job`` for some registries."""
    config = {"registry_ids": list(registry_ids or []), "source_day": source_day, "as_of": as_of}
    return {"ops": {SNAPSHOT_OP: {"config": config}}}


def wash_run_config(tenant_ids: list[str] | None = None, *, washed_at: str = "") -> dict[str, Any]:
    """Run config launching ``dncr_wash_job`` for some tenants."""
    return {
        "ops": {
            "dncr_wash": {"config": {"tenant_ids": list(tenant_ids or []), "washed_at": washed_at}}
        }
    }


def refresh_run_requests(
    platform_config: PlatformConfigResource, run_key_suffix: str
) -> list[dg.RunRequest]:
    """One refresh run per configured registry, so one bad file only holds back its registry."""
    return [
        dg.RunRequest(
            run_key=f"{registry.id}:{run_key_suffix}",
            run_config=refresh_run_config([registry.id]),
            tags={"cm/registry": registry.id},
        )
        for registry in platform_config.registries()
    ]


def source_fingerprints(
    platform_config: PlatformConfigResource, object_store: ObjectStoreResource
) -> dict[str, str]:
    """Per registry, a fingerprint of its landed files (changes when a file lands)."""
    return {
        registry.id: RegistrySource(registry, object_store).fingerprint()
        for registry in platform_config.registries()
    }
