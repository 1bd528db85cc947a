"""Washing: one decision and one reason per number, naming the evidence it rests on.

Precedence, first match wins:

1. ``invalid_number`` - not a valid phone number (blocked).
2. ``internal_suppression`` - on the tenant's own do-not-call list, which DSAR objections feed
   (blocked; nothing overrides it).
3. ``registry_listed`` - the newest evidence of an applicable registry lists the number: a
   downloadable registry's active snapshot, or a wash-only registry's latest result (blocked).
   Only a registry configured with ``exemptions_override_listing`` lets a valid consent or
   business relationship allow such a number (reason ``consent``/``existing_relationship``).
4. ``registry_stale`` / ``needs_wash`` - fail closed: an applicable downloadable registry has no
   snapshot fresh enough, or a wash-only registry has no fresh result for the number (blocked).
5. ``consent`` / ``existing_relationship`` - a valid, unexpired record exists (allowed). Express
   consent runs until it expires or is revoked; a business relationship runs 18 months after a
   transaction and 3 months after an inquiry in the US (CA: 18 and 6), capped by any expiry.
6. ``allowed``.

A registry applies to a number valid for the registry's country. Freshness is inclusive: data
of instant T with a validity of N days may be relied on up to and including T + N days, and
not a microsecond later. A file of day D is evidence from the start of D in the registry's
time zone, so a day-stamped result never claims to be fresher than it can be.

Every result carries ``valid_until``: when the decision must be made again. Evidence-based
results (listed, allowed, exemptions) last until their earliest evidence expires; fail-closed
results (stale, needs_wash) are valid only at the wash instant; invalid and suppressed numbers
are re-checked after the tenant's shortest registry validity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cm_pipelines.domain.dncr.calling_windows import WindowCalculator
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.registry_sets import NumberIndex, country_validity, sorted_unique
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.phone_numbers import normalise_values

REASONS: tuple[str, ...] = (
    "invalid_number",
    "internal_suppression",
    "registry_listed",
    "registry_stale",
    "needs_wash",
    "consent",
    "existing_relationship",
    "allowed",
)
BLOCKING_REASONS: frozenset[str] = frozenset(REASONS[:5])
CONSENT_KINDS: tuple[str, ...] = ("express_consent", "transaction", "inquiry")
RELATIONSHIP_MONTHS: dict[str, tuple[int, int]] = {"US": (18, 3), "CA": (18, 6)}
"""Months an existing business relationship lasts after a transaction and after an inquiry."""
DEFAULT_RELATIONSHIP_MONTHS = (18, 3)
DEFAULT_REWASH_DAYS = 30
"""Re-check horizon when no registry applies (e.g. a GB tenant without a configured registry)."""
WINDOW_HORIZON_DAYS = 7
RULE_LENGTH = 120


def evidence_instant(registry: Registry, day: date) -> datetime:
    """Start of ``day`` in the registry's time zone: the earliest instant a file of that day
    can describe."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(registry.timezone))


def evidence_valid_until(registry: Registry, as_of: datetime) -> datetime:
    """Last instant (inclusive) evidence of ``as_of`` may be relied on."""
    return as_of + timedelta(days=registry.validity_days)


def is_fresh(registry: Registry, as_of: datetime, at: datetime) -> bool:
    return at <= evidence_valid_until(registry, as_of)


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


def prepare_numbers(raw_numbers: Sequence[str], country: str, hash_key: bytes) -> pd.DataFrame:
    """Campaign numbers as listed -> ``raw``, ``e164`` (None when invalid), ``e164_int`` (-1),
    ``e164_hash`` (keyed hash of the E.164, or of the stripped raw text when invalid).

    Each distinct string is normalised and hashed once.
    """
    raw = pd.Series(list(raw_numbers), dtype=object).fillna("")
    kinds, e164s, _ = normalise_values(raw.to_numpy(dtype=object), country)
    valid = kinds == "e164"
    e164 = np.array([v if ok else None for v, ok in zip(e164s, valid, strict=True)], dtype=object)
    identifiers = np.where(valid, e164s, [str(value).strip() for value in raw])
    codes, uniques = pd.factorize(pd.Series(identifiers, dtype=object))
    hashes = np.array([keyed_hash(str(value), hash_key) for value in uniques], dtype=object)
    as_int = np.array(
        [int(value[1:]) if value else -1 for value in np.where(valid, e164s, "")], dtype=np.int64
    )
    columns = {
        "raw": raw.to_numpy(dtype=object),
        "e164": e164,
        "e164_int": as_int,
        "e164_hash": hashes[codes] if len(codes) else np.empty(0, dtype=object),
    }
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=np.int64 if name == "e164_int" else object)
            for name, values in columns.items()
        }
    )


@dataclass
class _RegistryView:
    """One registry's verdict on every row."""

    registry: Registry
    applies: np.ndarray
    listed: np.ndarray
    fresh: np.ndarray
    as_of: list[datetime | None]
    version_id: str | None


def _applies(registry: Registry, ints: np.ndarray) -> np.ndarray:
    valid_rows = ints >= 0
    unique, _ = sorted_unique(ints[valid_rows].copy())
    validity = country_validity(unique, registry.country).valid
    result = np.zeros(ints.size, bool)
    if unique.size:
        position = np.minimum(np.searchsorted(unique, ints), unique.size - 1)
        result = valid_rows & (unique[position] == ints) & validity[position]
    return result


def _view(evidence: Evidence, ints: np.ndarray, washed_at: datetime) -> _RegistryView:
    registry = evidence.registry
    applies = _applies(registry, ints)
    rows = ints.size
    if isinstance(evidence, DownloadableEvidence):
        if evidence.version_id is None or evidence.index is None or evidence.data_as_of is None:
            return _RegistryView(
                registry, applies, np.zeros(rows, bool), np.zeros(rows, bool), [None] * rows, None
            )
        listed = applies & evidence.index.contains(ints)
        fresh = np.full(rows, is_fresh(registry, evidence.data_as_of, washed_at)) & applies
        return _RegistryView(
            registry, applies, listed, fresh, [evidence.data_as_of] * rows, evidence.version_id
        )
    if evidence.version_id is None or evidence.index is None:
        return _RegistryView(
            registry, applies, np.zeros(rows, bool), np.zeros(rows, bool), [None] * rows, None
        )
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
    return _RegistryView(registry, applies, listed, fresh, as_of, evidence.version_id)


def relationship_until(kind: str, recorded_at: datetime, country: str) -> datetime | None:
    """How long an exemption lasts (inclusive); None for express consent (until it expires)."""
    after_transaction, after_inquiry = RELATIONSHIP_MONTHS.get(country, DEFAULT_RELATIONSHIP_MONTHS)
    if kind == "transaction":
        return (pd.Timestamp(recorded_at) + pd.DateOffset(months=after_transaction)).to_pydatetime()
    if kind == "inquiry":
        return (pd.Timestamp(recorded_at) + pd.DateOffset(months=after_inquiry)).to_pydatetime()
    return None


@dataclass(frozen=True)
class Exemption:
    reason: str  # consent | existing_relationship
    kind: str
    recorded_at: datetime
    until: datetime | None


def _as_aware(value: object) -> datetime | None:
    if value is None or (not isinstance(value, datetime) and pd.isna(value)):  # type: ignore[arg-type]
        return None
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def best_exemptions(
    consents: pd.DataFrame, countries: Mapping[str, str], washed_at: datetime
) -> dict[str, Exemption]:
    """Per number hash, the best exemption valid at ``washed_at``: express consent before a
    business relationship, then the one lasting longest. Revoked or DSAR-restricted records
    never count. ``countries`` gives each hash's country (it decides relationship lengths)."""
    best: dict[str, Exemption] = {}
    if consents is None or consents.empty:
        return best
    for row in consents.itertuples(index=False):
        number_hash = str(row.e164_hash)
        if number_hash not in countries or row.kind not in CONSENT_KINDS:
            continue
        recorded_at = _as_aware(row.recorded_at)
        if recorded_at is None or recorded_at > washed_at:
            continue
        revoked_at = _as_aware(getattr(row, "revoked_at", None))
        if revoked_at is not None and revoked_at <= washed_at:
            continue
        if _as_aware(getattr(row, "restricted_at", None)) is not None:
            continue
        expires_at = _as_aware(getattr(row, "expires_at", None))
        until = relationship_until(row.kind, recorded_at, countries[number_hash])
        if expires_at is not None:
            until = expires_at if until is None else min(until, expires_at)
        if until is not None and washed_at > until:
            continue
        reason = "consent" if row.kind == "express_consent" else "existing_relationship"
        candidate = Exemption(reason, str(row.kind), recorded_at, until)
        current = best.get(number_hash)
        if current is None or _better(candidate, current):
            best[number_hash] = candidate
    return best


def _better(candidate: Exemption, current: Exemption) -> bool:
    if candidate.reason != current.reason:
        return candidate.reason == "consent"
    if current.until is None:
        return False
    return candidate.until is None or candidate.until > current.until


def _clip(text: str) -> str:
    return text if len(text) <= RULE_LENGTH else text[: RULE_LENGTH - 1] + "~"


def _short(version: str | None) -> str:
    return (version or "none")[:12]


def wash(
    numbers: pd.DataFrame,
    *,
    evidence: Sequence[Evidence],
    suppressed_hashes: Iterable[str],
    consents: pd.DataFrame | None,
    washed_at: datetime,
    tenant_country: str,
    window_days: int = WINDOW_HORIZON_DAYS,
) -> pd.DataFrame:
    """Decide every row of ``numbers`` (from ``prepare_numbers``); rows keep their order.

    Output columns: ``e164``, ``e164_hash``, ``decision``, ``reason``, ``registry_id``,
    ``registry_version``, ``evidence_date``, ``evidence_age_days``, ``valid_until``, ``rule``,
    ``calling_window`` (allowed rows), ``needs_wash_registry`` (the wash-only registry that
    should be asked about the number, when it lacks a fresh result and is otherwise washable).
    """
    if washed_at.tzinfo is None:
        raise ValueError("washed_at must be time-zone aware")
    rows = len(numbers)
    ints = numbers["e164_int"].to_numpy(dtype=np.int64)
    hashes = numbers["e164_hash"].to_numpy(dtype=object)
    invalid = ints < 0
    suppressed_set = set(suppressed_hashes)
    suppressed = ~invalid & np.fromiter((h in suppressed_set for h in hashes), bool, rows)
    views = [_view(item, ints, washed_at) for item in evidence]
    rewash_days = min((v.registry.validity_days for v in views), default=DEFAULT_REWASH_DAYS)
    countries = np.full(rows, tenant_country, dtype=object)
    for view in reversed(views):
        countries[view.applies] = view.registry.country
    exemptions = best_exemptions(
        consents if consents is not None else pd.DataFrame(),
        {str(h): str(c) for h, c, bad in zip(hashes, countries, invalid, strict=True) if not bad},
        washed_at,
    )
    windows = WindowCalculator(washed_at, washed_at + timedelta(days=window_days))
    out: dict[str, list] = {
        name: []
        for name in (
            "decision",
            "reason",
            "registry_id",
            "registry_version",
            "evidence_date",
            "evidence_age_days",
            "valid_until",
            "rule",
            "calling_window",
            "needs_wash_registry",
        )
    }
    rewash_at = washed_at + timedelta(days=rewash_days)
    for row in range(rows):
        result = _decide_row(
            row,
            invalid=bool(invalid[row]),
            suppressed=bool(suppressed[row]),
            views=views,
            exemption=exemptions.get(str(hashes[row])),
            washed_at=washed_at,
            rewash_at=rewash_at,
        )
        result["valid_until"] = result["valid_until"].astimezone(UTC)
        if result["decision"] == "allowed":
            window = windows.for_number(str(numbers["e164"].iat[row]), str(countries[row]))
            until = result["valid_until"]
            within = tuple((start, end) for start, end in window.windows if start <= until)
            result["calling_window"] = replace(window, windows=within).as_document()
        else:
            result["calling_window"] = None
        for name in out:
            out[name].append(result.get(name))
    columns = {"e164": numbers["e164"].to_numpy(dtype=object), "e164_hash": hashes, **out}
    # object columns keep None as None (pandas would infer a string dtype and turn it into NaN)
    return pd.DataFrame(
        {name: pd.Series(list(values), dtype=object) for name, values in columns.items()},
    ).set_index(numbers.index)


def _local_date(registry: Registry, instant: datetime) -> date:
    """The registry's own calendar day of an evidence instant (the day its file is dated)."""
    return instant.astimezone(ZoneInfo(registry.timezone)).date()


def _age_days(as_of: datetime, at: datetime) -> float:
    return round((at - as_of).total_seconds() / 86400, 2)


def _decide_row(
    row: int,
    *,
    invalid: bool,
    suppressed: bool,
    views: Sequence[_RegistryView],
    exemption: Exemption | None,
    washed_at: datetime,
    rewash_at: datetime,
) -> dict:
    needs_wash = None
    if not invalid and not suppressed:
        for view in views:
            if view.registry.kind == "wash_only" and view.applies[row] and not view.fresh[row]:
                needs_wash = view.registry.id
                break
    base: dict = {"needs_wash_registry": needs_wash, "registry_id": None, "registry_version": None}
    base.update(evidence_date=None, evidence_age_days=None)
    if invalid:
        return {
            **base,
            "decision": "blocked",
            "reason": "invalid_number",
            "valid_until": rewash_at,
            "rule": "invalid_number: not a valid phone number as listed",
        }
    if suppressed:
        return {
            **base,
            "decision": "blocked",
            "reason": "internal_suppression",
            "valid_until": rewash_at,
            "rule": "internal_suppression: on the tenant's own do-not-call list",
        }
    applicable = [view for view in views if view.applies[row]]
    listing = [view for view in applicable if view.listed[row]]
    exempt_listing = (
        exemption is not None
        and bool(listing)
        and all(view.registry.exemptions_override_listing for view in listing)
    )
    if listing and not exempt_listing:
        view = listing[0]
        as_of = view.as_of[row]
        assert as_of is not None
        registry = view.registry
        return {
            **base,
            "decision": "blocked",
            "reason": "registry_listed",
            "registry_id": registry.id,
            "registry_version": view.version_id,
            "evidence_date": _local_date(registry, as_of),
            "evidence_age_days": _age_days(as_of, washed_at),
            "valid_until": evidence_valid_until(registry, as_of),
            "rule": _clip(
                f"registry_listed: {registry.id} version {_short(view.version_id)} lists the number "
                f"(evidence of {_local_date(registry, as_of)}, valid {registry.validity_days} d)"
            ),
        }
    stale = [view for view in applicable if not view.fresh[row]]
    if stale:
        view = stale[0]
        registry = view.registry
        as_of = view.as_of[row]
        reason = "registry_stale" if registry.kind == "downloadable" else "needs_wash"
        newest = (
            f"newest evidence {_local_date(registry, as_of)}"
            if as_of is not None
            else "no evidence"
        )
        return {
            **base,
            "decision": "blocked",
            "reason": reason,
            "registry_id": registry.id,
            "registry_version": view.version_id,
            "evidence_date": _local_date(registry, as_of) if as_of is not None else None,
            "evidence_age_days": _age_days(as_of, washed_at) if as_of is not None else None,
            "valid_until": washed_at,
            "rule": _clip(
                f"{reason}: {registry.id} has nothing fresher than {registry.validity_days} d "
                f"({newest}); fail closed"
            ),
        }
    expiries = [
        evidence_valid_until(v.registry, as_of)
        for v in applicable
        if (as_of := v.as_of[row]) is not None
    ]
    valid_until = min(expiries) if expiries else rewash_at
    first = applicable[0] if applicable else None
    first_as_of = first.as_of[row] if first is not None else None
    evidence = {
        "registry_id": first.registry.id if first is not None else None,
        "registry_version": first.version_id if first is not None else None,
        "evidence_date": (
            _local_date(first.registry, first_as_of)
            if first is not None and first_as_of is not None
            else None
        ),
        "evidence_age_days": _age_days(first_as_of, washed_at) if first_as_of is not None else None,
    }
    checked = ", ".join(f"{v.registry.id} {_short(v.version_id)}" for v in applicable) or "none"
    if exemption is not None:
        if exemption.until is not None:
            valid_until = min(valid_until, exemption.until)
        listed_note = " overrides listing" if exempt_listing else ""
        return {
            **base,
            **evidence,
            "decision": "allowed",
            "reason": exemption.reason,
            "valid_until": valid_until,
            "rule": _clip(
                f"{exemption.reason}: {exemption.kind} of {exemption.recorded_at.date()}"
                f"{listed_note}; registries checked: {checked}"
            ),
        }
    return {
        **base,
        **evidence,
        "decision": "allowed",
        "reason": "allowed",
        "valid_until": valid_until,
        "rule": _clip(f"allowed: not listed; registries checked: {checked}"),
    }


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
