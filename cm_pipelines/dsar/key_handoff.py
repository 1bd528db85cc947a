"""Handing an export's decryption key to whoever launched the run, once, and nowhere else.

The key must never reach a log, run config, metadata or the object store beside the package.
``cm dsar run`` executes the job in its own process, so it registers a receiver first and the
export step hands the key over in memory. A run launched elsewhere (UI launchpad, sensor) has no
receiver: the key is written to a private drop file under ``CM_HOME/secrets/dsar_keys`` (mode
0600, on the machine that ran the job, never in the object store), which ``cm dsar key ID``
prints once and deletes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cm_pipelines import settings
from cm_pipelines.domain.dsar_requests import is_request_id

IN_PROCESS = "in_process"
DROP_FILE = "drop_file"

_LOCK = threading.Lock()
_RECEIVERS: dict[str, list[bytes]] = {}


class KeyReceiver:
    """Filled by ``deliver_key`` while registered; read ``key`` once the run returned."""

    def __init__(self, request_id: str):
        self.request_id = request_id
        self._slot: list[bytes] = []

    @property
    def key(self) -> bytes | None:
        return self._slot[-1] if self._slot else None


@contextmanager
def expect_key(request_id: str) -> Iterator[KeyReceiver]:
    receiver = KeyReceiver(request_id)
    with _LOCK:
        _RECEIVERS[request_id] = receiver._slot
    try:
        yield receiver
    finally:
        with _LOCK:
            _RECEIVERS.pop(request_id, None)


def _drop_dir() -> Path:
    return settings.cm_home() / "secrets" / "dsar_keys"


def _drop_path(request_id: str) -> Path:
    if not is_request_id(request_id):
        raise ValueError("not a request id")
    return _drop_dir() / f"{request_id}.key"


def deliver_key(request_id: str, key: bytes) -> str:
    """Hand the key over; returns how (``in_process`` or ``drop_file``), never the key."""
    with _LOCK:
        slot = _RECEIVERS.get(request_id)
        if slot is not None:
            slot.append(key)
            return IN_PROCESS
    path = _drop_path(request_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return DROP_FILE


def take_dropped_key(request_id: str) -> bytes | None:
    """Read and delete a dropped key: it can be collected once."""
    path = _drop_path(request_id)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return bytes.fromhex(text)


def discard_dropped_key(request_id: str) -> None:
    """A rebuilt package makes an older, uncollected key useless."""
    _drop_path(request_id).unlink(missing_ok=True)
