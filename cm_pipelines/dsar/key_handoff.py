"""Handing an export's decryption key to whoever launched the run, once, and nowhere else.

The key must never reach a log, run config, metadata or the object store beside the package.
``cm dsar run`` executes the job in its own process, so it registers a receiver first and the
export step hands the key over in memory. A run launched elsewhere (UI launchpad, sensor) has no
receiver:

- with ``CM_DSAR_KEY_RECIPIENT`` set (the privacy team's X25519 public key, from
  ``cm dsar keypair``), the key is *sealed* to it (``domain.sealed_keys``) and left in the
  object store under ``dsar_keys/`` (never beside the package under ``exports/``): whichever
  worker or pod built the package, ``cm dsar key ID --private-key FILE`` on any machine opens it
  once and deletes it. This is the way for Celery and Kubernetes deployments;
- otherwise it is written to a private drop file under ``CM_HOME/secrets/dsar_keys`` (mode
  0600, on the machine that ran the job), which ``cm dsar key ID`` on that machine prints once
  and deletes.

A package whose free text holds names the recogniser was unsure of waits for the privacy
officer's review (``awaiting_review``) and its key is *held*, not handed over: sealed to
``CM_DSAR_KEY_RECIPIENT`` under ``dsar_keys/held/`` when a recipient is configured, else in a
private held file under ``CM_HOME/secrets/dsar_keys/held`` (mode 0600). Neither place is read by
``cm dsar key``; only the completion after an approval releases it (``release_held_key``: the
sealed copy moves to ``dsar_keys/``, a held file is handed over as ``deliver_key`` does), and a
rejection discards it with the package.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from cm_pipelines.domain.dsar.requests import is_request_id
from cm_pipelines.domain.dsar.sealed_keys import (
    SealedKeyError,
    open_sealed_key,
    public_key_from_hex,
    seal_key,
)
from cm_pipelines.platform import settings

if TYPE_CHECKING:
    from cm_pipelines.resources.object_store import ObjectStoreResource

IN_PROCESS = "in_process"
DROP_FILE = "drop_file"
SEALED = "sealed"
HELD = "held_for_review"
RECIPIENT_ENV = "CM_DSAR_KEY_RECIPIENT"
SEALED_KEYS_PREFIX = "dsar_keys"

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


def recipient_public_key() -> bytes | None:
    """The public key keys are sealed to (``CM_DSAR_KEY_RECIPIENT``), if this deployment has one."""
    configured = str(dg.EnvVar(RECIPIENT_ENV).get_value(default="") or "").strip()
    if not configured:
        return None
    try:
        return public_key_from_hex(configured)
    except SealedKeyError as exc:
        raise SealedKeyError(f"{RECIPIENT_ENV}: {exc}; run `cm dsar keypair`") from None


def sealed_key_path(request_id: str) -> str:
    if not is_request_id(request_id):
        raise ValueError("not a request id")
    return f"{SEALED_KEYS_PREFIX}/{request_id}.sealed"


def deliver_key(
    request_id: str, key: bytes, object_store: ObjectStoreResource | None = None
) -> str:
    """Hand the key over; returns how (``in_process``, ``sealed`` or ``drop_file``), never the
    key. Sealing needs ``CM_DSAR_KEY_RECIPIENT`` and the object store."""
    with _LOCK:
        slot = _RECEIVERS.get(request_id)
        if slot is not None:
            slot.append(key)
            return IN_PROCESS
    recipient = recipient_public_key()
    if recipient is not None and object_store is not None:
        object_store.write_bytes(sealed_key_path(request_id), seal_key(key, recipient, request_id))
        return SEALED
    path = _drop_path(request_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return DROP_FILE


def read_dropped_key(request_id: str) -> bytes | None:
    """The dropped key on this machine, left in place (``discard_dropped_key`` removes it)."""
    try:
        return bytes.fromhex(_drop_path(request_id).read_text().strip())
    except FileNotFoundError:
        return None


def take_dropped_key(request_id: str) -> bytes | None:
    """Read and delete a dropped key: it can be collected once."""
    key = read_dropped_key(request_id)
    if key is not None:
        discard_dropped_key(request_id)
    return key


def has_sealed_key(request_id: str, object_store: ObjectStoreResource) -> bool:
    return object_store.exists(sealed_key_path(request_id))


def open_stored_key(
    request_id: str, object_store: ObjectStoreResource, private_key: bytes
) -> bytes | None:
    """The sealed key of ``request_id`` opened, left in place (``discard_sealed_key`` removes
    it). A private key that does not open it raises ``SealedKeyError``."""
    path = sealed_key_path(request_id)
    if not object_store.exists(path):
        return None
    return open_sealed_key(object_store.read_bytes(path), private_key, request_id)


def discard_sealed_key(request_id: str, object_store: ObjectStoreResource) -> None:
    """Collected, or its package expired: the sealed key goes (every version of it)."""
    from cm_pipelines.resources.object_purge import purge_objects

    # no existence check first: on a versioned bucket older versions may outlive the current one
    purge_objects(object_store, [sealed_key_path(request_id)])


def discard_dropped_key(request_id: str) -> None:
    """A rebuilt package makes an older, uncollected key useless."""
    _drop_path(request_id).unlink(missing_ok=True)


def _held_path(request_id: str) -> Path:
    return _drop_path(request_id).parent / "held" / f"{request_id}.key"


def held_sealed_path(request_id: str) -> str:
    if not is_request_id(request_id):
        raise ValueError("not a request id")
    return f"{SEALED_KEYS_PREFIX}/held/{request_id}.sealed"


def hold_key(request_id: str, key: bytes, object_store: ObjectStoreResource) -> str:
    """Keep the key of a package awaiting review where nobody collects it; returns ``HELD``."""
    recipient = recipient_public_key()
    if recipient is not None:
        object_store.write_bytes(held_sealed_path(request_id), seal_key(key, recipient, request_id))
        return HELD
    path = _held_path(request_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return HELD


def has_held_key(request_id: str, object_store: ObjectStoreResource) -> bool:
    return _held_path(request_id).exists() or object_store.exists(held_sealed_path(request_id))


def release_held_key(request_id: str, object_store: ObjectStoreResource) -> str | None:
    """After an approval: the held key handed over as an unreviewed one would have been (the
    sealed copy moves to where ``cm dsar key`` opens it); None when nothing is held here."""
    sealed = held_sealed_path(request_id)
    if object_store.exists(sealed):
        object_store.write_bytes(sealed_key_path(request_id), object_store.read_bytes(sealed))
        _purge(object_store, sealed)
        return SEALED
    path = _held_path(request_id)
    try:
        key = bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        return None
    delivery = deliver_key(request_id, key, object_store)
    path.unlink(missing_ok=True)
    return delivery


def discard_held_key(request_id: str, object_store: ObjectStoreResource) -> None:
    """A rejected package's key goes with it (every version of a sealed copy)."""
    _held_path(request_id).unlink(missing_ok=True)
    _purge(object_store, held_sealed_path(request_id))


def _purge(object_store: ObjectStoreResource, path: str) -> None:
    from cm_pipelines.resources.object_purge import purge_objects

    purge_objects(object_store, [path])
