"""How a fulfilment run is asked for: the job's name, its run tag and its typed run config.

Whoever launches ``dsar_fulfillment_job`` (``cm dsar run``, the intake sensor, the demo, the
launchpad) builds its config here and never imports the job's ops.
"""

# No ``from __future__ import annotations`` here: Dagster reads the op signatures' types at
# definition time and cannot resolve a string annotation of a run-config class.
from typing import Any

import dagster as dg
from pydantic import Field

REQUEST_TAG = "cm/dsar_request_id"
JOB_NAME = "dsar_fulfillment_job"
GATE_OP = "dsar_gate"


class DsarRunConfig(dg.Config):
    """Fulfil one data-subject request.

    Give ``request_id`` to run a stored request. Or, from the launchpad, leave it empty and give
    the new request's tenant and type plus ``intake_file``: the object-store path (under
    ``intake/dsar/``) of a JSON document holding the subject's identifiers. Identifiers never go
    into run config itself, because everyone who can see runs can read it; the intake file is
    deleted once the request is stored.
    """

    request_id: str = Field(default="", description="Request to fulfil (dsar-...).")
    tenant: str = Field(default="", description="New request: tenant id.")
    request_type: str = Field(
        default="",
        description="New request: access, portability, erasure, rectification, restriction, "
        "objection or withdraw_consent.",
    )
    intake_file: str = Field(
        default="",
        description="Object-store path under intake/dsar/ of a JSON file with the subject's "
        'identifiers: {"phones": [...], "emails": [...], "crm_ids": [...]} and, for '
        "rectification, new_email / new_phone / new_caller_name.",
    )
    jurisdiction: str = Field(default="", description="New request: gdpr, ccpa or au.")
    received_at: str = Field(default="", description="New request: ISO time of receipt.")
    verification_method: str = Field(
        default="", description="Record a verification now (e.g. id_document)."
    )
    verified_by: str = Field(default="", description="Who verified identity or authority.")


def fulfilment_run_config(request_id: str) -> dict[str, Any]:
    """Run config launching ``dsar_fulfillment_job`` for a stored request."""
    return {"ops": {GATE_OP: {"config": {"request_id": request_id}}}}


def step_failure(message: str, **metadata: Any) -> dg.Failure:
    """A refusal that ends the run with ``message`` and is not retried: the request must change
    (be verified, corrected) before running it again makes sense."""
    return dg.Failure(description=message, metadata=metadata, allow_retries=False)
