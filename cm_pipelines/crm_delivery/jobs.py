"""The outbox delivery run."""

from __future__ import annotations

import dagster as dg

crm_delivery_job = dg.define_asset_job(
    name="crm_delivery_job",
    selection=dg.AssetSelection.groups("crm_delivery"),
    description="Send due DSAR tasks (erase, rectify, restrict) to the CRM systems holding the "
    "subject's records: retries with backoff, dead letters after the ceiling.",
    tags={"cm/capability": "dsar"},
)
