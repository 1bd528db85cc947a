"""Do-not-call registries in Dagster: guarded refresh of registry versions, and washing.

``dncr_registry_refresh_job`` builds the next version of each registry (a full download, change
lists applied to the active version, or newly returned wash results merged into it), records it
as a *candidate*, diffs it against the active version, runs the blocking checks of
``cm_pipelines.dncr.checks`` and only then promotes it. A failed check leaves the active
version in place, rejects the candidate (audited) and fails the run naming the check and why.

``dncr_wash_job`` ingests consents and washes every campaign list of each tenant against the
active versions, the tenant's suppression list and consents: every number gets a decision,
blocked ones become ``blocked_calls`` evidence (hashed number), allowed ones are exported per
campaign (minus DSAR-restricted numbers), and numbers a wash-only registry has no fresh result
for are exported as wash requests.

The work is done by the service modules beside this one; metadata carries counts, ids,
versions and hashes; never a number.
"""

# No ``from __future__ import annotations``: Dagster reads the config classes from the asset
# signatures at definition time and cannot resolve string annotations.
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from cm_pipelines.dncr.internal_list import ingest_opt_out_files
from cm_pipelines.dncr.refresh.parsed_files import write_part
from cm_pipelines.dncr.refresh.promotion import promote_run_candidates
from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.dncr.refresh.snapshot_builds import build_snapshots, files_to_parse
from cm_pipelines.dncr.refresh.version_diffs import record_run_changes
from cm_pipelines.dncr.run_config import (
    AREA_CODE_FILES_OP,
    BUILD_SNAPSHOT_OP,
    PARSE_AREA_CODE_FILE_OP,
    RegistryRefreshConfig,
    WashConfig,
    config_instant,
    selected_registries,
    selected_tenants,
)
from cm_pipelines.dncr.wash.campaign_washes import WashTotals
from cm_pipelines.dncr.wash.consent_ingestion import ingest_tenant_consents
from cm_pipelines.dncr.wash.tenant_washes import wash_tenant
from cm_pipelines.domain.dncr.evidence import Evidence
from cm_pipelines.domain.dsar.erased_subjects import REASON_PSEUDONYMISED
from cm_pipelines.platform import settings
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource

DNCR_GROUP = "dncr"

# --------------------------------------------------------------------------- registry snapshot


def _mapping_key(registry_id: str, index: int) -> str:
    safe = "".join(char if char.isalnum() else "_" for char in registry_id)
    return f"{safe}_{index:06d}"


@dg.op(name=AREA_CODE_FILES_OP, out=dg.DynamicOut(dict), tags={"cm/pii": "phone"})
def dncr_registry_area_code_files(
    context: dg.OpExecutionContext,
    config: RegistryRefreshConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """One output per landed file (a full download is one zip per area code, a change list one
    per area code and action) the next version of each downloadable registry is built from, so
    the parse steps can run on separate workers. Wash-only registries have nothing to split;
    with no output at all the merge step still runs, on an empty list."""
    warehouse.assert_schema_current()
    now = config_instant(config.as_of, "as_of")
    registries = selected_registries(platform_config, config.registry_ids)
    planned = 0
    for registry, item in files_to_parse(
        registries, warehouse, object_store, config.source_day, now
    ):
        described: dict[str, Any] = {"registry_id": registry.id, "path": item.path}
        described.update(role=item.role, day=item.day, size=item.size)
        yield dg.DynamicOutput(described, mapping_key=_mapping_key(registry.id, planned))
        planned += 1
    context.log.info(f"{planned} registry file(s) to parse")


@dg.op(name=PARSE_AREA_CODE_FILE_OP, tags={"cm/pii": "phone"})
def dncr_registry_parse_area_code_file(
    context: dg.OpExecutionContext,
    source_file: dict,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dict:
    """Parse one area-code file into a content-addressed part under the registry's prefix
    (sorted int64 numbers, parse counts, kept bad lines); an existing part is reused."""
    registries = {registry.id: registry for registry in platform_config.registries()}
    registry = registries[str(source_file["registry_id"])]
    item = SourceFile(
        str(source_file["path"]),
        str(source_file["role"]),
        source_file["day"],
        int(source_file["size"]),
    )
    location, reused = write_part(RegistrySource(registry, object_store), item)
    context.add_output_metadata({"registry_id": registry.id, "part": location, "reused": reused})
    return {"registry_id": registry.id, "path": item.path, "part_path": location}


@dg.op(name=BUILD_SNAPSHOT_OP, tags={"cm/pii": "phone"})
def dncr_registry_build_snapshot(
    context: dg.OpExecutionContext,
    config: RegistryRefreshConfig,
    parts: list,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """Merge the parts of each registry (files without a part are parsed here) into the
    next candidate version, exactly as a one-step parse would."""
    part_paths: dict[str, dict[str, str]] = {}
    for described in parts:
        registry_parts = part_paths.setdefault(str(described["registry_id"]), {})
        registry_parts[str(described["path"])] = str(described["part_path"])
    warehouse.assert_schema_current()
    now = config_instant(config.as_of, "as_of")
    metadata = build_snapshots(
        selected_registries(platform_config, config.registry_ids),
        warehouse,
        object_store,
        source_day=config.source_day,
        now=now,
        part_paths=part_paths,
        run_id=context.run.run_id,
        log=context.log,
    )
    return dg.Output(None, metadata=metadata)


def _snapshot_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot's one config block feeds both the file planner and the merge step."""
    values = {"config": dict(config)}
    return {AREA_CODE_FILES_OP: values, BUILD_SNAPSHOT_OP: values}


@dg.graph_asset(
    name="dncr_registry_snapshot",
    group_name=DNCR_GROUP,
    kinds={"python", "parquet"},
    tags={"cm/pii": "phone"},
    config=dg.ConfigMapping(
        config_fn=_snapshot_config, config_schema=RegistryRefreshConfig.to_config_schema()
    ),
)
def dncr_registry_snapshot():
    """Next version of each registry as a *candidate*: sorted unique int64 E.164 numbers (and,
    for wash-only registries, each number's latest result) in Parquet, version id = a hash of
    its content and source files, with the counts its blocking checks judge. Bad lines are
    quarantined, never dropped. Parsing is split by area-code file (one dynamic step each)."""
    files = dncr_registry_area_code_files()
    return dncr_registry_build_snapshot(files.map(dncr_registry_parse_area_code_file).collect())


# --------------------------------------------------------------------------- changes, promotion


@dg.asset(
    group_name=DNCR_GROUP,
    deps=[dncr_registry_snapshot],
    kinds={"python", "parquet"},
    tags={"cm/pii": "phone"},
)
def dncr_registry_changes(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
) -> dg.MaterializeResult:
    """Additions and removals of each candidate against the version active when it was built
    (for wash-only registries: numbers newly registered / no longer registered). The sets go to
    Parquet; the warehouse keeps the counts."""
    warehouse.assert_schema_current()
    now = datetime.now(UTC)
    summary = record_run_changes(warehouse, object_store, context.run.run_id, now)
    return dg.MaterializeResult(
        metadata={
            "registries": dg.MetadataValue.json(summary),
            "added": sum(item["added"] for item in summary.values()),
            "removed": sum(item["removed"] for item in summary.values()),
        }
    )


@dg.asset(
    group_name=DNCR_GROUP,
    deps=[dncr_registry_snapshot, dncr_registry_changes],
    kinds={"python"},
)
def dncr_registry_promotion(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Make each candidate of this run the active version, after its blocking checks passed.

    Runs only when the checks of this run passed (they gate it), and re-checks before acting: the
    recorded check results must all have passed and the active version must still be the one
    the candidate was built against (a concurrent refresh must not be silently overwritten).
    """
    warehouse.assert_schema_current()
    now = datetime.now(UTC)
    with warehouse.begin() as connection:
        promoted = promote_run_candidates(connection, context.run.run_id, now)
    return dg.MaterializeResult(
        metadata={"promoted": dg.MetadataValue.json(promoted), "promoted_count": len(promoted)}
    )


# --------------------------------------------------------------------------- consents


@dg.asset(group_name=DNCR_GROUP, kinds={"python", "csv"}, tags={"cm/pii": "phone"})
def dncr_consents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """Consent and business-relationship records (landing ``consents.csv`` per tenant: phone,
    kind, recorded_at, source, optional expires_at / revoked_at) with the number normalised and
    its keyed hash. Records already held are left as they are, so a re-ingested file never undoes
    a DSAR restriction or erasure; bad rows are quarantined."""
    warehouse.assert_schema_current()
    key = settings.identifier_hash_key()
    inserted_by_tenant: dict[str, int] = {}
    quarantined_by_tenant: dict[str, int] = {}
    minimised = 0
    for tenant in platform_config.tenants():
        counts = ingest_tenant_consents(warehouse, object_store, tenant, key, context.run.run_id)
        if counts is None:
            continue
        inserted_by_tenant[tenant.id], quarantined_by_tenant[tenant.id], erased = counts
        minimised += erased
    return dg.MaterializeResult(
        metadata={
            "inserted_by_tenant": dg.MetadataValue.json(inserted_by_tenant),
            "quarantined_by_tenant": dg.MetadataValue.json(quarantined_by_tenant),
            "inserted": sum(inserted_by_tenant.values()),
            "quarantined": sum(quarantined_by_tenant.values()),
            "erased_subject": dg.MetadataValue.json(
                {REASON_PSEUDONYMISED: minimised} if minimised else {}
            ),
        }
    )


# --------------------------------------------------------------------------- internal list


@dg.asset(group_name=DNCR_GROUP, kinds={"python", "csv"})
def dncr_internal_list(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> dg.MaterializeResult:
    """The tenants' own do-not-call lists fed by landed opt-out files
    (``landing/optouts/<tenant>/<source>/*.csv``: agents' opt-out dispositions, IVR opt-outs,
    SMS STOP replies, client-supplied lists); each entry keeps its source, receipt time,
    honour-by deadline and expiry, the number as its keyed hash. Washing in the same run (and
    every later one) applies it; ``cm dncr suppress`` adds entries at once."""
    warehouse.assert_schema_current()
    key = settings.identifier_hash_key()
    now = datetime.now(UTC)
    added: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for tenant in platform_config.tenants():
        with warehouse.begin() as connection:
            counts = ingest_opt_out_files(
                connection, object_store, tenant, key, now, context.run.run_id
            )
        added[tenant.id] = counts.added + counts.reinstated
        quarantined[tenant.id] = counts.quarantined
        for source, count in counts.by_source.items():
            by_source[source] = by_source.get(source, 0) + count
    return dg.MaterializeResult(
        metadata={
            "added_by_tenant": dg.MetadataValue.json(added),
            "quarantined_by_tenant": dg.MetadataValue.json(quarantined),
            "added_by_source": dg.MetadataValue.json(by_source),
            "added": sum(added.values()),
            "quarantined": sum(quarantined.values()),
        }
    )


# --------------------------------------------------------------------------- washing

_WASH_DEPS = ["dncr_consents", "dncr_internal_list", "dncr_registry_promotion"]
_WASH_SPECS = [
    dg.AssetSpec(
        "dncr_wash_results",
        deps=_WASH_DEPS,
        kinds={"python"},
        tags={"cm/pii": "phone"},
        description="A decision, one reason, its evidence and valid_until for every number of every campaign list.",
    ),
    dg.AssetSpec(
        "dncr_blocked_calls",
        deps=_WASH_DEPS,
        kinds={"python"},
        description="Blocked decisions naming registry, version, evidence date and rule; number hashed.",
    ),
    dg.AssetSpec(
        "dncr_allowed_exports",
        deps=_WASH_DEPS,
        kinds={"csv"},
        tags={"cm/pii": "phone"},
        description="Allowed numbers per campaign with calling windows, minus DSAR-restricted numbers.",
    ),
    dg.AssetSpec(
        "dncr_wash_requests",
        deps=_WASH_DEPS,
        kinds={"csv"},
        tags={"cm/pii": "phone"},
        description="Numbers to submit to wash-only registries (no fresh result).",
    ),
]


@dg.multi_asset(group_name=DNCR_GROUP, specs=_WASH_SPECS)
def dncr_wash(
    context: dg.AssetExecutionContext,
    config: WashConfig,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
):
    """Wash every campaign list of each selected tenant against the active registry versions,
    the tenant's suppression list and consents."""
    warehouse.assert_schema_current()
    washed_at = config_instant(config.washed_at, "washed_at")
    key = settings.identifier_hash_key()
    registries = {registry.id: registry for registry in platform_config.registries()}
    totals = WashTotals()
    evidence_cache: dict[str, Evidence] = {}
    for tenant in selected_tenants(platform_config, config.tenant_ids):
        wash_tenant(
            warehouse,
            object_store,
            tenant,
            registries,
            washed_at=washed_at,
            key=key,
            run_id=context.run.run_id,
            totals=totals,
            evidence_cache=evidence_cache,
        )
    for asset_key, metadata in totals.metadata(washed_at).items():
        yield dg.MaterializeResult(asset_key=asset_key, metadata=metadata)
