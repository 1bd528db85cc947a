"""Housekeeping: what finished runs left behind."""

from __future__ import annotations

import dagster as dg

housekeeping_job = dg.define_asset_job(
    name="housekeeping_job",
    selection=dg.AssetSelection.groups("platform"),
    description="Delete what finished runs left behind: step outputs kept in the object store.",
    tags={"cm/capability": "platform"},
)
