"""The operator's decisions on a request, as rules: may it run, may it be refused, may its
restriction be lifted, is its acknowledgement on time, where does it stand in the queue.

Each refusal is one line that says what to do next (a command to run), names the request by id
only, and is the same whichever door asked (``cm dsar run``, ``refuse``, ``lift``,
``acknowledge``). The state machine itself is in ``requests.STATES``; these rules say which
operator action each state allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.dsar.requests import OPEN_STATES

MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
MANIFESTLY_EXCESSIVE = "manifestly_excessive"
IDENTITY_NOT_CONFIRMED = "identity_not_confirmed"
REFUSAL_CODES: tuple[str, ...] = (
    MANIFESTLY_UNFOUNDED,
    MANIFESTLY_EXCESSIVE,
    IDENTITY_NOT_CONFIRMED,
)
"""Why a request may be refused: GDPR Art. 12(5) (manifestly unfounded or excessive) and
Art. 12(6) / CCPA Regs 7060 (identity or authority could not be confirmed)."""

REFUSAL_BASIS = {
    MANIFESTLY_UNFOUNDED: "GDPR Art. 12(5)(b): manifestly unfounded",
    MANIFESTLY_EXCESSIVE: "GDPR Art. 12(5)(b): manifestly excessive (e.g. repetitive)",
    IDENTITY_NOT_CONFIRMED: "GDPR Art. 12(6) / CCPA Regs 7060: identity or authority not confirmed",
}
MAX_NOTE = 500

ACK_NOT_REQUIRED = "not_required"
ACK_DONE = "acknowledged"
ACK_LATE = "acknowledged_late"
ACK_DUE = "due"
ACK_OVERDUE = "overdue"


class DecisionRefused(ValueError):
    """The operator's action does not fit the request as it stands; the message says what to do."""


def run_refusal(request_id: str, state: str) -> str | None:
    """Why ``cm dsar run`` must not launch a run for a request in ``state`` (None: it may).

    ``in_progress`` may run: that resumes a run that stopped (the job refuses it while another
    run is still active). ``completed`` is refused here rather than launching a no-op run."""
    if state == "pending":
        return (
            f"request {request_id} is not verified: nothing was disclosed or changed and it "
            f"stays pending; verify it first (cm dsar verify {request_id} --method METHOD "
            "--by WHO) or refuse it (cm dsar refuse)"
        )
    if state == "refused":
        return f"request {request_id} was refused; it cannot be fulfilled (cm dsar status {request_id})"
    if state == "completed":
        return (
            f"request {request_id} is already completed; see its result with "
            f"cm dsar status {request_id}"
        )
    if state == "awaiting_review":
        return (
            f"request {request_id} awaits the privacy officer's review of its package; see "
            f"the redaction report with cm dsar review {request_id}, then --approve or --reject"
        )
    if state not in OPEN_STATES:
        return f"request {request_id} is {state}; it cannot be run"
    return None


def check_review(request_id: str, state: str, note: str | None) -> str:
    """The cleaned note of a review decision on a request that awaits one; raises
    ``DecisionRefused`` (a second approval, or a request that never waited, is refused)."""
    raw = note or ""
    cleaned = " ".join(raw.split())
    if len(cleaned) > MAX_NOTE or any(ord(ch) < 32 and not ch.isspace() for ch in raw):
        raise DecisionRefused(f"--reason must be at most {MAX_NOTE} printable characters")
    if state != "awaiting_review":
        raise DecisionRefused(
            f"request {request_id} is {state}, not awaiting review; nothing to approve or "
            f"reject (cm dsar status {request_id})"
        )
    return cleaned


def check_refusal(request_id: str, state: str, code: str, note: str | None) -> str:
    """The cleaned note of a refusal that fits the request; raises ``DecisionRefused``.

    Identity not confirmed is a refusal of a pending request only: once verified, identity
    was confirmed. A request being fulfilled cannot be refused under its run."""
    if code not in REFUSAL_CODES:
        raise DecisionRefused(f"--reason must be one of {', '.join(REFUSAL_CODES)}")
    raw = note or ""
    cleaned = " ".join(raw.split())
    if len(cleaned) > MAX_NOTE or any(ord(ch) < 32 and not ch.isspace() for ch in raw):
        raise DecisionRefused(f"--note must be at most {MAX_NOTE} printable characters")
    if state in ("completed", "refused"):
        raise DecisionRefused(f"request {request_id} is already {state}; nothing to refuse")
    if state == "awaiting_review":
        raise DecisionRefused(
            f"request {request_id} awaits review of its package; reject it first "
            f"(cm dsar review {request_id} --reject --by WHO)"
        )
    if state == "in_progress":
        raise DecisionRefused(
            f"request {request_id} is in progress (a run has started fulfilling it); "
            f"finish it with cm dsar run {request_id}, it cannot be refused midway"
        )
    if code == IDENTITY_NOT_CONFIRMED and state != "pending":
        raise DecisionRefused(
            f"request {request_id} is {state}: its identity was confirmed, so "
            f"{IDENTITY_NOT_CONFIRMED} does not apply; use {MANIFESTLY_UNFOUNDED} or "
            f"{MANIFESTLY_EXCESSIVE}"
        )
    return cleaned


def check_lift(
    request_id: str, request_type: str, state: str, active_entries: int, subject_informed: bool
) -> None:
    """A restriction is lifted from a completed restriction request that still holds, and only
    once the subject was told (GDPR Art. 18(3)); raises ``DecisionRefused``."""
    if request_type != "restriction":
        raise DecisionRefused(
            f"request {request_id} is of type {request_type}; only a restriction request's "
            "restriction is lifted (cm dsar list --state completed)"
        )
    if state != "completed":
        raise DecisionRefused(
            f"request {request_id} is {state}; a restriction is lifted once its request "
            f"completed (cm dsar status {request_id})"
        )
    if active_entries == 0:
        raise DecisionRefused(f"the restriction of request {request_id} is already lifted")
    if not subject_informed:
        raise DecisionRefused(
            "the subject must be informed before a restriction is lifted (GDPR Art. 18(3)): "
            "inform them, then pass --subject-informed"
        )


def check_acknowledgement(
    request_id: str, state: str, received_on: date, acknowledged_on: date | None, on: date
) -> None:
    """An open request is acknowledged once, on or after the day it arrived."""
    if acknowledged_on is not None:
        raise DecisionRefused(
            f"request {request_id} was already acknowledged on {acknowledged_on.isoformat()}"
        )
    if state not in OPEN_STATES:
        raise DecisionRefused(
            f"request {request_id} is {state}; only an open request is acknowledged"
        )
    if on < received_on:
        raise DecisionRefused(
            f"--on {on.isoformat()} is before the request arrived ({received_on.isoformat()})"
        )


def acknowledgement_status(ack_due: date | None, acknowledged_on: date | None, today: date) -> str:
    """Where the CCPA 10-business-day acknowledgement stands (``not_required`` elsewhere)."""
    if ack_due is None:
        return ACK_NOT_REQUIRED
    if acknowledged_on is not None:
        return ACK_LATE if acknowledged_on > ack_due else ACK_DONE
    return ACK_OVERDUE if today > ack_due else ACK_DUE


@dataclass(frozen=True)
class QueueEntry:
    """One request as the queue shows it: ids, dates and counts, never an identifier."""

    request_id: str
    tenant_id: str
    request_type: str
    jurisdiction: str
    state: str
    received_on: date
    due: date
    extended: bool
    ack_due: date | None
    acknowledged_on: date | None
    today: date
    time_zone: str = "UTC"
    """The tenant's zone: every date above is a day of it (stated beside them, as evidence is)."""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def days_left(self) -> int | None:
        return dsar_clock.days_left(self.due, self.today) if self.is_open else None

    @property
    def overdue(self) -> bool:
        return self.is_open and dsar_clock.is_overdue(self.due, self.today)

    @property
    def acknowledgement(self) -> str:
        if not self.is_open and self.acknowledged_on is None:
            return ACK_NOT_REQUIRED if self.ack_due is None else "closed"
        return acknowledgement_status(self.ack_due, self.acknowledged_on, self.today)

    def as_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "tenant_id": self.tenant_id,
            "type": self.request_type,
            "jurisdiction": self.jurisdiction,
            "state": self.state,
            "time_zone": self.time_zone,
            "received_on": self.received_on.isoformat(),
            "due_date": self.due.isoformat(),
            "extended": self.extended,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "ack_due_date": self.ack_due.isoformat() if self.ack_due else None,
            "acknowledged_on": self.acknowledged_on.isoformat() if self.acknowledged_on else None,
            "acknowledgement": self.acknowledgement,
        }


def queue_order(entries: list[QueueEntry]) -> list[QueueEntry]:
    """Open requests soonest due first (overdue on top), then closed ones newest first."""
    open_ = sorted((e for e in entries if e.is_open), key=lambda e: (e.due, e.request_id))
    closed = sorted(
        (e for e in entries if not e.is_open), key=lambda e: (e.received_on, e.request_id)
    )
    return open_ + closed[::-1]
