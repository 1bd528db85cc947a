"""What a delivery attempt's response means for its task, and when the next attempt is due.

A CRM answers with a status code (or not at all). The decision is a pure function of that
answer, the attempts already made and the policy, so the job and its tests agree on it:

- 2xx: done; for a GDPR delete, 404 also means done (the contact is already gone).
- 429: try again no earlier than ``Retry-After`` says (seconds or an HTTP date), and no earlier
  than the backoff schedule.
- 5xx, 408, a timeout or a broken connection: try again after the backoff.
- 401/403: the platform's credentials are wrong, not the task: the task is not charged an
  attempt, waits out the backoff, and the rest of the run stops calling that recipient.
- any other 4xx: the request itself is refused; sending it again cannot help: dead letter.

Backoff is exponential with a cap, and a task dead-letters once ``max_attempts`` attempts
failed: the ceiling turns a CRM that never answers into an alert instead of an endless retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

DONE = "done"
RETRY = "retry"
RETRY_AFTER = "retry_after"
DEAD_LETTER = "dead_letter"
AUTH_FAILURE = "auth_failure"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_seconds * factor ** (attempt - 1)``, at most ``cap_seconds``;
    a task dead-letters after ``max_attempts`` failed attempts."""

    base_seconds: int = 60
    factor: int = 2
    cap_seconds: int = 6 * 3600
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base_seconds < 1 or self.factor < 1 or self.cap_seconds < self.base_seconds:
            raise ValueError("retry policy: base >= 1 s, factor >= 1, cap >= base")
        if self.max_attempts < 1:
            raise ValueError("retry policy: at least one attempt")


@dataclass(frozen=True)
class Response:
    """What one attempt got back: a status code and its ``Retry-After`` header, or nothing
    (``status`` None: timeout or connection failure, ``error`` names which)."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: str
    next_attempt_at: datetime | None
    reason: str
    counts_as_attempt: bool = True


def backoff_delay(attempt: int, policy: RetryPolicy) -> timedelta:
    """Delay after the ``attempt``-th failed attempt (1-based)."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    exponent = min(attempt - 1, 62)  # the cap is reached long before; keeps the power finite
    return timedelta(seconds=min(policy.cap_seconds, policy.base_seconds * policy.factor**exponent))


def schedule(policy: RetryPolicy) -> list[timedelta]:
    """Every delay a task that never succeeds waits, between its attempts."""
    return [backoff_delay(n, policy) for n in range(1, policy.max_attempts)]


def retry_after_delay(header: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as delta-seconds or an HTTP date; None when absent or unreadable."""
    value = (header or "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - now)


def decide(
    response: Response,
    attempt: int,
    now: datetime,
    policy: RetryPolicy,
    *,
    absent_is_done: bool = False,
) -> Decision:
    """The task's fate after its ``attempt``-th attempt (1-based) got ``response``."""
    status = response.status
    if status is not None and 200 <= status < 300:
        return Decision(DONE, None, f"http_{status}")
    if status == 404 and absent_is_done:
        return Decision(DONE, None, "http_404_absent")
    if status in (401, 403):
        return Decision(AUTH_FAILURE, now + backoff_delay(attempt, policy), f"http_{status}", False)
    retryable = status is None or status in (408, 429) or status >= 500
    if not retryable:
        return Decision(DEAD_LETTER, None, f"http_{status}")
    reason = f"http_{status}" if status is not None else (response.error or "no_response")
    if attempt >= policy.max_attempts:
        return Decision(DEAD_LETTER, None, f"{reason}_after_{attempt}_attempts")
    delay = backoff_delay(attempt, policy)
    if status == 429:
        asked = retry_after_delay(response.retry_after, now)
        if asked is not None:
            return Decision(RETRY_AFTER, now + max(delay, asked), reason)
    return Decision(RETRY, now + delay, reason)


def is_due(next_attempt_at: datetime | None, now: datetime) -> bool:
    """A task is due when it never had an attempt scheduled or its time has come (a time
    without a zone is UTC: SQLite hands back naive datetimes)."""
    if next_attempt_at is None:
        return True
    if next_attempt_at.tzinfo is None:
        next_attempt_at = next_attempt_at.replace(tzinfo=UTC)
    return next_attempt_at <= now
