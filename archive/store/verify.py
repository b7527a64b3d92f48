"""Integrity check: re-hash segments against their recorded SHA-256, and decrypt records and check each
plaintext's SHA-256. Reports every mismatch; never repairs anything."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.errors import ChatVaultError
from archive.store.blobs import BlobStore
from archive.store.crypto import Envelope
from archive.store.models import Message, Segment
from archive.store.records import RecordReader


@dataclass
class VerifyReport:
    segments_checked: int = 0
    records_checked: int = 0
    shredded_skipped: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "segments_checked": self.segments_checked,
            "records_checked": self.records_checked,
            "shredded_skipped": self.shredded_skipped,
            "problems": self.problems,
        }


def _sample_ids(
    session: Session, model: type[Message] | type[Segment], col: object, n: int | None
) -> list[str]:
    total = session.execute(select(func.count()).select_from(model)).scalar_one()
    ids = list(session.execute(select(col)).scalars())  # type: ignore[call-overload]
    if n is None or n >= total:
        return sorted(ids)
    return sorted(random.sample(ids, n))


def verify(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    envelope: Envelope,
    *,
    sample: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    reader = RecordReader(blobs, envelope)
    with sessions() as session:
        for key in _sample_ids(session, Segment, Segment.key, sample):
            seg = session.get(Segment, key)
            assert seg is not None
            report.segments_checked += 1
            try:
                data = blobs.get(seg.key)
            except ChatVaultError as exc:
                report.problems.append({"segment": seg.key, "problem": exc.code})
                continue
            if len(data) != seg.size or hashlib.sha256(data).hexdigest() != seg.sha256:
                report.problems.append({"segment": seg.key, "problem": "segment hash mismatch"})
        ids = _sample_ids(session, Message, Message.id, sample)
        for i in range(0, len(ids), 500):
            msgs = session.execute(select(Message).where(Message.id.in_(ids[i : i + 500]))).scalars().all()
            for msg in msgs:
                if msg.wrapped_key is None:
                    report.shredded_skipped += 1
                    continue
                report.records_checked += 1
                try:
                    reader.open(msg)
                except ChatVaultError as exc:
                    report.problems.append({"record": msg.id, "msgid": msg.source_msgid, "problem": exc.code})
            if progress is not None:
                progress(min(i + 500, len(ids)))
    return report
