"""`chatvault verify` finds a tampered segment and a tampered record, and passes an intact archive."""

from __future__ import annotations

from sqlalchemy import select

from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.store.models import Message, Segment
from archive.store.verify import verify
from tests.helpers import SAMPLE


def test_intact_archive_verifies(runtime: Runtime) -> None:
    Importer(runtime).import_file(SAMPLE)
    report = verify(runtime.sessions, runtime.blobs, runtime.envelope)
    assert report.ok and report.records_checked == 159 and report.segments_checked >= 1


def test_tampering_is_reported(runtime: Runtime) -> None:
    Importer(runtime).import_file(SAMPLE)
    with runtime.sessions() as s:
        seg = s.execute(select(Segment)).scalars().first()
        assert seg is not None
        victim = s.execute(select(Message).where(Message.blob_key == seg.key).limit(1)).scalar_one()
        data = bytearray(runtime.blobs.get(seg.key))
        data[victim.blob_offset + victim.blob_length - 1] ^= 0xFF
        runtime.blobs.put(seg.key, bytes(data))
    report = verify(runtime.sessions, runtime.blobs, runtime.envelope)
    assert not report.ok
    assert {"segment": seg.key, "problem": "segment hash mismatch"} in report.problems
    assert any(
        p.get("record") == victim.id and p["problem"] == "integrity_violation" for p in report.problems
    )
