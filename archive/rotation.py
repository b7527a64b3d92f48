"""KEK rotation: add a key, re-wrap every data key under it in batches; blobs are never rewritten."""

from __future__ import annotations

from sqlalchemy import select

from archive.ingest.models import QuarantineEntry
from archive.runtime import Runtime
from archive.store.models import Message


def rotate(rt: Runtime, batch: int = 1000) -> tuple[str, int]:
    ring = rt.keyring
    new_id = ring.add_key()
    ring.save()  # the new key must be durable before any DEK depends on it
    count = 0
    models: tuple[type[Message] | type[QuarantineEntry], ...] = (Message, QuarantineEntry)
    for model in models:
        last = ""
        while True:
            with rt.sessions.begin() as session:
                rows: list[Message | QuarantineEntry] = list(  # type: ignore[arg-type]
                    session.execute(
                        select(model)
                        .where(model.id > last, model.wrapped_key.is_not(None), model.key_id != new_id)
                        .order_by(model.id)
                        .limit(batch)
                    )
                    .scalars()
                    .all()
                )
                if not rows:
                    break
                for row in rows:
                    assert row.wrapped_key is not None
                    row.wrapped_key, row.key_id = rt.envelope.rewrap(row.id, row.wrapped_key, row.key_id)
                last = rows[-1].id
                count += len(rows)
    return new_id, count
