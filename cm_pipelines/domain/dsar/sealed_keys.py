"""An export key sealed to the privacy team's public key, so any machine can hand it over.

A run on a Celery worker or a Kubernetes pod builds the package on a machine nobody logs into;
the key cannot be shown there and must not be stored in clear anywhere. Sealed to an X25519
public key (ephemeral key agreement, HKDF-SHA256, AES-256-GCM with the request id as associated
data), it can wait in shared storage: only the holder of the private key opens it, and a
sealed key copied onto another request's name does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"CMSK1"
_INFO = b"cm-pipelines dsar export key v1"
_RAW = serialization.Encoding.Raw


class SealedKeyError(ValueError):
    """A sealed key or a key pair that cannot be used; the message never holds key material."""


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new (private, public) X25519 pair, raw 32 bytes each."""
    private = X25519PrivateKey.generate()
    return (
        private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
        private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw),
    )


def public_key_from_hex(text: str) -> bytes:
    """The recipient's public key from its 64 hex digits, refused clearly when malformed."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise SealedKeyError("a recipient public key is 64 hex digits (X25519, raw)")
    return raw


def _wrapping_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=_INFO,
    ).derive(shared)


def seal_key(key: bytes, recipient_public: bytes, request_id: str) -> bytes:
    """``key`` readable only with the recipient's private key, and only for ``request_id``."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    nonce = os.urandom(12)
    wrapping = _wrapping_key(shared, ephemeral_public, recipient_public)
    sealed = AESGCM(wrapping).encrypt(nonce, key, request_id.encode())
    return MAGIC + ephemeral_public + nonce + sealed


def open_sealed_key(sealed: bytes, private_key: bytes, request_id: str) -> bytes:
    """The key inside ``sealed``; refuses a wrong private key, another request, or tampering."""
    header = len(MAGIC) + 32 + 12
    if not sealed.startswith(MAGIC) or len(sealed) <= header + 16:
        raise SealedKeyError("not a sealed export key")
    if len(private_key) != 32:
        raise SealedKeyError("a private key file holds 32 raw bytes (X25519)")
    ephemeral_public = sealed[len(MAGIC) : len(MAGIC) + 32]
    nonce = sealed[len(MAGIC) + 32 : header]
    private = X25519PrivateKey.from_private_bytes(private_key)
    recipient_public = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    wrapping = _wrapping_key(shared, ephemeral_public, recipient_public)
    try:
        return AESGCM(wrapping).decrypt(nonce, sealed[header:], request_id.encode())
    except InvalidTag:
        raise SealedKeyError(
            "the sealed key does not open with this private key for this request"
        ) from None
