"""OpenSearch stopped in the middle of an ingest: ingest still commits everything, the index lag is
visible, and once OpenSearch is back the outbox catches the index up (real OpenSearch, really stopped)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.search.indexer import drain, lag, retry_now
from archive.search.service import search
from archive.store.models import Message
from audit.principal import operator
from tests.helpers import SAMPLE


def _services(*args: str) -> None:
    script = os.environ.get("CHATVAULT_TEST_SERVICES_SCRIPT", "scripts/services.sh")
    subprocess.run(["bash", script, *args], check=True, capture_output=True, timeout=300)


def test_opensearch_outage_mid_ingest(production_runtime: Runtime, tmp_path: Path) -> None:
    rt = production_runtime
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[:80]))
    second.write_bytes(b"".join(lines[80:]))
    s1 = Importer(rt).import_file(first)
    assert s1.indexed == s1.imported > 0
    _services("stop", "opensearch")
    try:
        assert not rt.search.ping()
        s2 = Importer(rt).import_file(second)
        assert s2.imported > 0 and s2.indexed == 0
        with rt.sessions() as session:
            assert lag(session) == s2.imported
            assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 159
        assert drain(rt) == 0  # still down: nothing lost, nothing marked done
    finally:
        _services("start", "opensearch")
    with rt.sessions.begin() as session:
        retry_now(session)
    assert drain(rt) == s2.imported
    rt.search.refresh()
    with rt.sessions() as session:
        assert lag(session) == 0
        hits = search(session, rt, operator(), "12315", limit=0).hits  # the complaint is in the second half
        session.commit()
    assert hits and all("12315" in h.text for h in hits)
    assert rt.search.count() == 159
