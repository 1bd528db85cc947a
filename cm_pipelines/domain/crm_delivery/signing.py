"""The generic webhook's signature: HMAC-SHA256 over ``timestamp.body`` with a shared secret.

The header reads ``t=<unix seconds>,v1=<hex digest>`` (the scheme Stripe and others use): the
timestamp is signed with the body, so a receiver that refuses old timestamps cannot be fed a
recorded request again, and the digest is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-CM-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """A signature header is missing, malformed, stale or does not match."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body``."""
    if not secret:
        raise SignatureError("webhook secret is empty")
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def verify(
    secret: bytes,
    header: str | None,
    body: bytes,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """The signed timestamp when ``header`` signs ``body`` within the tolerance; raises
    ``SignatureError`` otherwise. What a receiver runs before acting on a request."""
    parts = dict(item.split("=", 1) for item in (header or "").split(",") if "=" in item)
    stamp, digest = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not digest:
        raise SignatureError("signature header malformed")
    if abs(now - int(stamp)) > tolerance_seconds:
        raise SignatureError("signature timestamp outside the tolerance")
    if not hmac.compare_digest(signature(secret, int(stamp), body), digest):
        raise SignatureError("signature does not match the body")
    return int(stamp)
