"""The decision on one number: one reason, naming the evidence it rests on.

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
5. ``consent`` / ``existing_relationship`` - a valid, unexpired record exists (allowed), see
   ``exemptions``.
6. ``allowed``.

Every result carries ``valid_until``: when the decision must be made again. Evidence-based
results (listed, allowed, exemptions) last until their earliest evidence expires; fail-closed
results (stale, needs_wash) are valid only at the wash instant; invalid and suppressed numbers
are re-checked after the tenant's shortest registry validity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cm_pipelines.domain.dncr.evidence import evidence_valid_until, local_day
from cm_pipelines.domain.dncr.exemptions import Exemption
from cm_pipelines.domain.dncr.registry_views import RegistryView

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
RULE_LENGTH = 120


def decide_row(
    row: int,
    *,
    invalid: bool,
    suppressed: bool,
    views: Sequence[RegistryView],
    exemption: Exemption | None,
    washed_at: datetime,
    rewash_at: datetime,
) -> dict:
    """Decide one row, in the order of precedence above; the steps below name each rung."""
    needs_wash = _needs_wash_registry(row, invalid=invalid, suppressed=suppressed, views=views)
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
        return _blocked_as_listed(base, row, listing[0], washed_at)
    stale = [view for view in applicable if not view.fresh[row]]
    if stale:
        return _blocked_as_stale(base, row, stale[0], washed_at)
    return _allowed(
        base,
        row,
        applicable,
        exemption=exemption,
        exempt_listing=exempt_listing,
        washed_at=washed_at,
        rewash_at=rewash_at,
    )


def _needs_wash_registry(
    row: int, *, invalid: bool, suppressed: bool, views: Sequence[RegistryView]
) -> str | None:
    """The first wash-only registry that applies but has no fresh result for a washable number
    (whatever the decision, that registry should be asked about it)."""
    if not invalid and not suppressed:
        for view in views:
            if view.registry.kind == "wash_only" and view.applies[row] and not view.fresh[row]:
                return view.registry.id
    return None


def _blocked_as_listed(base: dict, row: int, view: RegistryView, washed_at: datetime) -> dict:
    """``registry_listed``: valid until the listing evidence expires."""
    as_of = view.as_of[row]
    assert as_of is not None
    registry = view.registry
    return {
        **base,
        "decision": "blocked",
        "reason": "registry_listed",
        "registry_id": registry.id,
        "registry_version": view.version_id,
        "evidence_date": local_day(registry, as_of),
        "evidence_age_days": _age_days(as_of, washed_at),
        "valid_until": evidence_valid_until(registry, as_of),
        "rule": _clip(
            f"registry_listed: {registry.id} version {_short(view.version_id)} lists the number "
            f"(evidence of {local_day(registry, as_of)}, valid {registry.validity_days} d)"
        ),
    }


def _blocked_as_stale(base: dict, row: int, view: RegistryView, washed_at: datetime) -> dict:
    """``registry_stale`` / ``needs_wash``: fail closed, valid only at the wash instant."""
    registry = view.registry
    as_of = view.as_of[row]
    reason = "registry_stale" if registry.kind == "downloadable" else "needs_wash"
    newest = f"newest evidence {local_day(registry, as_of)}" if as_of is not None else "no evidence"
    return {
        **base,
        "decision": "blocked",
        "reason": reason,
        "registry_id": registry.id,
        "registry_version": view.version_id,
        "evidence_date": local_day(registry, as_of) if as_of is not None else None,
        "evidence_age_days": _age_days(as_of, washed_at) if as_of is not None else None,
        "valid_until": washed_at,
        "rule": _clip(
            f"{reason}: {registry.id} has nothing fresher than {registry.validity_days} d "
            f"({newest}); fail closed"
        ),
    }


def _allowed(
    base: dict,
    row: int,
    applicable: Sequence[RegistryView],
    *,
    exemption: Exemption | None,
    exempt_listing: bool,
    washed_at: datetime,
    rewash_at: datetime,
) -> dict:
    """``consent`` / ``existing_relationship`` / ``allowed``: valid until the earliest applicable
    evidence (or the exemption) expires, naming the first registry checked."""
    expiries = [
        evidence_valid_until(v.registry, as_of)
        for v in applicable
        if (as_of := v.as_of[row]) is not None
    ]
    valid_until = min(expiries) if expiries else rewash_at
    evidence = _first_evidence(row, applicable, washed_at)
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


def _first_evidence(
    row: int, applicable: Sequence[RegistryView], washed_at: datetime
) -> dict[str, object]:
    """The evidence columns of an allowed row: those of the first applicable registry."""
    first = applicable[0] if applicable else None
    first_as_of = first.as_of[row] if first is not None else None
    return {
        "registry_id": first.registry.id if first is not None else None,
        "registry_version": first.version_id if first is not None else None,
        "evidence_date": (
            local_day(first.registry, first_as_of)
            if first is not None and first_as_of is not None
            else None
        ),
        "evidence_age_days": _age_days(first_as_of, washed_at) if first_as_of is not None else None,
    }


def _age_days(as_of: datetime, at: datetime) -> float:
    return round((at - as_of).total_seconds() / 86400, 2)


def _clip(text: str) -> str:
    return text if len(text) <= RULE_LENGTH else text[: RULE_LENGTH - 1] + "~"


def _short(version: str | None) -> str:
    return (version or "none")[:12]
