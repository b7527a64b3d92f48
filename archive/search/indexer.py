"""Feeds the search backend from the outbox after commit. The index is derived data: losing it loses
nothing (`reindex` rebuilds it from the database and the blobs), and a backend outage never blocks ingest —
pending outbox rows wait, with backoff, until it is back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import orjson
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from archive.kit.errors import ChatVaultError
from archive.kit.timeutil import to_millis, utcnow
from archive.runtime import Runtime
from archive.search.backend import SearchDoc
from archive.store.models import Message, OutboxEvent
from archive.store.records import RecordReader
from audit.access import record_text

TOPIC = "index"


class IndexedFields(Protocol):
    """What the index needs of a message: a stored `Message` or a row the importer is about to insert."""

    @property
    def id(self) -> str: ...
    @property
    def msgtime(self) -> datetime: ...
    @property
    def room_id(self) -> int: ...
    @property
    def sender(self) -> str: ...
    @property
    def msgtype(self) -> str: ...
    @property
    def employee_id(self) -> int | None: ...
    @property
    def customer_id(self) -> int | None: ...
    @property
    def department_id(self) -> int | None: ...
    @property
    def risk_labels(self) -> list[str]: ...
    @property
    def recalled(self) -> bool: ...


def to_doc(rt: Runtime, msg: IndexedFields, text: str) -> SearchDoc:
    return with_tokens(msg, rt.blind.doc_token_text(text) if text else "")


def with_tokens(msg: IndexedFields, text: str) -> SearchDoc:
    """The document of a message whose blind tokens are already computed as `token_text` (the importer's
    prepare stage)."""
    return SearchDoc(
        id=msg.id,
        msgtime_ms=to_millis(msg.msgtime),
        room_id=msg.room_id,
        sender=msg.sender,
        msgtype=msg.msgtype,
        employee_id=msg.employee_id,
        customer_id=msg.customer_id,
        department_id=msg.department_id,
        risk_labels=tuple(msg.risk_labels or ()),
        recalled=bool(msg.recalled),
        tokens=(),
        token_text=text,
    )


def _mark_done(session: Session, ids: Iterable[int]) -> None:
    session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(list(ids))).values(done_at=utcnow()))


def index_in_transaction(
    rt: Runtime, session: Session, rows: Sequence[IndexedFields], tokens: dict[str, str]
) -> bool:
    """When the search index lives in the archive's own database (the `sql` backend on the same engine),
    write the batch's documents (new messages: their ids were minted in this transaction) in the batch's
    transaction: the index can then never lag behind or run ahead of the archive, and no outbox round trip
    is needed. Returns False for other backends, whose
    documents go through the outbox and `push_committed` after the commit."""
    from archive.search.sql_backend import SqlBackend

    backend = rt.search
    if not isinstance(backend, SqlBackend) or backend.engine is not rt.engine:
        return False
    backend.index_in(session.connection(), [with_tokens(m, tokens.get(m.id, "")) for m in rows], fresh=True)
    return True


def push_committed(
    rt: Runtime, outbox_ids: Sequence[int], rows: Sequence[IndexedFields], tokens: dict[str, str]
) -> int:
    """Fast path right after ingest commits: the batches' tokens are still in memory, so no decryption
    is needed. `rows` are the messages of the outbox rows `outbox_ids`, which are marked done once the
    backend took them all; on failure they stay pending for `drain`."""
    try:
        rt.search.index([with_tokens(m, tokens.get(m.id, "")) for m in rows])
    except ChatVaultError:
        return 0
    with rt.sessions.begin() as session:
        _mark_done(session, outbox_ids)
    return len(rows)


def _docs_for(rt: Runtime, session: Session, ids: Sequence[str]) -> list[SearchDoc]:
    msgs = session.execute(
        select(Message).where(Message.id.in_(list(ids)), Message.wrapped_key.is_not(None))
    ).scalars()
    reader = RecordReader(rt.blobs, rt.envelope)
    docs = []
    for msg, plain in reader.open_many(list(msgs)):
        docs.append(to_doc(rt, msg, record_text(msg.source, orjson.loads(plain))))
    return docs


def drain(rt: Runtime, max_events: int | None = None) -> int:
    """Index every pending outbox row whose time has come. Returns the number of messages indexed."""
    done = 0
    handled = 0
    while max_events is None or handled < max_events:
        with rt.sessions() as session:
            now = utcnow()
            event = session.execute(
                select(OutboxEvent)
                .where(
                    OutboxEvent.topic == TOPIC,
                    OutboxEvent.done_at.is_(None),
                    or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now),
                )
                .order_by(OutboxEvent.id)
                .limit(1)
            ).scalar_one_or_none()
            if event is None:
                return done
            ids = list(event.payload.get("ids", []))
            try:
                docs = _docs_for(rt, session, ids)
                rt.search.index(docs)
            except ChatVaultError as exc:
                event.attempts += 1
                event.next_attempt_at = now + timedelta(seconds=min(300, 2 ** min(event.attempts, 8)))
                event.last_error = f"{exc.code}: {type(exc).__name__}"
                session.commit()
                return done
            event.done_at = now
            session.commit()
            done += len(docs)
            handled += 1
    return done


def lag(session: Session) -> int:
    """Messages committed but not yet in the index."""
    rows = session.execute(
        select(OutboxEvent.payload).where(OutboxEvent.topic == TOPIC, OutboxEvent.done_at.is_(None))
    ).scalars()
    return sum(len(p.get("ids", [])) for p in rows)


def retry_now(session: Session) -> None:
    """Make every pending row due immediately (after an outage is over)."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.topic == TOPIC, OutboxEvent.done_at.is_(None))
        .values(next_attempt_at=None)
    )


def reindex(rt: Runtime, batch: int = 500) -> int:
    """Rebuild the whole index from the archive (decrypting each record)."""
    rt.search.ensure_ready()
    rt.search.clear()
    rt.search.ensure_ready()
    total = 0
    last = ""
    with rt.sessions() as session:
        started = utcnow()
        while True:
            ids = list(
                session.execute(
                    select(Message.id)
                    .where(Message.id > last, Message.wrapped_key.is_not(None))
                    .order_by(Message.id)
                    .limit(batch)
                ).scalars()
            )
            if not ids:
                break
            rt.search.index(_docs_for(rt, session, ids))
            total += len(ids)
            last = ids[-1]
        session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.topic == TOPIC, OutboxEvent.done_at.is_(None), OutboxEvent.created_at <= started
            )
            .values(done_at=utcnow())
        )
        session.commit()
    rt.search.refresh()
    return total


def pending_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == TOPIC, OutboxEvent.done_at.is_(None))
        ).scalar_one()
    )


__all__ = [
    "drain",
    "index_in_transaction",
    "lag",
    "pending_count",
    "push_committed",
    "reindex",
    "retry_now",
    "to_doc",
]
