"""Alerts and lexicon over HTTP, end to end: a tier-3 finding in imported chat freezes the employee and
their login stops working; reviewers work the queue; an admin's rule applies without restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.store.models import Employee
from audit.accounts import create_account
from tests.helpers import SAMPLE


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, Runtime]]:
    with runtime.sessions.begin() as s:
        zhoumin = Employee(userid="zhoumin", name="周敏")
        s.add(zhoumin)
        s.flush()
        create_account(s, "zhoumin", "zhoumin-password-1", ["employee"], employee_id=zhoumin.id)
        create_account(s, "officer", "officer-password-1", ["compliance"])
        create_account(s, "lexadmin", "lexadmin-password1", ["admin"])
    with TestClient(create_app(runtime)) as c:
        yield c, runtime


def login(c: TestClient, user: str, password: str) -> dict[str, str]:
    r = c.post("/api/v1/auth/login", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_tier3_freeze_blocks_login_and_queue_workflow(client: tuple[TestClient, Runtime]) -> None:
    c, rt = client
    seller = login(c, "zhoumin", "zhoumin-password-1")
    assert c.get("/api/v1/auth/me", headers=seller).status_code == 200
    summary = Importer(rt).import_file(SAMPLE)  # holds zhoumin's request to be paid to a personal Alipay
    assert summary.alerts >= 1
    with rt.sessions() as s:
        assert s.execute(select(Employee.status).where(Employee.userid == "zhoumin")).scalar_one() == "frozen"
    assert c.get("/api/v1/auth/me", headers=seller).status_code == 401  # the live session ended
    assert (
        c.post(
            "/api/v1/auth/login", data={"username": "zhoumin", "password": "zhoumin-password-1"}
        ).status_code
        == 401
    )
    officer = login(c, "officer", "officer-password-1")
    queue = c.get("/api/v1/alerts", headers=officer).json()
    assert queue and queue[0]["tier"] == 3 and queue[0]["category"] == "side_dealing"
    assert [a["tier"] for a in queue] == sorted((a["tier"] for a in queue), reverse=True)
    aid = queue[0]["id"]
    assert (
        c.post(f"/api/v1/alerts/{aid}/transition", json={"to": "resolved"}, headers=officer).status_code
        == 409
    )
    for to in ("claimed", "escalated", "resolved"):
        r = c.post(f"/api/v1/alerts/{aid}/transition", json={"to": to, "note": f"step {to}"}, headers=officer)
        assert r.status_code == 200 and r.json()["status"] == to
    detail = c.get(f"/api/v1/alerts/{aid}", headers=officer).json()
    assert [h["to_status"] for h in detail["history"]] == ["open", "claimed", "escalated", "resolved"]
    report = c.get("/api/v1/alerts/report/precision", headers=officer).json()
    assert any(r["rule"] == detail["rule"] and r["confirmed"] == 1 for r in report)
    bad = c.post(f"/api/v1/alerts/{aid}/transition", json={"to": "sideways"}, headers=officer)
    assert bad.status_code == 422


def test_lexicon_edit_applies_without_restart(client: tuple[TestClient, Runtime]) -> None:
    c, rt = client
    admin = login(c, "lexadmin", "lexadmin-password1")
    officer = login(c, "officer", "officer-password-1")
    assert c.get("/api/v1/risk/lexicon", headers=officer).status_code == 403  # separation of duties
    assert rt.analyzer.scan_message("送你一张蓝莓券", "employee").labels == []
    rule = {"category": "bribery", "match": "exact", "terms": ["蓝莓券"], "tier": 3}
    r = c.put("/api/v1/risk/lexicon/rules/br.blueberry", json=rule, headers=admin)
    assert r.status_code == 200, r.text
    assert rt.analyzer.scan_message("送你一张蓝莓券", "employee").labels == ["bribery"]
    bad = c.put("/api/v1/risk/lexicon/rules/br.bad", json={"category": "nope", "terms": ["x"]}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    history = c.get("/api/v1/risk/lexicon/history", headers=admin).json()
    assert history[0]["actor"] == "lexadmin" and history[0]["change"] == "rule br.blueberry saved"
    assert c.delete("/api/v1/risk/lexicon/rules/br.blueberry", headers=admin).status_code == 200
    assert rt.analyzer.scan_message("送你一张蓝莓券", "employee").labels == []
