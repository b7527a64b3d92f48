"""`keys rotate` re-wraps every data key under a new KEK without touching a blob."""

from __future__ import annotations

from sqlalchemy import select

from archive.ingest.pipeline import Importer
from archive.rotation import rotate
from archive.runtime import Runtime
from archive.store.keyring import Keyring
from archive.store.models import Message, Segment
from archive.store.records import RecordReader
from tests.helpers import SAMPLE


def test_rotate_rewraps_without_touching_blobs(runtime: Runtime) -> None:
    Importer(runtime).import_file(SAMPLE)
    with runtime.sessions() as s:
        before = {seg.key: runtime.blobs.get(seg.key) for seg in s.execute(select(Segment)).scalars()}
        old_ids = set(s.execute(select(Message.key_id)).scalars())
    new_id, count = rotate(runtime, batch=50)
    assert count == 159 and new_id not in old_ids
    with runtime.sessions() as s:
        msgs = s.execute(select(Message)).scalars().all()
        assert {m.key_id for m in msgs} == {new_id}
        assert {k: runtime.blobs.get(k) for k in before} == before
        # the new KEK is durable on disk, and it alone opens everything
        assert runtime.keyring.path is not None
        ring = Keyring.load(runtime.keyring.path)
        assert ring.active == new_id
        for old in old_ids:
            del runtime.keyring.keys[old]
        assert len(list(RecordReader(runtime.blobs, runtime.envelope).open_many(msgs))) == 159
