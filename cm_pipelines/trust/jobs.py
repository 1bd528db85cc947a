"""The daily trust job: verify (and anchor) the audit chain, then render the overview."""

from __future__ import annotations

import dagster as dg

trust_daily_job = dg.define_asset_job(
    name="trust_daily_job",
    selection=dg.AssetSelection.groups("trust"),
    description="Verify the audit chain (anchoring its head) and render the compliance overview.",
    tags={"cm/capability": "trust"},
)
