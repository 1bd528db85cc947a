"""The statutory clock of a data-subject request: every deadline runs from RECEIPT.

Verification does not stop the clock, so due dates are fixed when the request arrives:

- GDPR (Art. 12(3)): one calendar month. A month is counted to the same day number of the next
  month, or to that month's last day when it has no such day (EU Regulation 1182/71 Art. 3(2)(c)):
  31 January -> 28 February (29 in a leap year). It may be extended by two further months, with
  a recorded reason; the extension runs from the original deadline (29 Feb -> 29 Apr), the earlier
  and therefore safer reading.
- CCPA (Cal. Civ. Code 1798.130, CCPA Regs 7021): 45 calendar days, extendable once by 45 days
  with notice; receipt must be acknowledged within 10 business days (weekends and US federal
  holidays are not business days).
- Australia (APP 12.4): 30 calendar days, no statutory extension.

Receipt is a day in the tenant's time zone: a request that arrives at 23:30 in Sydney was
received that Sydney day, whatever the UTC date says. Every other date of a request's evidence
(due, extended, acknowledgement, completion) is a day of that same zone, stated beside it
(``evidence_dates``): a certificate never pairs a Sydney receipt day with a UTC completion day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

GDPR, CCPA, AU = "gdpr", "ccpa", "au"
JURISDICTIONS: tuple[str, ...] = (GDPR, CCPA, AU)

GDPR_MONTHS = 1
GDPR_EXTENSION_MONTHS = 2
CCPA_DAYS = 45
CCPA_EXTENSION_DAYS = 45
CCPA_ACK_BUSINESS_DAYS = 10
AU_DAYS = 30


class ExtensionNotAllowed(ValueError):
    """The jurisdiction has no statutory extension, or the request was already extended."""


@dataclass(frozen=True)
class StatutoryClock:
    """The deadlines of one request; ``extended_due_date`` is what the law allows if extended."""

    jurisdiction: str
    received_on: date
    due_date: date
    extended_due_date: date | None
    ack_due_date: date | None


def _check_jurisdiction(jurisdiction: str) -> str:
    if jurisdiction not in JURISDICTIONS:
        raise ValueError(f"jurisdiction must be one of {', '.join(JURISDICTIONS)}")
    return jurisdiction


def add_calendar_months(day: date, months: int) -> date:
    """Same day number ``months`` later, clamped to the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


@lru_cache(maxsize=64)
def _us_federal_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year).keys())


def is_us_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _us_federal_holidays(day.year)


def add_business_days(day: date, business_days: int) -> date:
    """The ``business_days``-th US business day after ``day`` (``day`` itself never counts)."""
    current = day
    remaining = business_days
    while remaining > 0:
        current += timedelta(days=1)
        if is_us_business_day(current):
            remaining -= 1
    return current


def local_day(moment: datetime, timezone: str) -> date:
    """The day ``moment`` falls on in ``timezone`` (naive datetimes are taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).date()


def receipt_day(received_at: datetime, timezone: str) -> date:
    """The tenant-local day a request arrived (naive datetimes are taken as UTC)."""
    return local_day(received_at, timezone)


def evidence_dates(
    timezone: str,
    *,
    received_on: date,
    due_date: date,
    extended_due_date: date | None = None,
    ack_due_date: date | None = None,
    completed_at: datetime | None = None,
) -> dict[str, str | None]:
    """A request's dates as its evidence states them: every one a day of the tenant's zone,
    named in ``time_zone`` (the completion instant becomes its tenant-local day)."""
    completed_on = local_day(completed_at, timezone) if completed_at is not None else None
    return {
        "time_zone": timezone,
        "received_on": received_on.isoformat(),
        "due_date": due_date.isoformat(),
        "extended_due_date": extended_due_date.isoformat() if extended_due_date else None,
        "ack_due_date": ack_due_date.isoformat() if ack_due_date else None,
        "completed_on": completed_on.isoformat() if completed_on else None,
    }


def due_date(jurisdiction: str, received_on: date) -> date:
    """The first deadline, counted from receipt."""
    _check_jurisdiction(jurisdiction)
    if jurisdiction == GDPR:
        return add_calendar_months(received_on, GDPR_MONTHS)
    if jurisdiction == CCPA:
        return received_on + timedelta(days=CCPA_DAYS)
    return received_on + timedelta(days=AU_DAYS)


def extended_due_date(jurisdiction: str, received_on: date) -> date:
    """The deadline once extended; refused where the law allows no extension."""
    first = due_date(jurisdiction, received_on)
    if jurisdiction == GDPR:
        return add_calendar_months(first, GDPR_EXTENSION_MONTHS)
    if jurisdiction == CCPA:
        return first + timedelta(days=CCPA_EXTENSION_DAYS)
    raise ExtensionNotAllowed("Australian requests have no statutory extension (APP 12.4)")


def acknowledgement_due_date(jurisdiction: str, received_on: date) -> date | None:
    """CCPA only: acknowledge within 10 business days of receipt."""
    _check_jurisdiction(jurisdiction)
    if jurisdiction == CCPA:
        return add_business_days(received_on, CCPA_ACK_BUSINESS_DAYS)
    return None


def statutory_clock(jurisdiction: str, received_on: date) -> StatutoryClock:
    try:
        extended: date | None = extended_due_date(jurisdiction, received_on)
    except ExtensionNotAllowed:
        extended = None
    return StatutoryClock(
        jurisdiction=jurisdiction,
        received_on=received_on,
        due_date=due_date(jurisdiction, received_on),
        extended_due_date=extended,
        ack_due_date=acknowledgement_due_date(jurisdiction, received_on),
    )


def extend(
    jurisdiction: str, received_on: date, reason: str, already_extended: bool
) -> tuple[date, str]:
    """New deadline and the cleaned reason; one extension per request, a reason is required."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ExtensionNotAllowed("an extension needs a reason (--reason)")
    if len(cleaned) > 500:
        raise ExtensionNotAllowed("the extension reason must be at most 500 characters")
    if already_extended:
        raise ExtensionNotAllowed("this request was already extended; the law allows one extension")
    return extended_due_date(jurisdiction, received_on), cleaned


def effective_due_date(due: date, extended_due: date | None) -> date:
    return extended_due or due


def days_left(due: date, today: date) -> int:
    """Whole days until the deadline: 0 on the due day, negative once overdue."""
    return (due - today).days


def is_overdue(due: date, today: date) -> bool:
    return days_left(due, today) < 0


def evidence_purge_on(completed_on: date, years: int) -> date:
    """The first day a done request's evidence may be purged: ``years`` calendar years after
    its completion day (29 February falls back to 28 February)."""
    if years < 1:
        raise ValueError("evidence is kept for at least one year")
    return add_calendar_months(completed_on, 12 * years)
