"""Daily call volumes per tenant, assembled from counts measured table by table.

Each measure (calls, recordings, quarantined items ...) is counted separately, and a tenant-day
that has some measures but not others must still get one complete row, with zeros where nothing
was counted, so a day with calls but no recordings reads as 0 recordings, not as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

VOLUME_MEASURES = (
    "calls",
    "answered_calls",
    "billed_seconds",
    "recordings",
    "recording_bytes",
    "transcripts",
    "ai_outputs",
    "crm_links",
    "quarantined_items",
)


@dataclass(frozen=True)
class DayVolume:
    """Counts of one tenant's call day; no record, number or name."""

    tenant_id: str
    call_day: date
    measures: Mapping[str, int] = field(default_factory=dict)

    def as_row(self) -> dict[str, object]:
        return {"tenant_id": self.tenant_id, "call_day": self.call_day} | {
            name: int(self.measures.get(name, 0)) for name in VOLUME_MEASURES
        }


def assemble_day_volumes(
    measured: Mapping[str, Iterable[tuple[str, date, int | None]]],
) -> list[DayVolume]:
    """One row per (tenant, day) seen in any measure, every measure filled (0 when absent)."""
    unknown = set(measured) - set(VOLUME_MEASURES)
    if unknown:
        raise ValueError(f"unknown volume measure(s): {', '.join(sorted(unknown))}")
    by_day: dict[tuple[str, date], dict[str, int]] = {}
    for name, rows in measured.items():
        for tenant_id, call_day, value in rows:
            counts = by_day.setdefault((tenant_id, call_day), dict.fromkeys(VOLUME_MEASURES, 0))
            counts[name] += int(value or 0)
    return [
        DayVolume(tenant_id, call_day, counts)
        for (tenant_id, call_day), counts in sorted(by_day.items())
    ]


def volume_totals(volumes: Iterable[DayVolume]) -> dict[str, int]:
    """Every measure summed over tenants and days: what a run reports about its range."""
    totals = dict.fromkeys(VOLUME_MEASURES, 0)
    for volume in volumes:
        for name in VOLUME_MEASURES:
            totals[name] += int(volume.measures.get(name, 0))
    return totals


def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Days grouped into runs of consecutive days, as (first, last), in order: each becomes one
    run over its range, and days in between that need nothing are not recounted."""
    ordered = sorted(set(days))
    ranges: list[tuple[date, date]] = []
    for day in ordered:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
