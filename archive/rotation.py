"""KEK rotation: add a key, re-wrap every data key under it in batches; blobs are never rewritten."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select

from archive.ingest.models import QuarantineEntry
from archive.runtime import Runtime
from archive.store.models import Message

Sealed = Message | QuarantineEntry


def _rewrap_all(rt: Runtime, model: type[Message] | type[QuarantineEntry], new_id: str, batch: int) -> int:
    count = 0
    last = ""
    while True:
        with rt.sessions.begin() as session:
            query = (
                select(model)
                .where(model.id > last, model.wrapped_key.is_not(None), model.key_id != new_id)
                .order_by(model.id)
                .limit(batch)
            )
            rows = cast(list[Sealed], list(session.execute(query).scalars()))
            if not rows:
                return count
            for row in rows:
                assert row.wrapped_key is not None
                row.wrapped_key, row.key_id = rt.envelope.rewrap(row.id, row.wrapped_key, row.key_id)
            last = rows[-1].id
            count += len(rows)


def rotate(rt: Runtime, batch: int = 1000) -> tuple[str, int]:
    ring = rt.keyring
    new_id = ring.add_key()
    ring.save()  # the new key must be durable before any DEK depends on it
    return new_id, _rewrap_all(rt, Message, new_id, batch) + _rewrap_all(rt, QuarantineEntry, new_id, batch)
