"""Calling windows in the callee's local time: across time zones, DST and public holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cm_pipelines.domain.dncr.calling_windows import (
    WindowCalculator,
    calling_windows,
    time_zones_for,
    windows_for_number,
)

SYDNEY = ZoneInfo("Australia/Sydney")
PERTH = ZoneInfo("Australia/Perth")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")

SYDNEY_LANDLINE = "+61255501234"
AU_MOBILE = "+61491570156"
NEW_YORK_NUMBER = "+12125550147"
SAN_FRANCISCO_NUMBER = "+14155550123"
LONDON_NUMBER = "+442079460123"
SINGAPORE_MOBILE = "+6591234567"


def local_windows(e164: str, country: str, day: datetime, zone: ZoneInfo) -> list[tuple[str, str]]:
    """Windows of one local day, as local HH:MM pairs."""
    start = day.replace(tzinfo=zone)
    result = windows_for_number(e164, country, start, start + timedelta(days=1))
    return [
        (a.astimezone(zone).strftime("%H:%M"), b.astimezone(zone).strftime("%H:%M"))
        for a, b in result.windows
    ]


def test_numbers_map_to_their_time_zones() -> None:
    assert time_zones_for(SYDNEY_LANDLINE) == ("Australia/Sydney",)
    assert time_zones_for(NEW_YORK_NUMBER) == ("America/New_York",)
    assert time_zones_for(SAN_FRANCISCO_NUMBER) == ("America/Los_Angeles",)
    assert "Australia/Perth" in time_zones_for(AU_MOBILE)
    assert time_zones_for("+999") == ()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime(2026, 12, 1), [("09:00", "20:00")]),  # Tuesday, daylight saving (UTC+11)
        (datetime(2026, 6, 2), [("09:00", "20:00")]),  # Tuesday, standard time (UTC+10)
        (datetime(2026, 12, 5), [("09:00", "17:00")]),  # Saturday
        (datetime(2026, 12, 6), []),  # Sunday
        (datetime(2026, 1, 26), []),  # Australia Day, a Monday national public holiday
        (datetime(2026, 12, 25), []),  # Christmas Day
    ],
)
def test_australian_hours_weekdays_saturdays_never_sundays_or_public_holidays(
    day: datetime, expected: list[tuple[str, str]]
) -> None:
    assert local_windows(SYDNEY_LANDLINE, "AU", day, SYDNEY) == expected


def test_the_same_utc_hours_differ_across_daylight_saving() -> None:
    summer = calling_windows(
        "AU",
        ["Australia/Sydney"],
        datetime(2026, 12, 1, tzinfo=SYDNEY),
        datetime(2026, 12, 2, tzinfo=SYDNEY),
    )
    winter = calling_windows(
        "AU",
        ["Australia/Sydney"],
        datetime(2026, 6, 2, tzinfo=SYDNEY),
        datetime(2026, 6, 3, tzinfo=SYDNEY),
    )
    assert summer.windows[0][0].astimezone(UTC).hour == 22  # 09:00 AEDT
    assert winter.windows[0][0].astimezone(UTC).hour == 23  # 09:00 AEST


def test_us_hours_are_local_to_each_coast_and_apply_on_holidays() -> None:
    july_4 = datetime(2026, 7, 4)
    assert local_windows(NEW_YORK_NUMBER, "US", july_4, NEW_YORK) == [("08:00", "21:00")]
    assert local_windows(SAN_FRANCISCO_NUMBER, "US", july_4, LOS_ANGELES) == [("08:00", "21:00")]
    start = datetime(2026, 7, 6, 12, 0, tzinfo=UTC)  # 08:00 in New York, 05:00 in San Francisco
    calculator = WindowCalculator(start - timedelta(days=1), start + timedelta(days=1))
    assert calculator.for_number(NEW_YORK_NUMBER, "US").permits(start)
    assert not calculator.for_number(SAN_FRANCISCO_NUMBER, "US").permits(start)
    assert calculator.for_number(SAN_FRANCISCO_NUMBER, "US").permits(start + timedelta(hours=3))


def test_a_number_in_several_zones_gets_only_hours_permitted_in_all_of_them() -> None:
    start = datetime(2026, 12, 1, tzinfo=SYDNEY)
    mobile = windows_for_number(AU_MOBILE, "AU", start, start + timedelta(days=1))
    assert len(mobile.timezones) > 1
    assert len(mobile.windows) == 1
    window_start, window_end = mobile.windows[0]
    assert window_start.astimezone(PERTH).hour >= 9  # no earlier than 09:00 in Perth
    assert window_end.astimezone(SYDNEY).hour <= 20  # no later than 20:00 in Sydney
    nine_in_sydney = datetime(2026, 12, 1, 9, 30, tzinfo=SYDNEY)  # 06:30 in Perth
    assert windows_for_number(SYDNEY_LANDLINE, "AU", start, start + timedelta(days=1)).permits(
        nine_in_sydney
    )
    assert not mobile.permits(nine_in_sydney)


def test_british_and_singaporean_defaults() -> None:
    assert local_windows(LONDON_NUMBER, "GB", datetime(2026, 12, 5), LONDON) == [
        ("08:00", "21:00")
    ]  # Saturday
    assert local_windows(LONDON_NUMBER, "GB", datetime(2026, 12, 6), LONDON) == []  # Sunday
    assert local_windows(LONDON_NUMBER, "GB", datetime(2026, 4, 3), LONDON) == []  # Good Friday
    singapore = ZoneInfo("Asia/Singapore")
    assert local_windows(SINGAPORE_MOBILE, "SG", datetime(2026, 12, 5), singapore) == [
        ("09:00", "17:00")
    ]
    assert local_windows(SINGAPORE_MOBILE, "SG", datetime(2026, 12, 25), singapore) == []


def test_a_window_is_cut_to_the_horizon() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=SYDNEY)
    result = windows_for_number(SYDNEY_LANDLINE, "AU", start, start + timedelta(hours=2))
    assert result.windows == (
        (start.astimezone(UTC), (start + timedelta(hours=2)).astimezone(UTC)),
    )
    document = result.as_document()
    assert document["windows"][0]["start_local"].startswith("2026-12-01T12:00:00+11:00")


def test_unknown_zones_give_no_window_and_naive_times_are_refused() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert calling_windows("AU", [], start, start + timedelta(days=1)).windows == ()
    with pytest.raises(ValueError, match="time-zone-aware"):
        calling_windows("AU", ["Australia/Sydney"], datetime(2026, 12, 1), datetime(2026, 12, 2))
