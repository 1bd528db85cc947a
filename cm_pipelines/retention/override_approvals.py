"""A circuit-breaker override takes two people: one asks (with the reason and the limits), a
second privacy officer approves, and only a run carrying that approval may override.

The purge plan checks the approval itself (``use_override``), so an override typed into the
launchpad's run config without one is refused like any other: the UI cannot skip the second
person. The approval is consumed by the plan it overrode (a resumed plan keeps its override).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cm_pipelines.access.approvals import ApprovalError, approved, complete, request_approval
from cm_pipelines.domain.operations.roles import BREAKER_OVERRIDE


def override_target(tenant_id: str | None) -> str:
    """What a breaker override applies to: the purge scope (``*``: every tenant)."""
    return f"retention:{tenant_id or '*'}"


def ask_for_override(
    connection: sa.Connection,
    tenant_id: str | None,
    reason: str,
    requested_by: str,
    limits: dict[str, Any],
) -> dict[str, Any]:
    """Record the request for a second person's approval (audited); nothing runs yet."""
    return request_approval(
        connection,
        action=BREAKER_OVERRIDE,
        target=override_target(tenant_id),
        tenant_id=tenant_id,
        reason=reason,
        requested_by=requested_by,
        details=dict(limits),
    )


def override_config(approval: dict[str, Any]) -> dict[str, Any]:
    """The purge's run config for an approved override: reason, who asked, the approval."""
    return {
        "override_reason": approval["reason"],
        "override_by": str(approval["requested_by"]),
        "override_approval": approval["approval_id"],
    }


def approved_override(
    connection: sa.Connection, approval_id: str, tenant_id: str | None, reason: str
) -> dict[str, Any]:
    """The approval an override runs under; ``ApprovalError`` without one (the refusal says
    how to get it) or when the reason is not the one approved."""
    if not approval_id:
        raise ApprovalError(
            "a breaker override needs a second person's approval: ask with `cm retention "
            "purge --override-reason TEXT`; a privacy officer approves with `cm approve ID`"
        )
    approval = approved(connection, approval_id, BREAKER_OVERRIDE, override_target(tenant_id))
    if approval["reason"] != reason.strip():
        raise ApprovalError(f"the override reason is not the one approval {approval_id} approved")
    return approval


def close_override(connection: sa.Connection, approval_id: str, run_id: str) -> None:
    """The plan now carries the override: the approval is used and never used again."""
    complete(connection, approval_id, run_id=run_id)
