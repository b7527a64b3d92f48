"""HTTP push of record batches (per-record results) and of media bytes (md5-checked)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from archive.ingest.models import MediaObject
from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.store.models import Message
from audit.accounts import create_account
from tests.helpers import MEDIA, SAMPLE


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, Runtime, dict[str, str]]]:
    with runtime.sessions.begin() as s:
        create_account(s, "ingestor", "ingestor-password-1", ["admin"])
        create_account(s, "reader", "reader-password-12", ["compliance"])
    with TestClient(create_app(runtime)) as c:
        tok = c.post(
            "/api/v1/auth/login", data={"username": "ingestor", "password": "ingestor-password-1"}
        ).json()
        yield c, runtime, {"Authorization": f"Bearer {tok['access_token']}"}


def rec(i: int, **over: object) -> dict[str, object]:
    return {
        "source": "crm",
        "msgid": f"m{i}",
        "from": "agent1",
        "time": 1715000000000 + i,
        "text": f"消息{i}",
        **over,
    }


def test_batch_gives_a_result_per_record(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, rt, auth = client
    batch = [
        rec(1),
        rec(2),
        rec(1),
        {"msgid": "no-source"},
        rec(3, time="yesterday"),
        "not an object",
        rec(4),
    ]
    r = c.post("/api/v1/ingest/generic", json=batch, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == [
        "accepted",
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 3)
    assert all(x["reason"] for x in body["results"] if x["status"] == "rejected")
    again = c.post("/api/v1/ingest/generic", json=[rec(4)], headers=auth).json()
    assert again["results"][0]["status"] == "duplicate"
    with rt.sessions() as s:
        assert sorted(s.execute(select(Message.source_msgid)).scalars()) == ["m1", "m2", "m4"]


def test_ndjson_with_a_broken_line(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, _, auth = client
    body = orjson.dumps(rec(1)) + b"\n{broken\n" + orjson.dumps(rec(2)) + b"\n"
    r = c.post(
        "/api/v1/ingest/generic", content=body, headers={**auth, "Content-Type": "application/x-ndjson"}
    )
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "rejected", "accepted"]


def test_bad_bodies_are_clear_errors(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, _, auth = client
    assert c.post("/api/v1/ingest/generic", content=b"{", headers=auth).status_code == 422
    assert c.post("/api/v1/ingest/generic", json={"a": 1}, headers=auth).status_code == 422
    assert c.post("/api/v1/ingest/generic", json=[], headers=auth).status_code == 422
    assert c.post("/api/v1/ingest/other", json=[rec(1)], headers=auth).status_code == 422


def test_readers_cannot_push(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, _, _ = client
    tok = c.post("/api/v1/auth/login", data={"username": "reader", "password": "reader-password-12"}).json()
    r = c.post(
        "/api/v1/ingest/generic", json=[rec(1)], headers={"Authorization": f"Bearer {tok['access_token']}"}
    )
    assert r.status_code == 403


def test_media_push_verifies_md5(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, rt, auth = client
    s = Importer(rt).import_file(SAMPLE)  # no media directory: every media reference is missing
    assert s.media["missing"] > 0 and "ok" not in s.media
    with rt.sessions() as session:
        rows = (
            session.execute(select(MediaObject).where(MediaObject.expected_md5.is_not(None))).scalars().all()
        )
    good, other = rows[0], next(r for r in rows if r.sdkfileid != rows[0].sdkfileid)
    ok = c.put(f"/api/v1/media/{good.sdkfileid}", content=(MEDIA / good.sdkfileid).read_bytes(), headers=auth)
    assert ok.status_code == 200 and {m["status"] for m in ok.json()["media"]} == {"stored"}
    bad = c.put(f"/api/v1/media/{other.sdkfileid}", content=b"not the file", headers=auth)
    assert bad.status_code == 200 and bad.json()["media"][0] == {
        **bad.json()["media"][0],
        "status": "quarantined",
        "problem": "md5_mismatch",
    }
    assert c.put("/api/v1/media/unknown-id", content=b"x", headers=auth).status_code == 404
    with rt.sessions() as session:
        msg = session.get(Message, good.message_id)
        assert msg is not None and msg.media_status in {"ok", "missing"}
        bad_msg = session.get(Message, other.message_id)
        assert bad_msg is not None and bad_msg.media_status == "quarantined"


def test_customer_consent_is_visible(client: tuple[TestClient, Runtime, dict[str, str]]) -> None:
    c, rt, _ = client
    Importer(rt).import_file(SAMPLE)
    tok = c.post("/api/v1/auth/login", data={"username": "reader", "password": "reader-password-12"}).json()
    reader = {"Authorization": f"Bearer {tok['access_token']}"}
    line = next(ln for ln in SAMPLE.read_text().splitlines() if '"msgtype":"disagree"' in ln)
    who = orjson.loads(line)["from"]
    r = c.get(f"/api/v1/customers/{who}", headers=reader)
    assert r.status_code == 200 and r.json()["consent_state"] == "agree" and r.json()["consent_at"]
    assert c.get("/api/v1/customers/wmNOBODY", headers=reader).status_code == 404
