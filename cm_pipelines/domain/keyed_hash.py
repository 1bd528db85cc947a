"""Keyed hashes of identifiers: records that must outlive a number (blocked-call evidence, the
minimal suppression entry after an erasure) keep ``HMAC-SHA256(key, e164)`` instead of the number.

A keyed hash (not a plain hash) because the space of phone numbers is small enough to enumerate.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "hk1:"


def keyed_hash(value: str, key: bytes) -> str:
    """Stable, non-reversible token for ``value`` (an E.164 number or lowercased email)."""
    if not key:
        raise ValueError("the identifier hash key is empty")
    return PREFIX + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def is_keyed_hash(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)
