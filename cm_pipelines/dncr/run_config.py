"""How a do-not-call run is asked for: the refresh and wash run configs, the run requests the
schedule and the source sensor send, and reading a run's config back (its instant, registries
and tenants). The jobs' config classes live here, so that whoever launches a run (schedule,
sensor, ``cm``, the demo) never imports the asset module."""

# No ``from __future__ import annotations``: Dagster reads these config classes from the asset
# signatures at definition time.
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from cm_pipelines.dncr.refresh.registry_sources import RegistrySource
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.tenants import Tenant
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


def config_instant(value: str, what: str) -> datetime:
    """A config's ISO instant (naive: UTC); empty means now."""
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise dg.Failure(
            description=f"{what} must be an ISO date-time, e.g. 2026-11-28T09:00:00+00:00"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def selected_registries(
    platform_config: PlatformConfigResource, registry_ids: list[str]
) -> list[Registry]:
    """The registries a refresh names (none named: every configured one); an unknown id fails."""
    registries = platform_config.registries()
    if not registry_ids:
        return registries
    by_id = {registry.id: registry for registry in registries}
    unknown = sorted(set(registry_ids) - set(by_id))
    if unknown:
        raise dg.Failure(
            description=f"unknown registry id(s) {unknown}: configured are {sorted(by_id)}"
        )
    return [by_id[registry_id] for registry_id in registry_ids]


def selected_tenants(
    platform_config: PlatformConfigResource, tenant_ids: list[str]
) -> list[Tenant]:
    """The tenants a wash names (none named: every configured one, by id); an unknown id fails."""
    tenants = platform_config.tenants_by_id()
    unknown = sorted(set(tenant_ids) - set(tenants))
    if unknown:
        raise dg.Failure(
            description=f"unknown tenant id(s) {unknown}: configured are {sorted(tenants)}"
        )
    return [tenants[t] for t in (tenant_ids or sorted(tenants))]
