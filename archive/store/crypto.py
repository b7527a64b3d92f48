"""Envelope encryption: a random 256-bit data key (DEK) per record, AES-256-GCM with the record id as
associated data; the DEK is wrapped by a KEK from the keyring (also AES-256-GCM, bound to the record id).

Sealed record layout: nonce(12) || ciphertext+tag. Wrapped key layout: nonce(12) || wrapped DEK+tag.
Any change to the blob, the wrapped key, the key id or the record id fails loudly (IntegrityViolation)."""

from __future__ import annotations

import hashlib
import os
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.kit.errors import IntegrityViolation
from archive.store.keyring import Keyring

NONCE = 12
DEK = 32  # AES-256


class Sealed(NamedTuple):
    """A NamedTuple: one is built for every imported message and crosses from an ingest worker to the
    importer, and a tuple is several times cheaper to build and to unpickle than a frozen dataclass."""

    blob: bytes  # nonce || ciphertext || tag
    wrapped_key: bytes
    key_id: str
    sha256: str  # of the plaintext

    def __reduce__(self) -> tuple[type[Sealed], tuple[Any, ...]]:
        return Sealed, tuple(self)  # see ParsedRecord.__reduce__


def _wrap_aad(record_id: str, key_id: str) -> bytes:
    return f"chatvault-dek\x00{record_id}\x00{key_id}".encode()


class Envelope:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        # key id → (its KEK, a cipher over it): building an AESGCM costs as much as one seal's encryption.
        # Checked against the keyring's bytes object on each use, so a replaced key is never used.
        self._ciphers: dict[str, tuple[bytes, AESGCM]] = {}

    def _kek_cipher(self, key_id: str) -> AESGCM:
        kek = self.keyring.kek(key_id)
        cached = self._ciphers.get(key_id)
        if cached is None or cached[0] is not kek:
            cached = (kek, AESGCM(kek))
            self._ciphers[key_id] = cached
        return cached[1]

    def seal(self, record_id: str, plaintext: bytes) -> Sealed:
        # the DEK, the record's nonce and the wrap nonce from one read of the OS generator (not three)
        random = os.urandom(DEK + 2 * NONCE)
        dek, nonce, wrap_nonce = random[:DEK], random[DEK : DEK + NONCE], random[DEK + NONCE :]
        blob = nonce + AESGCM(dek).encrypt(nonce, plaintext, record_id.encode())
        key_id = self.keyring.active
        wrapped = wrap_nonce + self._kek_cipher(key_id).encrypt(wrap_nonce, dek, _wrap_aad(record_id, key_id))
        return Sealed(blob, wrapped, key_id, hashlib.sha256(plaintext).hexdigest())

    def wrap(self, record_id: str, dek: bytes, key_id: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._kek_cipher(key_id).encrypt(nonce, dek, _wrap_aad(record_id, key_id))

    def unwrap(self, record_id: str, wrapped_key: bytes, key_id: str) -> bytes:
        try:
            return self._kek_cipher(key_id).decrypt(
                wrapped_key[:NONCE], wrapped_key[NONCE:], _wrap_aad(record_id, key_id)
            )
        except (InvalidTag, ValueError):
            raise IntegrityViolation(f"wrapped key of record {record_id} does not open") from None

    def open(self, record_id: str, blob: bytes, wrapped_key: bytes | None, key_id: str) -> bytes:
        if wrapped_key is None:
            raise IntegrityViolation(f"record {record_id} was crypto-shredded")
        dek = self.unwrap(record_id, wrapped_key, key_id)
        try:
            return AESGCM(dek).decrypt(blob[:NONCE], blob[NONCE:], record_id.encode())
        except (InvalidTag, ValueError):
            raise IntegrityViolation(f"ciphertext of record {record_id} failed authentication") from None

    def rewrap(self, record_id: str, wrapped_key: bytes, key_id: str) -> tuple[bytes, str]:
        """Re-wrap a DEK under the active KEK without touching the blob (key rotation)."""
        dek = self.unwrap(record_id, wrapped_key, key_id)
        return self.wrap(record_id, dek, self.keyring.active), self.keyring.active
