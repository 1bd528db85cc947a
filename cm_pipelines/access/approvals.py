"""Approvals by a second person: asked for, decided, used, every step in the audit chain.

One identity asks (``approval.requested``) and nothing happens; a different identity with an
approving role decides (``approval.granted`` / ``approval.rejected``); the action it unlocks
runs and the approval is closed with that run (``approval.completed``). Asking twice for the
same action on the same target returns the open approval instead of a second one, so a re-run
or a repeated command never piles up requests. Audit entries carry ids, roles and the reason's
hash only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.operations.roles import (
    APPROVERS,
    Identity,
    approval_lapsed,
    require_approver,
)
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.operations import operation_approvals

OPEN_STATES = ("pending", "approved")
MAX_REASON = 500


class ApprovalError(ValueError):
    """An approval cannot be asked for, decided or used; the message says why and what next."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ApprovalError("say why (--reason): the approver decides on it")
    if len(text) > MAX_REASON or any(ord(ch) < 32 for ch in text):
        raise ApprovalError(f"a reason is one line of at most {MAX_REASON} characters")
    return text


def load_approval(connection: sa.Connection, approval_id: str) -> dict[str, Any]:
    row = (
        connection.execute(
            sa.select(operation_approvals).where(operation_approvals.c.approval_id == approval_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise ApprovalError(f"no approval {approval_id}: see `cm approvals`")
    return dict(row)


def open_approval(connection: sa.Connection, action: str, target: str) -> dict[str, Any] | None:
    """The pending or approved (not yet used) approval of ``action`` on ``target``."""
    row = (
        connection.execute(
            sa.select(operation_approvals)
            .where(
                operation_approvals.c.action == action,
                operation_approvals.c.target == target,
                operation_approvals.c.state.in_(OPEN_STATES),
            )
            .order_by(operation_approvals.c.requested_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["state"] == "pending" and approval_lapsed(_as_utc(row["requested_at"]), _now()):
        _set_state(connection, row["approval_id"], "lapsed")
        return None
    return dict(row)


def latest_approval(connection: sa.Connection, action: str, target: str) -> dict[str, Any] | None:
    """The most recent approval of ``action`` on ``target``, whatever its state."""
    row = (
        connection.execute(
            sa.select(operation_approvals)
            .where(operation_approvals.c.action == action, operation_approvals.c.target == target)
            .order_by(operation_approvals.c.requested_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


def _set_state(connection: sa.Connection, approval_id: str, state: str, **values: Any) -> None:
    connection.execute(
        sa.update(operation_approvals)
        .where(operation_approvals.c.approval_id == approval_id)
        .values(state=state, **values)
    )


def request_approval(
    connection: sa.Connection,
    *,
    action: str,
    target: str,
    tenant_id: str | None,
    reason: str,
    requested_by: str,
    details: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Ask for a second person's approval (audited); returns the open one if already asked."""
    if action not in APPROVERS:
        raise ApprovalError(f"{action} is not an action that needs approval")
    existing = open_approval(connection, action, target)
    if existing is not None:
        return existing
    text = _clean_reason(reason)
    facts = dict(details or {})
    row: dict[str, Any] = {
        "approval_id": f"apr-{secrets.token_hex(6)}",
        "action": action,
        "target": target,
        "tenant_id": tenant_id,
        "state": "pending",
        "reason": text,
        "details": facts,
        "requested_by": requested_by,
        "requested_at": _now(),
    }
    append_audit(
        connection,
        actor=requested_by,
        action="approval.requested",
        tenant_id=tenant_id,
        object_refs={"approval_id": row["approval_id"], "target": target},
        details={"action": action, "reason_sha256": _sha256(text), **facts},
        run_id=run_id,
    )
    connection.execute(sa.insert(operation_approvals).values(**row))
    return row


def decide(
    connection: sa.Connection,
    approval_id: str,
    approver: Identity,
    *,
    approve: bool,
    reason: str | None = None,
) -> dict[str, Any]:
    """A second person approves or rejects a pending approval (audited in their name)."""
    row = load_approval(connection, approval_id)
    if row["state"] != "pending":
        raise ApprovalError(f"approval {approval_id} is {row['state']}, not pending")
    if approval_lapsed(_as_utc(row["requested_at"]), _now()):
        _set_state(connection, approval_id, "lapsed")
        raise ApprovalError(f"approval {approval_id} lapsed unanswered: ask for it again")
    asked_by = [row["requested_by"], str((row["details"] or {}).get("verified_by") or "")]
    require_approver(row["action"], asked_by, approver)
    text = _clean_reason(reason) if not approve or reason else None
    state = "approved" if approve else "rejected"
    _set_state(
        connection,
        approval_id,
        state,
        decided_by=approver.actor,
        decided_at=_now(),
        decision_reason=text,
    )
    append_audit(
        connection,
        actor=approver.actor,
        action="approval.granted" if approve else "approval.rejected",
        tenant_id=row["tenant_id"],
        object_refs={"approval_id": approval_id, "target": row["target"]},
        details={
            "action": row["action"],
            "requested_by": row["requested_by"],
            "approver_roles": sorted(approver.roles),
            **({"reason_sha256": _sha256(text)} if text else {}),
        },
    )
    return load_approval(connection, approval_id)


def approved(connection: sa.Connection, approval_id: str, action: str, target: str) -> dict:
    """The approval ``approval_id``, refused unless it approves ``action`` on ``target`` and is
    still unused (a completed approval is never used twice)."""
    row = load_approval(connection, approval_id)
    if row["action"] != action or row["target"] != target:
        raise ApprovalError(
            f"approval {approval_id} is for {row['action']} of {row['target']}, "
            f"not {action} of {target}"
        )
    if row["state"] != "approved":
        raise ApprovalError(
            f"approval {approval_id} is {row['state']}: a second person approves it first "
            f"(cm approve {approval_id} --by NAME)"
        )
    return row


def complete(connection: sa.Connection, approval_id: str, *, run_id: str | None = None) -> None:
    """Close an approved approval with what used it (audited); never twice."""
    row = load_approval(connection, approval_id)
    if row["state"] == "completed":
        return
    if row["state"] != "approved":
        raise ApprovalError(f"approval {approval_id} is {row['state']}, not approved")
    _set_state(connection, approval_id, "completed", completed_at=_now(), completed_run_id=run_id)
    append_audit(
        connection,
        actor=str(row["decided_by"]),
        action="approval.completed",
        tenant_id=row["tenant_id"],
        object_refs={"approval_id": approval_id, "target": row["target"]},
        details={"action": row["action"], "requested_by": row["requested_by"]},
        run_id=run_id,
    )


def list_approvals(connection: sa.Connection, *, include_closed: bool) -> list[dict[str, Any]]:
    query = sa.select(operation_approvals).order_by(operation_approvals.c.requested_at)
    if not include_closed:
        query = query.where(operation_approvals.c.state.in_(OPEN_STATES))
    return [dict(row) for row in connection.execute(query).mappings()]
