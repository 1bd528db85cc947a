"""Do-not-call jobs: the guarded registry refresh and the wash of campaign lists."""

from __future__ import annotations

import dagster as dg

dncr_registry_refresh_job = dg.define_asset_job(
    name="dncr_registry_refresh_job",
    selection=dg.AssetSelection.assets(
        "dncr_registry_snapshot", "dncr_registry_changes", "dncr_registry_promotion"
    ),
    description=(
        "Build the next version of do-not-call registries (full file, change lists or wash "
        "results), diff it, and promote it only after its blocking checks pass."
    ),
    tags={"cm/capability": "dncr"},
)

dncr_wash_job = dg.define_asset_job(
    name="dncr_wash_job",
    selection=dg.AssetSelection.assets(
        "dncr_consents",
        "dncr_internal_list",
        "dncr_wash_results",
        "dncr_blocked_calls",
        "dncr_allowed_exports",
        "dncr_wash_requests",
    ),
    description=(
        "Ingest consents and opt-out files (internal do-not-call list), wash every campaign list against the active registry versions, "
        "export allowed lists and wash requests, record blocked calls."
    ),
    tags={"cm/capability": "dncr"},
)
