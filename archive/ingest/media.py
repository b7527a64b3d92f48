"""Media capture: read each referenced file by sdkfileid from a media directory (or an HTTP push), check
its md5 (and size) against the message, encrypt it into the blob store. Missing media leaves the message
imported with status `missing` for `chatvault media retry`; a mismatch is quarantined, never stored as
if good."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.ingest.models import MediaObject
from archive.ingest.records import MediaRef
from archive.kit.errors import InvalidInput, NotFound
from archive.kit.ids import new_id
from archive.store.blobs import BlobStore, check_key
from archive.store.crypto import Envelope
from archive.store.models import Message

MAX_MEDIA_BYTES = 512 * 1024 * 1024


def sdkfileid_hash(sdkfileid: str) -> str:
    return hashlib.sha256(sdkfileid.encode()).hexdigest()


def media_file(media_dir: Path, sdkfileid: str) -> Path | None:
    """A file named by the sdkfileid itself, or — since real ids hold '/', '+' and '=' — by its SHA-256."""
    candidates = [media_dir / sdkfileid_hash(sdkfileid)]
    try:
        check_key(sdkfileid)
        if "/" not in sdkfileid:
            candidates.insert(0, media_dir / sdkfileid)
    except ValueError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    return None


@dataclass(slots=True)
class NewMedia:
    """A media row built by the importer and written with one bulk insert per batch (an ORM object per
    media reference cost the importer more than the rest of its message)."""

    id: str
    message_id: str
    sdkfileid: str
    sdkfileid_hash: str
    kind: str
    path: str
    filename: str | None
    expected_md5: str | None
    expected_size: int | None
    status: str = "missing"
    problem: str | None = None
    size: int | None = None
    blob_key: str | None = None
    wrapped_key: bytes | None = None
    key_id: str | None = None
    content_sha256: str | None = None
    attempts: int = 0

    def row(self, updated_at: datetime) -> tuple[Any, ...]:
        """The values in `MEDIA_COLUMNS` order."""
        return (*_media_fields_of(self), updated_at)


MEDIA_COLUMNS: tuple[str, ...] = (*NewMedia.__slots__, "updated_at")
_media_fields_of = attrgetter(*NewMedia.__slots__)


@dataclass
class MediaStore:
    blobs: BlobStore
    envelope: Envelope

    def attach(
        self, message_id: str, refs: Sequence[MediaRef], media_dir: Path | None
    ) -> tuple[str, list[NewMedia]]:
        """Media rows for a new message, storing what is available. Returns the message's status and the
        rows, which the caller inserts after the message row (foreign key)."""
        rows = []
        for ref in refs:
            row = NewMedia(
                id=new_id(),
                message_id=message_id,
                sdkfileid=ref.sdkfileid,
                sdkfileid_hash=sdkfileid_hash(ref.sdkfileid),
                kind=ref.kind,
                path=ref.path[:128],
                filename=(ref.filename or None) and ref.filename[:512] if ref.filename else None,
                expected_md5=(ref.md5sum or "").lower() or None,
                expected_size=ref.size,
            )
            rows.append(row)
            if media_dir is not None:
                path = media_file(media_dir, ref.sdkfileid)
                if path is not None:
                    self._store_file(row, path)
        return aggregate(r.status for r in rows), rows

    def _store_file(self, row: MediaObject | NewMedia, path: Path) -> None:
        size = path.stat().st_size
        if size > MAX_MEDIA_BYTES:
            row.status, row.problem = "quarantined", "too_large"
            return
        self.store_bytes(row, path.read_bytes())

    def store_bytes(self, row: MediaObject | NewMedia, data: bytes) -> None:
        row.attempts += 1
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if row.expected_md5 and md5 != row.expected_md5:
            row.status, row.problem = "quarantined", "md5_mismatch"
        elif row.expected_size is not None and row.expected_size != len(data) and row.expected_md5 is None:
            row.status, row.problem = "quarantined", "size_mismatch"
        else:
            row.status, row.problem = "stored", None
        # Quarantined bytes are kept too (encrypted), as evidence of what arrived, but never served.
        sealed = self.envelope.seal(row.id, data)
        key = f"media/{row.id[:2]}/{row.id}.bin"
        self.blobs.put(key, sealed.blob)
        row.blob_key, row.wrapped_key, row.key_id = key, sealed.wrapped_key, sealed.key_id
        row.content_sha256, row.size = sealed.sha256, len(data)

    def read(self, row: MediaObject) -> bytes:
        if row.status != "stored" or row.blob_key is None or row.key_id is None:
            raise NotFound(f"media {row.id} is {row.status}")
        data = self.envelope.open(row.id, self.blobs.get(row.blob_key), row.wrapped_key, row.key_id)
        if hashlib.sha256(data).hexdigest() != row.content_sha256:
            from archive.kit.errors import IntegrityViolation

            raise IntegrityViolation(f"media {row.id} does not match its SHA-256")
        return data


def aggregate(statuses: Iterable[str]) -> str:
    s = set(statuses)
    if "quarantined" in s:
        return "quarantined"
    if "missing" in s:
        return "missing"
    return "ok"


def refresh_message_status(session: Session, message_ids: Iterable[str]) -> None:
    for mid in set(message_ids):
        msg = session.get(Message, mid)
        if msg is not None:
            statuses = session.execute(
                select(MediaObject.status).where(MediaObject.message_id == mid)
            ).scalars()
            msg.media_status = aggregate(statuses)


def retry_missing(session: Session, store: MediaStore, media_dir: Path) -> dict[str, int]:
    """Look again for every missing media file; returns counts by resulting status."""
    counts = {"stored": 0, "missing": 0, "quarantined": 0}
    touched = []
    rows = session.execute(select(MediaObject).where(MediaObject.status == "missing")).scalars().all()
    for row in rows:
        path = media_file(media_dir, row.sdkfileid)
        if path is not None:
            store._store_file(row, path)
            touched.append(row.message_id)
        counts[row.status] += 1
    session.flush()
    refresh_message_status(session, touched)
    return counts


def push(session: Session, store: MediaStore, sdkfileid: str, data: bytes) -> list[MediaObject]:
    """HTTP push of one media file: fills every pending reference with this sdkfileid."""
    if not data:
        raise InvalidInput("empty media body")
    rows = (
        session.execute(
            select(MediaObject).where(
                MediaObject.sdkfileid_hash == sdkfileid_hash(sdkfileid), MediaObject.status == "missing"
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        raise NotFound("no message is waiting for this media")
    for row in rows:
        store.store_bytes(row, data)
    session.flush()
    refresh_message_status(session, [r.message_id for r in rows])
    return list(rows)
