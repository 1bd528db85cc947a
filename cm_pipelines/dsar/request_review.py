"""The privacy officer's review of an access package whose free text had names the recogniser
was unsure of (state ``awaiting_review``, its key held by ``key_handoff``).

- The redaction report is what the export step recorded: counts, and per record (ids only) the
  offsets of the ``[name]`` masks standing for unsure findings; never the text.
- Approve: a ``review`` step is recorded and the request goes back to ``in_progress``; the run
  that follows (``cm dsar review --approve`` launches it) resumes past the export, verifies and
  completes the request, releasing the held key as any key is handed over.
- Reject: the package objects and their rows go, the held key is discarded, the export step is
  reopened and the request goes back to ``verified``: ``cm dsar run`` builds a new package from
  the data as it then is (after someone corrected the source text, or the recogniser), which
  waits for review again if it still has unsure names.

The statutory clock does not stop while a package waits. Audit entries hold ids, counts and the
length of the reviewer's note, never the note or any text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import operator
from cm_pipelines.dsar.fulfil import step_log
from cm_pipelines.dsar.request_changes import set_state
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables.dsar import dsar_exports

REVIEW_STEP = "review"


def redaction_report(connection: sa.Connection, request_id: str) -> dict[str, Any] | None:
    """The names report of the request's package (counts and positions), None without one."""
    details = step_log.step_done(connection, request_id, "export")
    if details is None or not isinstance(details.get("names"), dict):
        return None
    return dict(details["names"])


def _checked(connection: sa.Connection, request_id: str, note: str | None) -> tuple[Any, str]:
    record = load_request(connection, request_id)
    try:
        return record, operator.check_review(request_id, record.state, note)
    except operator.DecisionRefused as exc:
        raise DsarError(str(exc)) from None


def approve(
    connection: sa.Connection,
    request_id: str,
    *,
    reviewed_by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> RequestRecord:
    """Record the approval and make the request runnable again (the key is still held)."""
    now = now or datetime.now(UTC)
    record, cleaned = _checked(connection, request_id, note)
    step_log.reopen_steps(connection, request_id, [REVIEW_STEP])
    step_log.record_step(
        connection,
        request_id,
        REVIEW_STEP,
        tenant_id=record.tenant_id,
        details={"decision": "approved"},
        run_id=None,
        now=now,
    )
    set_state(connection, request_id, "in_progress", run_id=None, now=now)
    append_audit(
        connection,
        actor=reviewed_by,
        action="dsar.review.approved",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={"note_chars": len(cleaned)},
    )
    return load_request(connection, request_id)


def reject(
    connection: sa.Connection,
    request_id: str,
    *,
    reviewed_by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> tuple[RequestRecord, list[str]]:
    """Back to ``verified`` with the export reopened; returns the package paths to delete
    (the caller deletes them after this commits; an export run removes any left over)."""
    now = now or datetime.now(UTC)
    record, cleaned = _checked(connection, request_id, note)
    paths = [
        row[0]
        for row in connection.execute(
            sa.select(dsar_exports.c.object_path).where(dsar_exports.c.request_id == request_id)
        )
    ]
    connection.execute(sa.delete(dsar_exports).where(dsar_exports.c.request_id == request_id))
    step_log.reopen_steps(connection, request_id, ["export", REVIEW_STEP])
    set_state(connection, request_id, "verified", run_id=None, now=now)
    append_audit(
        connection,
        actor=reviewed_by,
        action="dsar.review.rejected",
        tenant_id=record.tenant_id,
        object_refs={"request_id": request_id},
        details={"packages_discarded": len(paths), "note_chars": len(cleaned)},
    )
    return load_request(connection, request_id), paths
