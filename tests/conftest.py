"""Shared fixtures. Real services come from scripts/services.sh (it writes .services/env).

Under CI=true a test whose service is missing FAILS; on a developer machine it skips and says how to
start the service. The terminal summary prints how many tests used each real service."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SERVICE_FIXTURES = {"pg_url": "postgres", "minio_conf": "minio", "opensearch_url": "opensearch"}
_used: Counter[str] = Counter()
_outcomes: dict[str, Counter[str]] = {}


def _load_services_env() -> None:
    env_file = Path(os.environ.get("CHATVAULT_SERVICES_DIR", ROOT / ".services")) / "env"
    if not env_file.exists():
        return
    for line in env_file.read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :]
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


_load_services_env()


def _require(var: str, service: str) -> str:
    value = os.environ.get(var, "")
    if value:
        return value
    msg = (
        f"{service} is not available ({var} unset): start it with `bash scripts/services.sh start {service}`"
    )
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    (pytest.fail if in_ci else pytest.skip)(msg)  # under CI a missing service FAILS, never skips
    raise AssertionError("unreachable")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, service in SERVICE_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, service))


_usage: dict[str, set[str]] = {}
_result: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _record_service_usage(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, note which real services it really used (fixtures requested directly, through
    other fixtures, or dynamically with getfixturevalue)."""
    yield
    names = set(request.fixturenames)
    _usage[request.node.nodeid] = {svc for fx, svc in SERVICE_FIXTURES.items() if fx in names}
    if "fresh_pg_url" in names or "pg_url" in names:
        _usage[request.node.nodeid].add("postgres")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _result[report.nodeid] = report.outcome
    if report.when == "teardown":
        outcome = _result.get(report.nodeid, "passed" if report.outcome == "passed" else "failed")
        for service in _usage.get(report.nodeid, ()):
            _outcomes.setdefault(service, Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_sep("=", "real services used")
    for service in ("postgres", "minio", "opensearch"):
        c = _outcomes.get(service, Counter())
        terminalreporter.write_line(
            f"{service:10s} tests={sum(c.values())} passed={c['passed']} failed={c['failed']} "
            f"skipped={c['skipped']}"
        )


@contextmanager
def _database(base_url: str, prefix: str) -> Iterator[str]:
    """Create a throw-away PostgreSQL database next to `base_url`; drop it (and its sessions) after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    with _database(_require("CHATVAULT_TEST_DATABASE_URL", "postgres"), "cv") as url:
        yield url


@pytest.fixture
def minio_conf() -> dict[str, str]:
    """Connection settings for the real MinIO plus a bucket name unique to this test."""
    return {
        "endpoint": _require("CHATVAULT_TEST_MINIO_ENDPOINT", "minio"),
        "access_key": os.environ.get("CHATVAULT_TEST_MINIO_ACCESS_KEY", ""),
        "secret_key": os.environ.get("CHATVAULT_TEST_MINIO_SECRET_KEY", ""),
        "bucket": f"cvt-{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture
def opensearch_url() -> str:
    return _require("CHATVAULT_TEST_OPENSEARCH_URL", "opensearch")


@pytest.fixture
def os_index() -> str:
    """An index name unique to this test."""
    return f"cvt-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own for one test."""
    with _database(pg_url, "cvf") as url:
        yield url


@pytest.fixture(params=["embedded", "production"])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A migrated Runtime in each configuration: embedded (SQLite, local blobs, sql search) and
    production (real PostgreSQL, MinIO and OpenSearch)."""
    from tests.helpers import make_runtime

    rt = make_runtime(request.param, tmp_path, request)
    try:
        yield rt
    finally:
        from tests.helpers import dispose_runtime

        dispose_runtime(rt)


@pytest.fixture
def embedded_runtime(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.helpers import dispose_runtime, make_runtime

    rt = make_runtime("embedded", tmp_path, request)
    yield rt
    dispose_runtime(rt)


@pytest.fixture
def production_runtime(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.helpers import dispose_runtime, make_runtime

    rt = make_runtime("production", tmp_path, request)
    yield rt
    dispose_runtime(rt)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A migrated, empty database (SQLite file, or a real PostgreSQL database of its own): a sessionmaker."""
    from archive.migrate import upgrade
    from archive.store.db import make_engine, make_sessionmaker

    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_pg_url")
    )
    engine = make_engine(url)
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()
