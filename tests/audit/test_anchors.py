"""Anchors of the access log in the blob store: what the chain alone cannot show (entries cut off its end,
a chain edited and hashed again) is found once the head was anchored — on SQLite + a local directory and on
real PostgreSQL + MinIO, and in an object-lock bucket where an anchor is hidden or overwritten."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from minio.error import S3Error
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive.migrate import upgrade
from archive.store.blobs import BlobStore, LocalBlobStore, MinioBlobStore
from archive.store.db import make_engine, make_sessionmaker
from archive.store.models import AccessAudit
from audit import anchors, log

KEY = anchors.anchor_key(secrets.token_bytes(32))


@dataclass
class Env:
    session: Session
    blobs: BlobStore


def _minio(conf: dict[str, str], *, locked: bool = False) -> MinioBlobStore:
    store = MinioBlobStore(
        conf["endpoint"],
        conf["access_key"],
        conf["secret_key"],
        conf["bucket"],
        object_lock=locked,
        retention_days=1,
    )
    store.ensure_ready()
    return store


def _drop(store: MinioBlobStore) -> None:
    if store.object_lock:
        return  # locked versions outlive the test by design (one day); the bucket name is unique
    for key in list(store.keys()):
        store.delete(key)
    store.client.remove_bucket(store.bucket)


@pytest.fixture(params=["sqlite+local", "postgres+minio"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    sqlite = request.param == "sqlite+local"
    url = f"sqlite:///{tmp_path / 'a.db'}" if sqlite else request.getfixturevalue("fresh_pg_url")
    engine = make_engine(url)
    upgrade(engine)
    blobs: BlobStore
    if sqlite:
        blobs = LocalBlobStore(tmp_path / "blobs")
        blobs.ensure_ready()
    else:
        blobs = _minio(request.getfixturevalue("minio_conf"))
    with make_sessionmaker(engine)() as s:
        yield Env(s, blobs)
    if isinstance(blobs, MinioBlobStore):
        _drop(blobs)
    engine.dispose()


def _log(session: Session, n: int, start: int = 0) -> list[AccessAudit]:
    rows = [
        log.append(session, actor=f"u{i}", action="content.read", target_ids=[f"m{i}"], query="q")
        for i in range(start, start + n)
    ]
    session.commit()
    return rows


def _verify(env: Env) -> log.ChainReport:
    found, forged = anchors.read_anchors(env.blobs, KEY)
    assert forged == []
    return log.verify_chain(env.session, anchors=found)


def test_anchors_hold_an_intact_log_and_are_written_only_when_it_grew(env: Env) -> None:
    assert anchors.write_anchor(env.session, env.blobs, KEY) is None  # empty log
    rows = _log(env.session, 3)
    first = anchors.write_anchor(env.session, env.blobs, KEY)
    assert first is not None and (first.entry_id, first.hash) == (rows[-1].id, rows[-1].hash)
    assert anchors.write_anchor(env.session, env.blobs, KEY) is None  # nothing logged since
    rows += _log(env.session, 2, start=3)
    second = anchors.write_anchor(env.session, env.blobs, KEY)
    assert second is not None and second.entry_id == rows[-1].id
    assert sorted(env.blobs.keys(anchors.PREFIX)) == [first.key, second.key]
    report = _verify(env)
    assert report.ok and (report.entries, report.anchors) == (5, 2)


def test_entries_cut_off_the_end_are_found_only_with_the_anchor(env: Env) -> None:
    rows = _log(env.session, 5)
    anchors.write_anchor(env.session, env.blobs, KEY)
    env.session.execute(delete(AccessAudit).where(AccessAudit.id.in_([rows[3].id, rows[4].id])))
    env.session.commit()
    assert log.verify_chain(env.session).ok  # the chain alone: three valid entries
    report = _verify(env)
    assert not report.ok and report.first_bad_id == rows[4].id
    assert f"ends at entry {rows[2].id}" in report.problem and "removed from its end" in report.problem


def test_an_edited_and_rehashed_log_is_found_only_with_the_anchor(env: Env) -> None:
    rows = _log(env.session, 5)
    anchors.write_anchor(env.session, env.blobs, KEY)
    # someone with write access to the database edits entry 2 and hashes the chain again from there
    env.session.execute(update(AccessAudit).where(AccessAudit.id == rows[1].id).values(actor="nobody"))
    env.session.commit()
    env.session.expire_all()
    prev = rows[0].hash
    for row in env.session.execute(
        select(AccessAudit).where(AccessAudit.id > rows[0].id).order_by(AccessAudit.id)
    ).scalars():
        row.prev_hash = prev
        row.hash = prev = log._digest(prev, row)
    env.session.commit()
    assert log.verify_chain(env.session).ok  # the chain alone cannot tell
    report = _verify(env)
    assert not report.ok and report.first_bad_id == rows[4].id and "rewritten" in report.problem


def test_a_deleted_anchored_entry_is_named(env: Env) -> None:
    rows = _log(env.session, 3)
    anchors.write_anchor(env.session, env.blobs, KEY)
    _log(env.session, 2, start=3)
    env.session.execute(delete(AccessAudit).where(AccessAudit.id == rows[2].id))
    env.session.commit()
    report = _verify(env)
    assert (
        not report.ok and report.first_bad_id == rows[2].id and "anchored entry is missing" in report.problem
    )


def test_anchors_not_made_with_the_keyring_are_reported(env: Env) -> None:
    rows = _log(env.session, 2)
    other = anchors.anchor_key(secrets.token_bytes(32))
    anchors.write_anchor(env.session, env.blobs, other)  # e.g. forged to cover a cut
    env.blobs.put(f"{anchors.PREFIX}{'9' * 20}.json", b"{not json")
    found, forged = anchors.read_anchors(env.blobs, KEY)
    assert found == []
    assert {p.key: p.problem.split(":")[0] for p in forged} == {
        f"{anchors.PREFIX}{rows[-1].id:020d}.json": "its MAC does not match",
        f"{anchors.PREFIX}{'9' * 20}.json": "not a readable anchor",
    }


def test_an_anchor_copied_under_another_entrys_name_is_reported(env: Env) -> None:
    _log(env.session, 2)
    anchor = anchors.write_anchor(env.session, env.blobs, KEY)
    assert anchor is not None
    env.blobs.put(f"{anchors.PREFIX}{anchor.entry_id + 7:020d}.json", env.blobs.get(anchor.key))
    found, forged = anchors.read_anchors(env.blobs, KEY)
    assert [a.entry_id for a in found] == [anchor.entry_id]
    assert [p.problem for p in forged] == [
        f"stored under another entry's name (it anchors {anchor.entry_id})"
    ]


def test_a_locked_anchor_hidden_or_overwritten_still_counts(
    minio_conf: dict[str, str], tmp_path: Path
) -> None:
    """Object lock (WORM) on real MinIO: deleting an anchor only adds a delete marker and overwriting adds a
    version; verification reads every version, so the cut is still found and the overwrite reported."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    store = _minio(minio_conf, locked=True)
    with make_sessionmaker(engine)() as session:
        rows = _log(session, 4)
        anchor = anchors.write_anchor(session, store, KEY)
        assert anchor is not None
        store.delete(anchor.key)  # no version id: a delete marker hides it from listings
        assert list(store.keys(anchors.PREFIX)) == []
        session.execute(delete(AccessAudit).where(AccessAudit.id == rows[-1].id))
        session.commit()
        found, forged = anchors.read_anchors(store, KEY)
        assert [a.entry_id for a in found] == [rows[-1].id] and forged == []
        report = log.verify_chain(session, anchors=found)
        assert not report.ok and "removed from its end" in report.problem

        store.put(anchor.key, orjson.dumps({"v": 1, "entry_id": rows[-2].id, "hash": "0" * 64, "at": "x"}))
        found, forged = anchors.read_anchors(store, KEY)
        assert [a.entry_id for a in found] == [rows[-1].id]
        assert [p.problem for p in forged] == ["not a readable anchor"]
        # and the anchor's first version is under retention: not even its version can be removed
        first = next(
            v
            for v in store.client.list_objects(store.bucket, prefix=anchors.PREFIX, include_version=True)
            if not v.is_delete_marker
        )
        with pytest.raises(S3Error):
            store.client.remove_object(store.bucket, anchor.key, version_id=first.version_id)
    engine.dispose()
