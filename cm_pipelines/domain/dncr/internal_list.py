"""The tenant's own do-not-call list: where a request came from, by when it must be honoured and
how long it lasts.

US rules (47 CFR 64.1200(d)(3)) require a person's do-not-call request to be recorded and honoured
within a reasonable time not exceeding ten business days from receipt, and kept for five years.
Business days are counted in the tenant's calendar: its time zone decides the day a request was
received, weekends and its country's national public holidays do not count, and the deadline is
the end of the tenth business day after the day of receipt. An entry lasts at least five years
(a longer expiry may be asked for, a shorter one is refused).

Intake sources: an agent's opt-out disposition on a call, an IVR opt-out, an SMS STOP reply, a
list file the client supplies, an operator at the command line, and DSAR objections.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pandas as pd

HONOUR_BUSINESS_DAYS = 10
MIN_YEARS = 5
SOURCES: tuple[str, ...] = (
    "call_disposition",
    "ivr_opt_out",
    "sms_stop",
    "client_list",
    "operator",
    "dsar_objection",
)
"""Where an internal do-not-call entry came from (``suppression_entries.source``)."""
FILE_SOURCES: tuple[str, ...] = ("call_disposition", "ivr_opt_out", "sms_stop", "client_list")
OPT_OUT_COLUMNS: tuple[str, ...] = ("phone", "received_at", "source")


class OptOutFileError(ValueError):
    """An opt-out file that cannot be read at all (nothing of it is taken)."""


def business_day_deadline(received_at: datetime, timezone: str, country: str) -> datetime:
    """End (exclusive instant, UTC) of the tenth business day after the day of receipt, in the
    tenant's time zone and calendar."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be time-zone aware")
    zone = ZoneInfo(timezone)
    day = received_at.astimezone(zone).date()
    closed = _public_holidays(country, day.year)
    counted = 0
    while counted < HONOUR_BUSINESS_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


def _public_holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=(year, year + 1)).keys())
    except NotImplementedError:
        return frozenset()


def entry_expiry(received_at: datetime, asked: datetime | None = None) -> datetime:
    """Five years from receipt, or a later expiry asked for; an earlier one is refused."""
    floor = (pd.Timestamp(received_at) + pd.DateOffset(years=MIN_YEARS)).to_pydatetime()
    if asked is None:
        return floor.astimezone(UTC)
    if asked < floor:
        raise ValueError(
            f"an internal do-not-call entry lasts at least {MIN_YEARS} years "
            "(47 CFR 64.1200(d)(6)); a shorter expiry is refused"
        )
    return asked.astimezone(UTC)


@dataclass(frozen=True)
class OptOutLine:
    """One readable line of an opt-out file: the raw number, when it was received, its source."""

    line: int
    phone: str
    received_at: datetime
    source: str


@dataclass(frozen=True)
class BadOptOutLine:
    line: int
    reason: str
    raw: str


def parse_opt_out_file(
    data: bytes, default_source: str
) -> tuple[list[OptOutLine], list[BadOptOutLine]]:
    """An opt-out CSV (header ``phone,received_at[,source]``): IVR and SMS platforms export their
    opt-out events in this shape, agents' dispositions and client lists too. Lines without a
    number, with an unreadable or zone-less time, or naming an unknown source are returned as
    bad lines with a reason; ``default_source`` applies where the file has no source column."""
    if default_source not in FILE_SOURCES:
        raise OptOutFileError(f"unknown opt-out source {default_source!r}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OptOutFileError("opt-out file is not UTF-8") from exc
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    if "phone" not in header or "received_at" not in header:
        raise OptOutFileError("opt-out file needs a header with 'phone' and 'received_at'")
    good: list[OptOutLine] = []
    bad: list[BadOptOutLine] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        record = dict(zip(header, (cell.strip() for cell in row), strict=False))
        problem, parsed = _opt_out_line(number, record, default_source)
        if parsed is None:
            bad.append(BadOptOutLine(number, problem, ",".join(row)))
        else:
            good.append(parsed)
    return good, bad


def _opt_out_line(
    number: int, record: dict[str, str], default_source: str
) -> tuple[str, OptOutLine | None]:
    phone = record.get("phone", "")
    if not phone:
        return "missing_phone", None
    try:
        received_at = datetime.fromisoformat(record.get("received_at", ""))
    except ValueError:
        return "bad_received_at", None
    if received_at.tzinfo is None:
        return "received_at_without_zone", None
    source = record.get("source") or default_source
    if source not in FILE_SOURCES:
        return "unknown_source", None
    return "", OptOutLine(number, phone, received_at.astimezone(UTC), source)
