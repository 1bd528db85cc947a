"""Export keys sealed to the privacy team's public key."""

from __future__ import annotations

import os

import pytest

from cm_pipelines.domain.dsar.sealed_keys import (
    SealedKeyError,
    generate_key_pair,
    open_sealed_key,
    public_key_from_hex,
    seal_key,
)

REQUEST = "dsar-0123456789abcdef0123"


def test_only_the_private_key_opens_it_and_only_for_its_request() -> None:
    private, public = generate_key_pair()
    key = os.urandom(32)
    sealed = seal_key(key, public, REQUEST)
    assert key not in sealed and key.hex().encode() not in sealed
    assert open_sealed_key(sealed, private, REQUEST) == key
    assert seal_key(key, public, REQUEST) != sealed  # a fresh ephemeral key every time
    other_private, _ = generate_key_pair()
    with pytest.raises(SealedKeyError, match="does not open"):
        open_sealed_key(sealed, other_private, REQUEST)
    with pytest.raises(SealedKeyError, match="does not open"):
        open_sealed_key(sealed, private, "dsar-ffffffffffffffffffff")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(SealedKeyError, match="does not open"):
        open_sealed_key(bytes(tampered), private, REQUEST)


def test_malformed_inputs_are_refused_without_quoting_them() -> None:
    private, public = generate_key_pair()
    with pytest.raises(SealedKeyError, match="not a sealed export key"):
        open_sealed_key(b"plain text key", private, REQUEST)
    with pytest.raises(SealedKeyError, match="32 raw bytes"):
        open_sealed_key(seal_key(b"k" * 32, public, REQUEST), b"short", REQUEST)
    assert public_key_from_hex(public.hex().upper()) == public
    for bad in ("", "zz" * 32, public.hex()[:-2]):
        with pytest.raises(SealedKeyError) as refused:
            public_key_from_hex(bad)
        assert "64 hex digits" in str(refused.value)
        assert not bad or bad not in str(refused.value)


def test_a_misconfigured_recipient_names_the_variable_and_the_fix(monkeypatch) -> None:
    from cm_pipelines.dsar import key_handoff

    monkeypatch.delenv("CM_DSAR_KEY_RECIPIENT", raising=False)
    assert key_handoff.recipient_public_key() is None
    monkeypatch.setenv("CM_DSAR_KEY_RECIPIENT", "<64 hex digits printed by cm dsar keypair>")
    with pytest.raises(SealedKeyError, match="CM_DSAR_KEY_RECIPIENT.*cm dsar keypair"):
        key_handoff.recipient_public_key()
    _, public = generate_key_pair()
    monkeypatch.setenv("CM_DSAR_KEY_RECIPIENT", public.hex())
    assert key_handoff.recipient_public_key() == public
