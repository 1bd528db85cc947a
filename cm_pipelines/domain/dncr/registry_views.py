"""One registry's verdict on every row of a wash: whether it applies to the number, lists it,
and has fresh evidence about it.

A registry applies to a number valid for the registry's country. A downloadable registry's
snapshot speaks for every number at once; a wash-only registry has one dated result per number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from cm_pipelines.domain.dncr.evidence import (
    DownloadableEvidence,
    Evidence,
    WashOnlyEvidence,
    evidence_instant,
    is_fresh,
)
from cm_pipelines.domain.dncr.number_sets import sorted_unique
from cm_pipelines.domain.dncr.number_validity import country_validity
from cm_pipelines.domain.dncr.registries import Registry


@dataclass
class RegistryView:
    """One registry's verdict on every row."""

    registry: Registry
    applies: np.ndarray
    listed: np.ndarray
    fresh: np.ndarray
    as_of: list[datetime | None]
    version_id: str | None


def registry_view(evidence: Evidence, ints: np.ndarray, washed_at: datetime) -> RegistryView:
    """The verdict of one registry's evidence on E.164 integers (-1: an invalid number)."""
    registry = evidence.registry
    applies = registry_applies(registry, ints)
    rows = ints.size
    if isinstance(evidence, DownloadableEvidence):
        if evidence.version_id is None or evidence.index is None or evidence.data_as_of is None:
            return _without_evidence(registry, applies)
        listed = applies & evidence.index.contains(ints)
        fresh = np.full(rows, is_fresh(registry, evidence.data_as_of, washed_at)) & applies
        return RegistryView(
            registry, applies, listed, fresh, [evidence.data_as_of] * rows, evidence.version_id
        )
    if evidence.version_id is None or evidence.index is None:
        return _without_evidence(registry, applies)
    return _wash_only_view(evidence, applies, ints, washed_at)


def registry_applies(registry: Registry, ints: np.ndarray) -> np.ndarray:
    """Rows holding a valid number of the registry's country (-1 rows never apply)."""
    valid_rows = ints >= 0
    unique, _ = sorted_unique(ints[valid_rows].copy())
    validity = country_validity(unique, registry.country).valid
    result = np.zeros(ints.size, bool)
    if unique.size:
        position = np.minimum(np.searchsorted(unique, ints), unique.size - 1)
        result = valid_rows & (unique[position] == ints) & validity[position]
    return result


def _without_evidence(registry: Registry, applies: np.ndarray) -> RegistryView:
    """No version promoted: nothing listed, nothing fresh (the wash fails closed)."""
    rows = applies.size
    return RegistryView(
        registry, applies, np.zeros(rows, bool), np.zeros(rows, bool), [None] * rows, None
    )


def _wash_only_view(
    evidence: WashOnlyEvidence, applies: np.ndarray, ints: np.ndarray, washed_at: datetime
) -> RegistryView:
    """Each number's own latest result: listed if registered, fresh by its own wash day."""
    assert evidence.index is not None
    registry = evidence.registry
    rows = ints.size
    positions = evidence.index.positions(ints)
    has = applies & (positions >= 0)
    safe = np.maximum(positions, 0)
    listed = has & evidence.registered[safe] if evidence.registered.size else np.zeros(rows, bool)
    days = evidence.wash_days[safe] if evidence.wash_days.size else np.zeros(rows, "datetime64[D]")
    instants: dict[np.datetime64, datetime] = {}
    as_of: list[datetime | None] = []
    fresh = np.zeros(rows, bool)
    for row in range(rows):
        if not has[row]:
            as_of.append(None)
            continue
        day = days[row]
        instant = instants.get(day)
        if instant is None:
            instant = evidence_instant(registry, date.fromisoformat(str(day)))
            instants[day] = instant
        as_of.append(instant)
        fresh[row] = is_fresh(registry, instant, washed_at)
    return RegistryView(registry, applies, listed, fresh, as_of, evidence.version_id)
