"""An erasure above the threshold waits for a second person.

After locating and planning, an erasure planned to remove more than
``CM_ERASURE_APPROVAL_THRESHOLD`` records (exempt ones not counted) asks for approval in the
name of whoever launched the run (and names who verified the request: neither may approve it)
and stops before anything is erased. A privacy officer's ``cm approve`` runs it again; the
approval is closed once the erasure has run, and a resumed run after that needs none. This
sits in the job, not the CLI, so the sensor and the launchpad cannot skip it.
"""

from __future__ import annotations

from cm_pipelines.access.approvals import complete, latest_approval, request_approval
from cm_pipelines.domain.operations.roles import ERASURE, erasure_needs_approval
from cm_pipelines.dsar.fulfil import plan_items
from cm_pipelines.dsar.fulfil.context import FulfilmentContext, FulfilmentError

PROCEEDS = ("approved", "completed")


def erasure_gate(fulfilment: FulfilmentContext, *, requested_by: str, threshold: int) -> str | None:
    """The approval this erasure runs under (None: small enough to need none); raises
    ``FulfilmentError`` naming the approval to give when it has to wait."""
    record = fulfilment.record()
    if record.request_type != "erasure":
        return None
    with fulfilment.warehouse.begin() as connection:
        plan = plan_items.load_plan(fulfilment, connection)
        removals = sum(1 for action in plan if not action.exempt)
        if not erasure_needs_approval(removals, threshold):
            return None
        approval = latest_approval(connection, ERASURE, fulfilment.request_id)
        if approval is not None and approval["state"] in PROCEEDS:
            return str(approval["approval_id"])
        approval = request_approval(
            connection,
            action=ERASURE,
            target=fulfilment.request_id,
            tenant_id=record.tenant_id,
            reason=f"erasure of {removals} planned records (threshold {threshold})",
            requested_by=requested_by,
            details={"planned_removals": removals, "verified_by": record.verified_by or ""},
            run_id=fulfilment.run_id,
        )
    # committed above: the request for approval stays when this run stops
    raise FulfilmentError(
        f"erasure of {removals} records (above {threshold}) waits for a second privacy "
        f"officer: cm approve {approval['approval_id']} --by NAME (nothing was erased)"
    )


def close_erasure_approval(fulfilment: FulfilmentContext, approval_id: str | None) -> None:
    """The erasure ran: its approval is used (audited) and never used again."""
    if approval_id is None:
        return
    with fulfilment.warehouse.begin() as connection:
        complete(connection, approval_id, run_id=fulfilment.run_id)
