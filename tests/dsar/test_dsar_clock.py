"""The statutory clock runs from receipt: calendar months at month ends, leap years, CCPA
business days, and one extension with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cm_pipelines.domain.dsar.clock import (
    ExtensionNotAllowed,
    acknowledgement_due_date,
    add_business_days,
    add_calendar_months,
    days_left,
    due_date,
    effective_due_date,
    evidence_dates,
    extend,
    extended_due_date,
    is_overdue,
    receipt_day,
    statutory_clock,
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),  # no 31 February: last day of the month
        (date(2024, 1, 31), date(2024, 2, 29)),  # leap year
        (date(2024, 1, 29), date(2024, 2, 29)),
        (date(2025, 1, 29), date(2025, 2, 28)),
        (date(2025, 3, 31), date(2025, 4, 30)),
        (date(2025, 8, 31), date(2025, 9, 30)),
        (date(2025, 12, 31), date(2026, 1, 31)),  # across the year end
        (date(2025, 2, 28), date(2025, 3, 28)),  # same day number, not "end of month"
        (date(2024, 2, 29), date(2024, 3, 29)),
        (date(2025, 6, 15), date(2025, 7, 15)),
    ],
)
def test_gdpr_is_one_calendar_month_from_receipt(received: date, due: date) -> None:
    assert due_date("gdpr", received) == due


def test_gdpr_extension_adds_two_months_to_the_original_deadline() -> None:
    assert extended_due_date("gdpr", date(2024, 1, 31)) == date(2024, 4, 29)
    assert extended_due_date("gdpr", date(2025, 1, 31)) == date(2025, 4, 28)
    assert extended_due_date("gdpr", date(2025, 10, 31)) == date(2026, 1, 30)
    assert extended_due_date("gdpr", date(2025, 11, 15)) == date(2026, 2, 15)


def test_ccpa_is_45_days_extendable_by_45() -> None:
    assert due_date("ccpa", date(2025, 1, 1)) == date(2025, 2, 15)
    assert extended_due_date("ccpa", date(2025, 1, 1)) == date(2025, 4, 1)
    assert due_date("ccpa", date(2024, 2, 1)) == date(2024, 3, 17)  # leap February counts 29


def test_ccpa_acknowledgement_counts_business_days_skipping_weekends_and_holidays() -> None:
    # Friday 2025-12-19: weekends, Christmas (Thu 25) and New Year's Day (Thu 1) do not count.
    assert acknowledgement_due_date("ccpa", date(2025, 12, 19)) == date(2026, 1, 6)
    # Monday 2025-03-03, no holidays: ten business days later is Monday 2025-03-17.
    assert acknowledgement_due_date("ccpa", date(2025, 3, 3)) == date(2025, 3, 17)
    assert acknowledgement_due_date("gdpr", date(2025, 3, 3)) is None
    assert add_business_days(date(2025, 3, 7), 1) == date(2025, 3, 10)  # Friday -> Monday


def test_australia_is_30_days_without_extension() -> None:
    assert due_date("au", date(2025, 1, 31)) == date(2025, 3, 2)
    with pytest.raises(ExtensionNotAllowed):
        extended_due_date("au", date(2025, 1, 31))
    assert statutory_clock("au", date(2025, 1, 31)).extended_due_date is None


def test_extension_needs_a_reason_and_happens_once() -> None:
    new_due, reason = extend("gdpr", date(2025, 1, 31), "  complex   request  ", False)
    assert (new_due, reason) == (date(2025, 4, 28), "complex request")
    with pytest.raises(ExtensionNotAllowed, match="reason"):
        extend("gdpr", date(2025, 1, 31), "   ", False)
    with pytest.raises(ExtensionNotAllowed, match="already"):
        extend("gdpr", date(2025, 1, 31), "again", True)
    with pytest.raises(ExtensionNotAllowed, match="Australian"):
        extend("au", date(2025, 1, 31), "complex", False)


def test_receipt_is_the_tenant_local_day() -> None:
    late_utc = datetime(2025, 1, 30, 14, 30, tzinfo=UTC)  # 01:30 on 31 January in Sydney
    assert receipt_day(late_utc, "Australia/Sydney") == date(2025, 1, 31)
    assert receipt_day(late_utc, "America/New_York") == date(2025, 1, 30)
    assert receipt_day(datetime(2025, 1, 30, 23, 0), "UTC") == date(2025, 1, 30)


def test_days_left_and_overdue() -> None:
    due = date(2025, 2, 28)
    assert days_left(due, date(2025, 2, 20)) == 8
    assert days_left(due, due) == 0 and not is_overdue(due, due)
    assert days_left(due, date(2025, 3, 2)) == -2 and is_overdue(due, date(2025, 3, 2))
    assert effective_due_date(due, None) == due
    assert effective_due_date(due, date(2025, 4, 28)) == date(2025, 4, 28)


def test_calendar_months_clamp_and_unknown_jurisdictions_are_refused() -> None:
    assert add_calendar_months(date(2023, 12, 31), 2) == date(2024, 2, 29)
    assert add_calendar_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    with pytest.raises(ValueError, match="jurisdiction"):
        due_date("pdpa", date(2025, 1, 1))


def test_evidence_dates_are_all_days_of_the_tenant_zone_around_midnight() -> None:
    """Sydney is UTC+11 in December: a request received and completed shortly after local
    midnight is received and completed on the Sydney day, though the UTC date is the day before."""
    received_at = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)  # 00:30 on 1 December in Sydney
    completed_at = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)  # 01:05 on 1 December in Sydney
    received_on = receipt_day(received_at, "Australia/Sydney")
    clock = statutory_clock("au", received_on)
    dates = evidence_dates(
        "Australia/Sydney",
        received_on=received_on,
        due_date=clock.due_date,
        completed_at=completed_at,
    )
    assert dates == {
        "time_zone": "Australia/Sydney",
        "received_on": "2026-12-01",
        "due_date": "2026-12-31",
        "extended_due_date": None,
        "ack_due_date": None,
        "completed_on": "2026-12-01",
    }
    assert completed_at.date().isoformat() == "2026-11-30"  # what a UTC date would have said
    behind = evidence_dates(
        "America/Los_Angeles",
        received_on=receipt_day(received_at, "America/Los_Angeles"),
        due_date=clock.due_date,
        completed_at=completed_at,
    )
    assert (behind["received_on"], behind["completed_on"]) == ("2026-11-30", "2026-11-30")
