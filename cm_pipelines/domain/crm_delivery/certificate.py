"""Confirmed CRM deliveries on an erasure certificate.

The certificate is written when the erasure completes, before any CRM has answered: it lists the
systems that were sent a task (``downstream_erasure_tasks``). Each confirmed delivery adds its
system to ``downstream_confirmed`` and the certificate is sealed again (``body_sha256`` over the
rest of the body, as ``domain.dsar.planning`` seals it), so the certificate names who confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

SEAL = "body_sha256"
CONFIRMED = "downstream_confirmed"


def confirmation(recipient: str, task: str, confirmed_on: str, outbox_task: int) -> dict[str, Any]:
    """One confirmed recipient: the system, what it did and when; never its record ids."""
    return {
        "recipient": recipient,
        "task": task,
        "confirmed_on": confirmed_on,
        "outbox_task": int(outbox_task),
    }


def with_confirmations(
    body: Mapping[str, Any], confirmations: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """``body`` listing ``confirmations`` (merged with those it lists, one per outbox task),
    re-sealed. An empty body (a case file the retention purge wiped) stays empty."""
    if not body:
        return {}
    unsealed = {key: value for key, value in body.items() if key != SEAL}
    by_task = {int(c["outbox_task"]): dict(c) for c in unsealed.get(CONFIRMED, [])}
    by_task.update({int(c["outbox_task"]): dict(c) for c in confirmations})
    unsealed[CONFIRMED] = [by_task[key] for key in sorted(by_task)]
    unsealed[SEAL] = hashlib.sha256(
        json.dumps(unsealed, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return unsealed
