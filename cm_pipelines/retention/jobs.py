"""Retention jobs: today's states, and the guarded purge (plan, guard, execute, prove)."""

from __future__ import annotations

import dagster as dg

retention_states_job = dg.define_asset_job(
    name="retention_states_job",
    selection=dg.AssetSelection.assets("retention_states"),
    description="Record every artefact's retention state (active, due, held, purged) for today.",
    tags={"cm/capability": "retention"},
)

retention_purge_job = dg.define_asset_job(
    name="retention_purge_job",
    selection=dg.AssetSelection.assets(
        "retention_purge_plan", "retention_purge_execution", "retention_proof_of_deletion"
    ),
    description=(
        "Plan (manifest stored first), guard (holds, policy age, circuit breaker), execute in "
        "batches with confirmed deletion, prove. A re-run finishes an unfinished plan."
    ),
    tags={"cm/capability": "retention"},
)
