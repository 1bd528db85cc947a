"""The evidence a wash decision rests on: a registry's active version, and how long it holds.

Freshness is inclusive: data of instant T with a validity of N days may be relied on up to and
including T + N days, and not a microsecond later. A file of day D is evidence from the start of
D in the registry's time zone, so a day-stamped result never claims to be fresher than it can be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.registries import Registry


def evidence_instant(registry: Registry, day: date) -> datetime:
    """Start of ``day`` in the registry's time zone: the earliest instant a file of that day
    can describe."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(registry.timezone))


def evidence_valid_until(registry: Registry, as_of: datetime) -> datetime:
    """Last instant (inclusive) evidence of ``as_of`` may be relied on."""
    return as_of + timedelta(days=registry.validity_days)


def is_fresh(registry: Registry, as_of: datetime, at: datetime) -> bool:
    return at <= evidence_valid_until(registry, as_of)


def local_day(registry: Registry, instant: datetime) -> date:
    """The registry's own calendar day of an instant (the day its file is dated)."""
    return instant.astimezone(ZoneInfo(registry.timezone)).date()


@dataclass(frozen=True)
class DownloadableEvidence:
    """The active snapshot of a downloadable registry (``version_id`` None: none promoted)."""

    registry: Registry
    version_id: str | None = None
    data_as_of: datetime | None = None
    index: NumberIndex | None = None


@dataclass(frozen=True)
class WashOnlyEvidence:
    """The active result set of a wash-only registry, aligned arrays sorted by number."""

    registry: Registry
    version_id: str | None = None
    index: NumberIndex | None = None
    registered: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    wash_days: np.ndarray = field(default_factory=lambda: np.empty(0, "datetime64[D]"))


Evidence = DownloadableEvidence | WashOnlyEvidence


def evidence_document(result: Mapping[str, object]) -> dict[str, object]:
    """The evidence of one result as JSON-ready values (ids, dates, the rule - no number)."""
    evidence_date = result.get("evidence_date")
    return {
        "registry_id": result.get("registry_id"),
        "registry_version": result.get("registry_version"),
        "evidence_date": evidence_date.isoformat() if isinstance(evidence_date, date) else None,
        "evidence_age_days": result.get("evidence_age_days"),
        "rule": result.get("rule"),
    }
