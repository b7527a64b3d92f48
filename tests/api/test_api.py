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
