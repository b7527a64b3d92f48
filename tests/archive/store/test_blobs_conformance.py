"""One conformance suite for every blob store: local directory and real MinIO."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.kit.errors import NotFound
from archive.kit.timeutil import utcnow
from archive.store.blobs import BlobStore, LocalBlobStore, MinioBlobStore, SegmentWriter


def _drop_bucket(store: MinioBlobStore) -> None:
    for key in list(store.keys()):
        store.delete(key)
    store.client.remove_bucket(store.bucket)


@pytest.fixture(params=["local", "minio"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        s: BlobStore = LocalBlobStore(tmp_path / "blobs")
        s.ensure_ready()
        yield s
        return
    conf = request.getfixturevalue("minio_conf")
    m = MinioBlobStore(conf["endpoint"], conf["access_key"], conf["secret_key"], conf["bucket"])
    m.ensure_ready()
    yield m
    _drop_bucket(m)


def test_put_get_ranges(store: BlobStore) -> None:
    store.put("a/b/c.seg", b"0123456789")
    assert store.get("a/b/c.seg") == b"0123456789"
    assert store.get("a/b/c.seg", 3, 4) == b"3456"
    assert store.get("a/b/c.seg", 8) == b"89"


def test_overwrite_replaces(store: BlobStore) -> None:
    store.put("k.seg", b"one")
    store.put("k.seg", b"two")
    assert store.get("k.seg") == b"two"


def test_missing_is_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("nope/missing.seg")
    assert not store.exists("nope/missing.seg")


def test_delete_and_list(store: BlobStore) -> None:
    for k in ("p/1.seg", "p/2.seg", "q/3.seg"):
        store.put(k, k.encode())
    assert sorted(store.keys("p/")) == ["p/1.seg", "p/2.seg"]
    store.delete("p/1.seg")
    assert not store.exists("p/1.seg") and store.exists("p/2.seg")
    store.delete("p/1.seg")  # deleting twice is harmless


def test_ping(store: BlobStore) -> None:
    assert store.ping()


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "", "a/../../b"])
def test_unsafe_keys_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_segment_writer_packs_records(store: BlobStore) -> None:
    seg = SegmentWriter(store)
    refs = [seg.append(payload) for payload in (b"first", b"second-record", b"3")]
    seg.flush()
    assert [store.get(r.key, r.offset, r.length) for r in refs] == [b"first", b"second-record", b"3"]
    assert len({r.key for r in refs}) == 1


def test_empty_segment_writes_nothing(store: BlobStore) -> None:
    seg = SegmentWriter(store)
    seg.flush()
    assert not store.exists(seg.key)


def test_minio_down_ping_false() -> None:
    dead = MinioBlobStore("127.0.0.1:1", "x", "y", "bucket")
    assert dead.ping() is False


def test_object_lock_blocks_delete_and_overwrite(minio_conf: dict[str, str]) -> None:
    """WORM mode on real MinIO: a segment under COMPLIANCE retention cannot be deleted or replaced."""
    from minio.error import S3Error

    store = MinioBlobStore(
        minio_conf["endpoint"],
        minio_conf["access_key"],
        minio_conf["secret_key"],
        minio_conf["bucket"],
        object_lock=True,
        retention_days=1,
    )
    store.ensure_ready()
    store.put("locked/seg1.seg", b"evidence", retain_until=utcnow() + timedelta(days=1))
    versions = list(store.client.list_objects(store.bucket, prefix="locked/", include_version=True))
    assert len(versions) == 1
    with pytest.raises(S3Error):
        store.client.remove_object(store.bucket, "locked/seg1.seg", version_id=versions[0].version_id)
    # An overwrite in a versioned, locked bucket creates a new version; the original stays intact.
    store.put("locked/seg1.seg", b"forged", retain_until=utcnow() + timedelta(days=1))
    original = store.client.get_object(store.bucket, "locked/seg1.seg", version_id=versions[0].version_id)
    try:
        assert original.read() == b"evidence"
    finally:
        original.close()
        original.release_conn()
