"""The HTTP API on a real runtime: health, login, search, read, problem+json errors, audit rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.store.models import AccessAudit
from audit.accounts import bootstrap_admin, create_account
from tests.helpers import SAMPLE


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, Runtime, str]]:
    Importer(runtime).import_file(SAMPLE)
    runtime.search.refresh()
    with runtime.sessions.begin() as session:
        creds = bootstrap_admin(session)
        create_account(session, "auditor1", "auditor-password-1", ["auditor"])
        create_account(session, "outsider", "outsider-password-1", ["outsourced"], employee_id=None)
    assert creds is not None
    with TestClient(create_app(runtime)) as c:
        yield c, runtime, creds[1]


def _token(c: TestClient, user: str, password: str) -> str:
    r = c.post("/api/v1/auth/login", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_health(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, _ = client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["checks"]["index_lag"] == 0


def test_login_failure_is_problem_json(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, _ = client
    r = c.post("/api/v1/auth/login", data={"username": "admin", "password": "wrong"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "unauthorized"


def test_search_and_read_are_audited(client: tuple[TestClient, Runtime, str]) -> None:
    c, rt, password = client
    auth = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}
    r = c.get("/api/v1/search", params={"q": "支付宝"}, headers=auth)
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert hits and all("支付宝" in h["text"] for h in hits)
    assert hits[0]["watermark"].startswith("admin ")
    one = c.get(f"/api/v1/messages/{hits[0]['id']}", headers=auth)
    assert one.status_code == 200 and one.json()["record"]["msgid"] == hits[0]["msgid"]
    with rt.sessions() as session:
        rows = session.execute(select(AccessAudit).where(AccessAudit.actor == "admin")).scalars().all()
    actions = [r.action for r in rows]
    assert "content.search" in actions and "content.read" in actions
    search_row = next(r for r in rows if r.action == "content.search")
    assert search_row.query == "支付宝" and hits[0]["id"] in search_row.target_ids


def test_auditor_cannot_read_content(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, _ = client
    auth = {"Authorization": f"Bearer {_token(c, 'auditor1', 'auditor-password-1')}"}
    r = c.get("/api/v1/search", params={"q": "支付宝"}, headers=auth)
    assert r.status_code == 403 and r.json()["title"] == "forbidden"


def test_outsourced_without_scope_sees_nothing(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, _ = client
    auth = {"Authorization": f"Bearer {_token(c, 'outsider', 'outsider-password-1')}"}
    r = c.get("/api/v1/search", params={"q": "支付宝"}, headers=auth)
    assert r.status_code == 200 and r.json()["hits"] == []


def test_missing_or_bad_token(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, _ = client
    assert c.get("/api/v1/search", params={"q": "x"}).status_code == 401
    r = c.get("/api/v1/search", params={"q": "x"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_validation_error_is_problem_json(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, password = client
    auth = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}
    r = c.get("/api/v1/search", params={"q": "x", "limit": 0}, headers=auth)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def test_unknown_message_is_404(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, password = client
    auth = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}
    r = c.get("/api/v1/messages/doesnotexist", headers=auth)
    assert r.status_code == 404


def test_auditor_reads_the_access_log_filtered_and_paged(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, password = client
    admin = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}
    hits = c.get("/api/v1/search", params={"q": "支付宝"}, headers=admin).json()["hits"]
    assert c.get(f"/api/v1/messages/{hits[0]['id']}", headers=admin).status_code == 200
    auditor = {"Authorization": f"Bearer {_token(c, 'auditor1', 'auditor-password-1')}"}

    page = c.get("/api/v1/audit/entries", params={"actor": "admin"}, headers=auditor).json()
    # newest first; logins are logged too
    assert [e["action"] for e in page["entries"]] == ["content.read", "content.search", "auth.login"]
    assert page["entries"][1]["query"] == "支付宝" and page["next_before_id"] is None
    about = c.get("/api/v1/audit/entries", params={"target_id": hits[0]["id"]}, headers=auditor).json()
    assert {e["action"] for e in about["entries"]} == {"content.read", "content.search"}
    assert (
        c.get("/api/v1/audit/entries", params={"target_id": "nope%"}, headers=auditor).json()["entries"] == []
    )

    first = c.get("/api/v1/audit/entries", params={"actor": "admin", "limit": 1}, headers=auditor).json()
    assert [e["action"] for e in first["entries"]] == ["content.read"] and first["next_before_id"]
    older = c.get(
        "/api/v1/audit/entries",
        params={"actor": "admin", "limit": 1, "before_id": first["next_before_id"]},
        headers=auditor,
    ).json()
    assert [e["action"] for e in older["entries"]] == ["content.search"]
    # reading the log is logged too
    own = c.get(
        "/api/v1/audit/entries", params={"actor": "auditor1", "action": "audit.read"}, headers=auditor
    ).json()["entries"]
    assert len(own) == 5 and own[-1]["detail"]["filters"] == {"actor": "admin"}

    bad = c.get(
        "/api/v1/audit/entries",
        params={"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        headers=auditor,
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "since must be before until" in bad.text


def test_only_auditors_read_or_verify_the_log(client: tuple[TestClient, Runtime, str]) -> None:
    c, _, password = client
    admin = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}  # admin + compliance
    assert c.get("/api/v1/audit/entries", headers=admin).status_code == 403
    assert c.get("/api/v1/audit/verify", headers=admin).status_code == 403
    assert c.get("/api/v1/audit/verify").status_code == 401


def test_auditor_verifies_the_log_against_its_anchors(client: tuple[TestClient, Runtime, str]) -> None:
    from sqlalchemy import delete, func

    from audit.anchors import write_anchor

    c, rt, password = client
    admin = {"Authorization": f"Bearer {_token(c, 'admin', password)}"}
    c.get("/api/v1/search", params={"q": "支付宝"}, headers=admin)
    auditor = {"Authorization": f"Bearer {_token(c, 'auditor1', 'auditor-password-1')}"}
    with rt.sessions() as session:
        assert write_anchor(session, rt.blobs, rt.audit_anchor_key) is not None
    ok = c.get("/api/v1/audit/verify", headers=auditor).json()
    assert ok["ok"] and ok["anchors"] == 1 and ok["forged_anchors"] == []
    with rt.sessions.begin() as session:  # cut the newest entries, the anchored one among them
        top = session.scalar(select(func.max(AccessAudit.id)))
        session.execute(delete(AccessAudit).where(AccessAudit.id >= top - 1))
    cut = c.get("/api/v1/audit/verify", headers=auditor).json()
    assert not cut["ok"] and "removed from its end" in cut["problem"]
