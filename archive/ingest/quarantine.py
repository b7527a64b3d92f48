"""The quarantine of rejected input: list it, show one entry's raw bytes (an audited content read), and
retry entries after the cause was fixed (a parser upgrade, a raised cap, a repaired line)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.ingest.models import QuarantineEntry
from archive.kit.errors import NotFound
from archive.store.blobs import BlobStore
from archive.store.crypto import Envelope
from audit import log
from audit.access import require
from audit.principal import Action, Principal


def list_entries(
    session: Session, caller: Principal, *, reason: str | None = None, status: str = "open", limit: int = 100
) -> Sequence[QuarantineEntry]:
    require(caller, Action.IMPORT)
    q = select(QuarantineEntry).where(QuarantineEntry.status == status)
    if reason:
        q = q.where(QuarantineEntry.reason.startswith(reason))
    return (
        session.execute(q.order_by(QuarantineEntry.created_at, QuarantineEntry.line_no).limit(limit))
        .scalars()
        .all()
    )


def _raw(entry: QuarantineEntry, blobs: BlobStore, envelope: Envelope) -> bytes:
    blob = blobs.get(entry.blob_key, entry.blob_offset, entry.blob_length)
    return envelope.open(entry.id, blob, entry.wrapped_key, entry.key_id)


def show(
    session: Session, caller: Principal, entry_id: str, blobs: BlobStore, envelope: Envelope
) -> tuple[QuarantineEntry, bytes]:
    """The raw rejected bytes are content: reading them needs a content role and is audited."""
    require(caller, Action.READ_CONTENT)
    entry = session.get(QuarantineEntry, entry_id)
    if entry is None:
        raise NotFound(f"quarantine entry {entry_id} not found")
    raw = _raw(entry, blobs, envelope)
    log.append(session, actor=caller.username, action="quarantine.show", target_ids=[entry.id])
    return entry, raw


@dataclass
class RetryResult:
    retried: int = 0
    imported: int = 0
    duplicates: int = 0
    still_rejected: int = 0


def retry(
    session: Session,
    caller: Principal,
    importer: object,
    blobs: BlobStore,
    envelope: Envelope,
    entry_ids: Sequence[str] | None = None,
) -> RetryResult:
    """Re-parse open entries; those that now pass are imported (idempotently) and marked retried."""
    from archive.ingest.pipeline import Importer

    require(caller, Action.IMPORT)
    assert isinstance(importer, Importer)
    q = select(QuarantineEntry).where(QuarantineEntry.status == "open")
    if entry_ids:
        q = q.where(QuarantineEntry.id.in_(list(entry_ids)))
    entries = session.execute(q.order_by(QuarantineEntry.created_at)).scalars().all()
    result = RetryResult()
    for entry in entries:
        result.retried += 1
        entry.retry_count += 1
        try:
            obj = orjson.loads(_raw(entry, blobs, envelope))
        except orjson.JSONDecodeError:
            result.still_rejected += 1
            continue
        fmt = "wecom" if entry.source == "wecom" else "generic"
        (outcome,) = importer.import_records([obj], fmt=fmt, label=f"retry:{entry.file}", quarantine=False)
        if outcome.status == "rejected":
            result.still_rejected += 1
            continue
        entry.status = "retried"
        if outcome.status == "accepted":
            result.imported += 1
        else:
            result.duplicates += 1
    log.append(session, actor=caller.username, action="quarantine.retry", target_ids=[e.id for e in entries])
    session.flush()
    return result
