"""Washing a whole list with array operations: the decisions, reasons, evidence, ``valid_until``
and calling windows of ``washing.wash``, without a Python step per row.

A row's decision depends only on a handful of facts: invalid, suppressed, the exemption found
for its hash, and per registry whether it applies, lists the number, is fresh and which evidence
instant it rests on. Those facts are arrays (registry membership through ``NumberIndex``,
suppression and consents through hash joins), packed into one integer key per row; a list of
millions of numbers has a few dozen distinct keys (plus one per consenting number). Each
distinct key is decided once by ``wash_decisions.decide_row`` - the same precedence, rule text
and evidence the row path writes, so the two cannot drift - and the result is gathered back to
every row. Calling windows are computed once per (country, time-zone set, expiry) and joined
back the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from cm_pipelines.domain.dncr.calling_windows import WindowCalculator
from cm_pipelines.domain.dncr.evidence import (
    DownloadableEvidence,
    Evidence,
    WashOnlyEvidence,
    evidence_instant,
    is_fresh,
)
from cm_pipelines.domain.dncr.exemptions import Exemption, best_exemptions
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.registry_views import RegistryView, registry_applies
from cm_pipelines.domain.dncr.wash_decisions import decide_row
from cm_pipelines.domain.dncr.washing import (
    DECIDED_COLUMNS,
    DEFAULT_REWASH_DAYS,
    WINDOW_HORIZON_DAYS,
    window_document,
)


@dataclass
class ArrayView:
    """One registry's verdict as arrays: ``as_of_code`` indexes ``instants`` (-1: none)."""

    registry: Registry
    version_id: str | None
    applies: np.ndarray
    listed: np.ndarray
    fresh: np.ndarray
    as_of_code: np.ndarray
    instants: list[datetime]

    def at(self, rows: np.ndarray) -> RegistryView:
        """The row path's view of the chosen rows only (representatives of each key)."""
        codes = self.as_of_code[rows]
        as_of = [self.instants[c] if c >= 0 else None for c in codes.tolist()]
        return RegistryView(
            self.registry,
            self.applies[rows],
            self.listed[rows],
            self.fresh[rows],
            as_of,
            self.version_id,
        )


def array_view(evidence: Evidence, ints: np.ndarray, washed_at: datetime) -> ArrayView:
    """``registry_views.registry_view`` as arrays, without a loop over rows."""
    registry = evidence.registry
    applies = registry_applies(registry, ints)
    rows = ints.size
    none = np.full(rows, -1, np.int64)
    if evidence.version_id is None or evidence.index is None:
        nothing = np.zeros(rows, bool)
        return ArrayView(registry, None, applies, nothing, nothing.copy(), none, [])
    if isinstance(evidence, DownloadableEvidence):
        if evidence.data_as_of is None:
            nothing = np.zeros(rows, bool)
            return ArrayView(registry, None, applies, nothing, nothing.copy(), none, [])
        listed = applies & evidence.index.contains(ints)
        fresh = np.full(rows, is_fresh(registry, evidence.data_as_of, washed_at)) & applies
        codes = np.zeros(rows, np.int64)
        return ArrayView(
            registry, evidence.version_id, applies, listed, fresh, codes, [evidence.data_as_of]
        )
    return _wash_only(evidence, applies, ints, washed_at)


def _wash_only(
    evidence: WashOnlyEvidence, applies: np.ndarray, ints: np.ndarray, washed_at: datetime
) -> ArrayView:
    """Each number's latest result; instants and freshness computed once per wash day."""
    assert evidence.index is not None
    registry, rows = evidence.registry, ints.size
    positions = evidence.index.positions(ints)
    has = applies & (positions >= 0)
    safe = np.maximum(positions, 0)
    listed = has & evidence.registered[safe] if evidence.registered.size else np.zeros(rows, bool)
    days = evidence.wash_days[safe] if evidence.wash_days.size else np.zeros(rows, "datetime64[D]")
    codes = np.full(rows, -1, np.int64)
    day_codes, unique_days = pd.factorize(days[has])
    codes[has] = day_codes
    instants = [
        evidence_instant(registry, date.fromisoformat(str(np.datetime64(day, "D"))))
        for day in unique_days
    ]
    fresh_by_day = np.array([is_fresh(registry, i, washed_at) for i in instants] + [False])
    fresh = has & fresh_by_day[codes]
    return ArrayView(registry, evidence.version_id, applies, listed, fresh, codes, instants)


def wash_fast(
    numbers: pd.DataFrame,
    *,
    evidence: Sequence[Evidence],
    suppressed_hashes: Iterable[str],
    consents: pd.DataFrame | None,
    washed_at: datetime,
    tenant_country: str,
    window_days: int = WINDOW_HORIZON_DAYS,
) -> pd.DataFrame:
    """``washing.wash`` on a whole list at once: same columns, values and row order."""
    if washed_at.tzinfo is None:
        raise ValueError("washed_at must be time-zone aware")
    rows = len(numbers)
    ints = numbers["e164_int"].to_numpy(dtype=np.int64)
    hashes = pd.Series(numbers["e164_hash"].to_numpy(dtype=object), dtype=object)
    invalid = ints < 0
    suppressed = ~invalid & hashes.isin(list(set(suppressed_hashes))).to_numpy(bool)
    views = [array_view(item, ints, washed_at) for item in evidence]
    rewash_days = min((v.registry.validity_days for v in views), default=DEFAULT_REWASH_DAYS)
    countries = np.full(rows, tenant_country, dtype=object)
    for view in reversed(views):
        countries[view.applies] = view.registry.country
    exemption_code, exemptions = _exemptions(consents, hashes, countries, invalid, washed_at)
    key = _decision_keys([invalid, suppressed, *_view_columns(views)], exemption_code)
    group, first_rows = _groups(key)
    decided = _decide_groups(
        first_rows, invalid, suppressed, views, exemption_code, exemptions, washed_at, rewash_days
    )
    out = {name: _gather([d.get(name) for d in decided], group) for name in DECIDED_COLUMNS}
    out["calling_window"] = _windows(
        numbers["e164"].to_numpy(dtype=object), countries, group, decided, washed_at, window_days
    )
    columns = {"e164": numbers["e164"].to_numpy(dtype=object), "e164_hash": hashes, **out}
    return pd.DataFrame(
        {
            name: pd.Series(np.asarray(values, dtype=object), dtype=object)
            for name, values in columns.items()
        }
    ).set_index(numbers.index)


def _exemptions(
    consents: pd.DataFrame | None,
    hashes: pd.Series,
    countries: np.ndarray,
    invalid: np.ndarray,
    washed_at: datetime,
) -> tuple[np.ndarray, list[Exemption]]:
    """Per row, the index of its best exemption (-1: none); only hashes with a record are
    looked at, so a 10M list with a thousand consents builds a thousand-entry map."""
    codes = np.full(hashes.size, -1, np.int64)
    if consents is None or consents.empty:
        return codes, []
    candidates = ~invalid & hashes.isin(consents["e164_hash"].astype(object)).to_numpy(bool)
    countries_of = dict(zip(hashes.to_numpy()[candidates], countries[candidates], strict=True))
    best = best_exemptions(consents, {str(h): str(c) for h, c in countries_of.items()}, washed_at)
    listed = list(best.values())
    index = {number_hash: position for position, number_hash in enumerate(best)}
    mapped = hashes[candidates].map(index)
    codes[candidates] = mapped.fillna(-1).to_numpy(np.int64)
    return codes, listed


def _view_columns(views: Sequence[ArrayView]) -> list[np.ndarray]:
    columns: list[np.ndarray] = []
    for view in views:
        columns += [view.applies, view.listed, view.fresh, view.as_of_code]
    return columns


def _decision_keys(columns: list[np.ndarray], exemption_code: np.ndarray) -> np.ndarray:
    """One int64 per row packing every fact the decision depends on (mixed radix); when the
    radix would overflow, the facts are combined pairwise through factorisation instead."""
    key = exemption_code + 1
    for column in columns:
        values = column.astype(np.int64) + 1
        radix = int(values.max(initial=0)) + 1
        if int(key.max(initial=0)) >= (1 << 62) // radix:
            key, _ = pd.factorize(key)
            key = key.astype(np.int64)
        key = key * radix + values
    return key


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group code of each row and the first row of each group."""
    group, uniques = pd.factorize(key)
    first = np.full(len(uniques), -1, np.int64)
    positions = np.arange(group.size, dtype=np.int64)
    first[group[::-1]] = positions[::-1]
    return group, first


def _decide_groups(
    first_rows: np.ndarray,
    invalid: np.ndarray,
    suppressed: np.ndarray,
    views: Sequence[ArrayView],
    exemption_code: np.ndarray,
    exemptions: list[Exemption],
    washed_at: datetime,
    rewash_days: int,
) -> list[dict]:
    """The row path's decision for one representative row of each key."""
    rep_views = [view.at(first_rows) for view in views]
    rewash_at = washed_at + timedelta(days=rewash_days)
    decided = []
    for position, row in enumerate(first_rows.tolist()):
        code = int(exemption_code[row])
        result = decide_row(
            position,
            invalid=bool(invalid[row]),
            suppressed=bool(suppressed[row]),
            views=rep_views,
            exemption=exemptions[code] if code >= 0 else None,
            washed_at=washed_at,
            rewash_at=rewash_at,
        )
        result["valid_until"] = result["valid_until"].astimezone(UTC)
        decided.append(result)
    return decided


def _gather(values: Sequence[object], group: np.ndarray) -> np.ndarray:
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table[group] if group.size else np.empty(0, dtype=object)


def _windows(
    e164: np.ndarray,
    countries: np.ndarray,
    group: np.ndarray,
    decided: list[dict],
    washed_at: datetime,
    window_days: int,
) -> np.ndarray:
    """Calling windows of allowed rows, computed once per (country, zone set, expiry)."""
    out = np.full(group.size, None, dtype=object)
    allowed_group = np.array([d["decision"] == "allowed" for d in decided] + [False])
    rows = np.flatnonzero(allowed_group[group]) if group.size else np.empty(0, np.int64)
    if not rows.size:
        return out
    calculator = WindowCalculator(washed_at, washed_at + timedelta(days=window_days))
    prefixes = pd.Series(e164[rows], dtype="string[pyarrow]").str.slice(
        1, 1 + TIMEZONE_LONGEST_PREFIX
    )
    prefix_code, prefix_values = pd.factorize(prefixes.to_numpy(dtype=object))
    first_of_prefix = np.full(len(prefix_values), -1, np.int64)
    first_of_prefix[prefix_code[::-1]] = rows[::-1]
    zone_code, zone_sets = _zone_sets(list(prefix_values), e164[first_of_prefix], calculator)
    until = np.array([d["valid_until"] for d in decided], dtype=object)
    keys = pd.MultiIndex.from_arrays(
        [zone_code[prefix_code], countries[rows], pd.factorize(until[group[rows]])[0]]
    )
    window_code, _ = pd.factorize(keys)
    first = np.full(window_code.max() + 1, -1, np.int64)
    first[window_code[::-1]] = np.arange(rows.size)[::-1]
    documents = [
        window_document(
            calculator.for_zones(str(countries[rows[i]]), zone_sets[zone_code[prefix_code[i]]]),
            decided[int(group[rows[i]])]["valid_until"],
        )
        for i in first.tolist()
    ]
    out[rows] = _gather(documents, window_code)
    return out


def _zone_sets(
    prefixes: list[str], numbers: np.ndarray, calculator: WindowCalculator
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Zone set of each distinct number prefix (as ``WindowCalculator.zones`` reads it, from
    the first number seen with that prefix), asking ``phonenumbers`` once per time-zone map key
    where the first and last prefix of the key agree, else once per prefix."""
    keys = [_zone_map_key(prefix) for prefix in prefixes]
    order = sorted(range(len(prefixes)), key=lambda i: (keys[i], prefixes[i]))
    zones: list[tuple[str, ...] | None] = [None] * len(prefixes)
    position = 0
    while position < len(order):
        stop = position
        while stop < len(order) and keys[order[stop]] == keys[order[position]]:
            stop += 1
        members = order[position:stop]
        ends = [
            calculator.zones(str(numbers[members[0]])),
            calculator.zones(str(numbers[members[-1]])),
        ]
        for member in members:
            zones[member] = (
                ends[0] if ends[0] == ends[1] else calculator.zones(str(numbers[member]))
            )
        position = stop
    codes, sets = pd.factorize(pd.Series(zones, dtype=object))
    return codes, list(sets)


def _zone_map_key(prefix: str) -> str:
    """The longest key of ``phonenumbers``' time-zone map a number prefix falls under."""
    for length in range(len(prefix), 0, -1):
        if prefix[:length] in TIMEZONE_DATA:
            return prefix[:length]
    return ""
