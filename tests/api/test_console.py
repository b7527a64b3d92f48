"""The web console: served at /, and every API path its script calls is a route of the app (a renamed
or removed endpoint breaks this test rather than the console in a user's browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import CONSOLE, create_app
from archive.runtime import Runtime


@pytest.fixture
def app_client(embedded_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(embedded_runtime)) as c:
        yield c


def _called_paths(html: str) -> set[str]:
    """API paths in the console's script, with `${…}` interpolations as one path segment."""
    paths = set()
    for literal in re.findall(r"[\"`](/api/v1/[^\"`?]*)", html):
        paths.add(re.sub(r"\$\{[^}]*\}", "X", literal))
    return paths


def test_console_is_served_with_its_three_views(app_client: TestClient) -> None:
    r = app_client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for view in ('id="search"', 'id="alerts"', 'id="audit"'):
        assert view in r.text


def test_every_api_path_the_console_calls_exists(app_client: TestClient) -> None:
    routes = [
        re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for path in app_client.get("/api/openapi.json").json()["paths"]
    ]
    called = _called_paths(CONSOLE.read_text(encoding="utf-8"))
    assert {
        "/api/v1/auth/login",
        "/api/v1/search",
        "/api/v1/alerts",
        "/api/v1/alerts/X/transition",
        "/api/v1/messages/X",
        "/api/v1/audit/entries",
        "/api/v1/audit/verify",
    } <= called
    assert [p for p in called if not any(r.match(p) for r in routes)] == []
