"""When an allowed number may be called, in the callee's local time.

The callee's time zone comes from the number (``phonenumbers.timezone``: a New York area code
maps to ``America/New_York``, a Sydney landline to ``Australia/Sydney``). A number that may be
in several zones (an Australian mobile, a US toll-free number) only gets the hours permitted in
*every* one of them: the platform never calls someone outside their hours because it guessed
their zone. That intersection can be empty; such a number is allowed but has no window.

Rules per country (local time of the callee):

- AU (Telemarketing and Research Industry Standard 2017): Mon-Fri 09:00-20:00, Sat 09:00-17:00,
  never on Sundays or national public holidays.
- US (Telemarketing Sales Rule / TCPA): 08:00-21:00 every day.
- CA (CRTC Unsolicited Telecommunications Rules): Mon-Fri 09:00-21:30, Sat-Sun 10:00-18:00.
- SG (no statutory hours; platform default): Mon-Fri 09:00-21:00, Sat 09:00-17:00, never on
  Sundays or public holidays.
- GB (no statutory hours; platform default after the DMA code): Mon-Sat 08:00-21:00, never on
  Sundays or bank holidays.
- any other country (platform default): Mon-Fri 09:00-20:00, never on weekends or holidays.

Public holidays come from the ``holidays`` package, national holidays only (no subdivision).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from phonenumbers import timezone as number_timezones
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX

UNKNOWN_ZONE = "Etc/Unknown"
Hours = tuple[time, time]


@dataclass(frozen=True)
class CallingRule:
    """Permitted local hours per weekday (0 = Monday); a missing weekday means no calls."""

    country: str
    hours: Mapping[int, Hours]
    no_public_holidays: bool
    description: str

    def hours_on(self, day: date, country_holidays: Iterable[date] | None) -> Hours | None:
        if self.no_public_holidays and country_holidays is not None and day in country_holidays:
            return None
        return self.hours.get(day.weekday())


def _every(days: Iterable[int], start: str, end: str) -> dict[int, Hours]:
    return {day: (time.fromisoformat(start), time.fromisoformat(end)) for day in days}


WEEKDAYS = range(0, 5)
CALLING_RULES: dict[str, CallingRule] = {
    "AU": CallingRule(
        "AU",
        {**_every(WEEKDAYS, "09:00", "20:00"), **_every([5], "09:00", "17:00")},
        True,
        "Mon-Fri 09:00-20:00, Sat 09:00-17:00, none on Sundays or national public holidays",
    ),
    "US": CallingRule("US", _every(range(7), "08:00", "21:00"), False, "08:00-21:00 every day"),
    "CA": CallingRule(
        "CA",
        {**_every(WEEKDAYS, "09:00", "21:30"), **_every([5, 6], "10:00", "18:00")},
        False,
        "Mon-Fri 09:00-21:30, Sat-Sun 10:00-18:00",
    ),
    "SG": CallingRule(
        "SG",
        {**_every(WEEKDAYS, "09:00", "21:00"), **_every([5], "09:00", "17:00")},
        True,
        "Mon-Fri 09:00-21:00, Sat 09:00-17:00, none on Sundays or public holidays",
    ),
    "GB": CallingRule(
        "GB",
        _every(range(6), "08:00", "21:00"),
        True,
        "Mon-Sat 08:00-21:00, none on Sundays or bank holidays",
    ),
}
DEFAULT_RULE = CallingRule(
    "",
    _every(WEEKDAYS, "09:00", "20:00"),
    True,
    "Mon-Fri 09:00-20:00, none on weekends or holidays",
)


def rule_for(country: str) -> CallingRule:
    return CALLING_RULES.get(country, DEFAULT_RULE)


@dataclass(frozen=True)
class CallingWindows:
    """Permitted intervals (UTC, half-open) over a horizon, for one number's possible zones."""

    country: str
    timezones: tuple[str, ...]
    rule: str
    windows: tuple[tuple[datetime, datetime], ...] = field(default_factory=tuple)

    def as_document(self) -> dict:
        """JSON-ready: zones, the rule, and each window in UTC and in the first zone's local time."""
        local = ZoneInfo(self.timezones[0]) if self.timezones else UTC
        return {
            "country": self.country,
            "timezones": list(self.timezones),
            "rule": self.rule,
            "windows": [
                {
                    "start_utc": start.isoformat(),
                    "end_utc": end.isoformat(),
                    "start_local": start.astimezone(local).isoformat(),
                    "end_local": end.astimezone(local).isoformat(),
                }
                for start, end in self.windows
            ],
        }

    def permits(self, instant: datetime) -> bool:
        return any(start <= instant < end for start, end in self.windows)


def time_zones_for(e164: str) -> tuple[str, ...]:
    """IANA zones a number may be in (empty when the numbering plan does not say)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = number_timezones.time_zones_for_number(parsed)
    return tuple(sorted(zone for zone in zones if zone != UNKNOWN_ZONE))


def _local_interval(zone: ZoneInfo, day: date, hours: Hours) -> tuple[datetime, datetime]:
    start = datetime.combine(day, hours[0], tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, hours[1], tzinfo=zone).astimezone(UTC)
    return start, end


@lru_cache(maxsize=64)
def _holidays(country: str, years: tuple[int, ...]) -> frozenset[date]:
    if not country:
        return frozenset()
    try:
        table = holidays.country_holidays(country, years=years)
    except NotImplementedError:
        return frozenset()
    return frozenset(table.keys())


def zone_windows(
    zone_name: str, country: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Permitted UTC intervals in one zone between ``start`` and ``end``."""
    rule = rule_for(country)
    zone = ZoneInfo(zone_name)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    years = tuple(range(first.year, last.year + 1))
    public_holidays = _holidays(country, years) if rule.no_public_holidays else None
    intervals = []
    day = first
    while day <= last:
        hours = rule.hours_on(day, public_holidays)
        if hours is not None:
            low, high = _local_interval(zone, day, hours)
            low, high = max(low, start), min(high, end)
            if low < high:
                intervals.append((low, high))
        day += timedelta(days=1)
    return intervals


def _intersect(
    left: list[tuple[datetime, datetime]], right: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    result, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        low = max(left[i][0], right[j][0])
        high = min(left[i][1], right[j][1])
        if low < high:
            result.append((low, high))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


def calling_windows(
    country: str, zones: Iterable[str], start: datetime, end: datetime
) -> CallingWindows:
    """Windows permitted in every one of ``zones`` between ``start`` and ``end`` (aware)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("calling windows need time-zone-aware start and end")
    zone_list = tuple(sorted(set(zones)))
    rule = rule_for(country)
    if not zone_list:
        return CallingWindows(country, (), rule.description, ())
    windows = zone_windows(zone_list[0], country, start, end)
    for zone in zone_list[1:]:
        windows = _intersect(windows, zone_windows(zone, country, start, end))
    return CallingWindows(country, zone_list, rule.description, tuple(windows))


def windows_for_number(e164: str, country: str, start: datetime, end: datetime) -> CallingWindows:
    """Calling windows of one E.164 number whose country is ``country``."""
    return calling_windows(country, time_zones_for(e164), start, end)


class WindowCalculator:
    """Windows for many numbers over one horizon, computed once per distinct zone set."""

    def __init__(self, start: datetime, end: datetime):
        self.start, self.end = start, end
        self._by_zones: dict[tuple[str, tuple[str, ...]], CallingWindows] = {}
        self._by_prefix: dict[str, tuple[str, ...]] = {}

    def zones(self, e164: str) -> tuple[str, ...]:
        """Zones by the number's first digits: the time-zone map is keyed by prefixes of at
        most ``TIMEZONE_LONGEST_PREFIX`` digits, so numbers sharing them share their zones."""
        prefix = e164[1 : 1 + TIMEZONE_LONGEST_PREFIX]
        zones = self._by_prefix.get(prefix)
        if zones is None:
            zones = time_zones_for(e164)
            self._by_prefix[prefix] = zones
        return zones

    def for_number(self, e164: str, country: str) -> CallingWindows:
        return self.for_zones(country, self.zones(e164))

    def for_zones(self, country: str, zones: tuple[str, ...]) -> CallingWindows:
        """Windows of a zone set, computed once per (country, zones)."""
        key = (country, zones)
        found = self._by_zones.get(key)
        if found is None:
            found = calling_windows(country, zones, self.start, self.end)
            self._by_zones[key] = found
        return found
