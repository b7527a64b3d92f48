"""Media: read by sdkfileid, md5 verified, encrypted; missing media is retried later."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sqlalchemy import select

from archive.ingest.media import MediaStore, retry_missing, sdkfileid_hash
from archive.ingest.models import MediaObject
from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.store.models import Message
from tests.helpers import MEDIA, SAMPLE


def test_sample_media_all_stored_and_readable(runtime: Runtime) -> None:
    s = Importer(runtime).import_file(SAMPLE, media_dir=MEDIA)
    assert s.media == {"ok": sum(s.media.values())} and s.media["ok"] > 0
    store = MediaStore(runtime.blobs, runtime.envelope)
    with runtime.sessions() as session:
        rows = session.execute(select(MediaObject)).scalars().all()
        assert len({r.sdkfileid for r in rows}) == 21
        for row in rows:
            data = store.read(row)
            assert data == (MEDIA / row.sdkfileid).read_bytes()
            if row.expected_md5:
                assert hashlib.md5(data).hexdigest() == row.expected_md5


def test_missing_then_retry_and_mismatch_quarantined(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    partial = tmp_path / "media"
    partial.mkdir()
    files = sorted(MEDIA.iterdir())
    shutil.copy(files[0], partial / files[0].name)
    # a file stored under the SHA-256 of its sdkfileid (how ids with '/' are named) with the wrong bytes
    (partial / sdkfileid_hash(files[1].name)).write_bytes(b"tampered")
    s = Importer(rt).import_file(SAMPLE, media_dir=partial)
    assert s.media["missing"] > 0 and s.media["quarantined"] >= 1
    with rt.sessions() as session:
        bad = (
            session.execute(select(MediaObject).where(MediaObject.sdkfileid == files[1].name)).scalars().all()
        )
        assert bad and all(r.status == "quarantined" and r.problem == "md5_mismatch" for r in bad)
    with rt.sessions.begin() as session:
        counts = retry_missing(session, MediaStore(rt.blobs, rt.envelope), MEDIA)
    assert counts["missing"] == 0 and counts["stored"] > 0
    with rt.sessions() as session:
        statuses = set(
            session.execute(select(Message.media_status).where(Message.media_status.is_not(None))).scalars()
        )
        assert statuses == {"ok", "quarantined"}
