"""DSAR jobs: one request's fulfilment (a graph of ops), and the hourly SLA and expiry sweep."""

from __future__ import annotations

import dagster as dg

from cm_pipelines.dsar.ops import dsar_complete, dsar_execute, dsar_gate, dsar_locate, dsar_verify
from cm_pipelines.dsar.run_config import JOB_NAME


@dg.job(
    name=JOB_NAME,
    description=(
        "Fulfil one verified data-subject request within its tenant: locate, then export, "
        "erase (with exemptions, verification and a certificate), restrict, rectify, suppress "
        "or revoke. Unverified requests are refused before anything is read."
    ),
    tags={"cm/capability": "dsar"},
)
def dsar_fulfillment_job() -> None:
    dsar_complete(dsar_verify(dsar_execute(dsar_locate(dsar_gate()))))


dsar_sla_job = dg.define_asset_job(
    name="dsar_sla_job",
    selection=dg.AssetSelection.groups("dsar"),
    description="List open data-subject requests by days left (check: none overdue) and delete "
    "expired access packages.",
    tags={"cm/capability": "dsar"},
)
