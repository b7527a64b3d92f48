"""Envelope encryption: round trip, and every kind of tampering fails loudly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.kit.errors import IntegrityViolation
from archive.store.crypto import NONCE, Envelope
from archive.store.keyring import Keyring


@pytest.fixture
def env() -> Envelope:
    return Envelope(Keyring.generate())


@given(st.binary(max_size=4096))
def test_round_trip(data: bytes) -> None:
    envelope = Envelope(Keyring.generate())
    sealed = envelope.seal("rec-1", data)
    assert envelope.open("rec-1", sealed.blob, sealed.wrapped_key, sealed.key_id) == data


def test_each_record_gets_its_own_key_and_nonce(env: Envelope) -> None:
    a, b = env.seal("r1", b"same"), env.seal("r2", b"same")
    assert a.blob != b.blob and a.wrapped_key != b.wrapped_key
    assert b"same" not in a.blob


@pytest.mark.parametrize("where", [0, NONCE, -1])
def test_flipped_blob_byte_is_rejected(env: Envelope, where: int) -> None:
    sealed = env.seal("r1", "支付宝 转账".encode())
    blob = bytearray(sealed.blob)
    blob[where] ^= 0x01
    with pytest.raises(IntegrityViolation):
        env.open("r1", bytes(blob), sealed.wrapped_key, sealed.key_id)


def test_tampered_wrapped_key_is_rejected(env: Envelope) -> None:
    sealed = env.seal("r1", b"hello")
    wk = bytearray(sealed.wrapped_key)
    wk[-1] ^= 0x80
    with pytest.raises(IntegrityViolation):
        env.open("r1", sealed.blob, bytes(wk), sealed.key_id)


def test_wrong_associated_data_is_rejected(env: Envelope) -> None:
    """A blob moved under another record's id does not open."""
    sealed = env.seal("r1", b"hello")
    with pytest.raises(IntegrityViolation):
        env.open("r2", sealed.blob, sealed.wrapped_key, sealed.key_id)


def test_swapped_wrapped_keys_are_rejected(env: Envelope) -> None:
    a, b = env.seal("r1", b"one"), env.seal("r2", b"two")
    with pytest.raises(IntegrityViolation):
        env.open("r1", a.blob, b.wrapped_key, b.key_id)


def test_shredded_record_cannot_be_read(env: Envelope) -> None:
    sealed = env.seal("r1", b"hello")
    with pytest.raises(IntegrityViolation):
        env.open("r1", sealed.blob, None, sealed.key_id)


def test_rewrap_under_new_kek_keeps_blob_readable() -> None:
    ring = Keyring.generate()
    env = Envelope(ring)
    sealed = env.seal("r1", b"payload")
    ring.add_key()
    wrapped, key_id = env.rewrap("r1", sealed.wrapped_key, sealed.key_id)
    assert key_id == ring.active != sealed.key_id
    assert env.open("r1", sealed.blob, wrapped, key_id) == b"payload"
    del ring.keys[sealed.key_id]  # the old KEK is no longer needed
    assert env.open("r1", sealed.blob, wrapped, key_id) == b"payload"
