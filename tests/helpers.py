"""Test helpers: runtimes for both configurations, a brute-force oracle, sample paths."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import pytest

from archive.kit.settings import Settings
from archive.migrate import upgrade
from archive.runtime import Runtime
from archive.store.keyring import Keyring

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "wecom" / "archive_sample.jsonl"
MEDIA = ROOT / "examples" / "wecom" / "media"


def make_runtime(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **overrides: object) -> Runtime:
    data = tmp_path / "data"
    if kind == "embedded":
        settings = Settings(profile="embedded", data_dir=data, **overrides)  # type: ignore[arg-type]
    else:
        url = request.getfixturevalue("fresh_pg_url")
        minio = request.getfixturevalue("minio_conf")
        os_url = request.getfixturevalue("opensearch_url")
        index = request.getfixturevalue("os_index")
        keyring = tmp_path / "keyring.json"
        Keyring.generate(keyring).save()
        settings = Settings(
            profile="production",
            data_dir=data,
            database_url=url,
            blob_backend="minio",
            minio_endpoint=minio["endpoint"],
            minio_access_key=minio["access_key"],
            minio_secret_key=minio["secret_key"],
            minio_bucket=minio["bucket"],
            search_backend="opensearch",
            opensearch_url=os_url,
            opensearch_index=index,
            jwt_secret=secrets.token_urlsafe(40),
            keyring_path=keyring,
            **overrides,  # type: ignore[arg-type]
        )
    rt = Runtime.from_settings(settings)
    upgrade(rt.engine)
    rt.search.ensure_ready()
    return rt


def dispose_runtime(rt: Runtime) -> None:
    if rt.settings.search_backend == "opensearch":
        with contextlib.suppress(Exception):
            rt.search.clear()
    if rt.settings.blob_backend == "minio":
        from archive.store.blobs import MinioBlobStore

        store = rt.blobs
        assert isinstance(store, MinioBlobStore)
        for key in list(store.keys()):
            store.delete(key)
        store.client.remove_bucket(store.bucket)
    rt.close()


def archive_summary(rt: Runtime) -> list[tuple[object, ...]]:
    """What an import produced, independent of generated ids and keys: each message (source msgid, room,
    sender kind, risk labels, recalled) and each alert (room, rule, contributing msgids), sorted."""
    from sqlalchemy import select

    from archive.risk.models import Alert
    from archive.store.models import Message, Room

    with rt.sessions() as session:
        rooms = dict(session.execute(select(Room.id, Room.source_room_id)).tuples().all())
        by_id = dict(session.execute(select(Message.id, Message.source_msgid)).tuples().all())
        msgs = [
            (m.source_msgid, rooms[m.room_id], m.sender_kind, tuple(m.risk_labels or ()), m.recalled)
            for m in session.execute(select(Message)).scalars()
        ]
        alerts = [
            (rooms[a.room_id], a.rule, tuple(sorted(by_id[i] for i in a.message_ids)))
            for a in session.execute(select(Alert)).scalars()
        ]
    return sorted(msgs) + sorted(alerts)  # type: ignore[arg-type]
