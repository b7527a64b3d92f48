"""Reading sealed records back: fetch the byte range from its segment, unwrap the key, decrypt, check the
SHA-256. A batch read fetches each segment once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from archive.kit.errors import IntegrityViolation
from archive.store.blobs import BlobStore
from archive.store.crypto import Envelope
from archive.store.models import Message


class RecordReader:
    def __init__(self, blobs: BlobStore, envelope: Envelope) -> None:
        self.blobs = blobs
        self.envelope = envelope

    def open(self, msg: Message) -> bytes:
        blob = self.blobs.get(msg.blob_key, msg.blob_offset, msg.blob_length)
        return self._open(msg, blob)

    def _open(self, msg: Message, blob: bytes) -> bytes:
        plain = self.envelope.open(msg.id, blob, msg.wrapped_key, msg.key_id)
        if hashlib.sha256(plain).hexdigest() != msg.content_sha256:
            raise IntegrityViolation(f"record {msg.id} does not match its recorded SHA-256")
        return plain

    def open_many(self, msgs: Iterable[Message]) -> Iterator[tuple[Message, bytes]]:
        """Yield (message, plaintext), reading each segment's covering byte range once."""
        by_key: dict[str, list[Message]] = {}
        for m in msgs:
            by_key.setdefault(m.blob_key, []).append(m)
        for key, group in by_key.items():
            if len(group) == 1:
                m = group[0]
                yield m, self.open(m)
                continue
            start = min(m.blob_offset for m in group)
            end = max(m.blob_offset + m.blob_length for m in group)
            chunk = self.blobs.get(key, start, end - start)
            for m in group:
                lo = m.blob_offset - start
                yield m, self._open(m, chunk[lo : lo + m.blob_length])
