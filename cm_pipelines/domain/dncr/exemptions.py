"""Exemptions from a registry: express consent and existing business relationships.

Express consent runs until it expires or is revoked; a business relationship runs 18 months
after a transaction and 3 months after an inquiry in the US (CA: 18 and 6), capped by any
expiry. Revoked or DSAR-restricted records never count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

CONSENT_KINDS: tuple[str, ...] = ("express_consent", "transaction", "inquiry")
RELATIONSHIP_MONTHS: dict[str, tuple[int, int]] = {"US": (18, 3), "CA": (18, 6)}
"""Months an existing business relationship lasts after a transaction and after an inquiry."""
DEFAULT_RELATIONSHIP_MONTHS = (18, 3)


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
