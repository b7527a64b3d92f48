"""Quarantine: list, show (audited), retry after the cause is fixed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from archive.ingest.pipeline import Importer
from archive.ingest.quarantine import list_entries, retry, show
from archive.runtime import Runtime
from archive.store.models import AccessAudit, Message
from audit.principal import operator
from tests.helpers import SAMPLE


def test_list_show_and_retry(runtime: Runtime, tmp_path: Path) -> None:
    good = SAMPLE.read_bytes().splitlines()[0]
    huge = SAMPLE.read_bytes().splitlines()[1]
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"{oops\n" + good + b"\n" + huge + b"\n")
    rt = runtime
    assert len(huge) > len(good) + 5
    rt.settings.ingest_max_line_bytes = len(good) + 5  # the longer record is quarantined as too_large
    s = Importer(rt).import_file(path)
    assert s.imported == 1 and s.quarantined == 2
    with rt.sessions() as session:
        entries = list_entries(session, operator())
        assert sorted(e.reason for e in entries) == ["invalid_json", "too_large"]
        entry, raw = show(
            session,
            operator(),
            next(e.id for e in entries if e.reason == "invalid_json"),
            rt.blobs,
            rt.envelope,
        )
        assert raw == b"{oops" and entry.line_no == 1
        session.commit()
        assert session.execute(
            select(AccessAudit).where(AccessAudit.action == "quarantine.show")
        ).scalar_one()
    # too_large keeps only a truncated prefix, so raising the cap does not recover it: it stays open
    rt.settings.ingest_max_line_bytes = 1_048_576
    with rt.sessions() as session:
        result = retry(session, operator(), Importer(rt), rt.blobs, rt.envelope)
        session.commit()
    assert (result.retried, result.imported, result.still_rejected) == (2, 0, 2)
    with rt.sessions() as session:
        assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 1
        assert len(list_entries(session, operator())) == 2  # nothing quarantined twice


def test_retry_imports_once_fixed(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    rec = b'{"source":"crm","msgid":"c-1","from":"agent7","time":"2024-05-06T10:00:00+08:00","text":"\xe4\xbd\xa0\xe5\xa5\xbd","meta":{"crm":{"case":1}}}'
    path = tmp_path / "g.jsonl"
    path.write_bytes(rec + b"\n")
    rt.settings.ingest_max_json_depth = 2  # the record nests three deep: quarantined
    s = Importer(rt).import_file(path, fmt="generic")
    assert s.quarantined == 1 and s.quarantined_by_reason == {"too_deep": 1}
    rt.settings.ingest_max_json_depth = 32
    with rt.sessions() as session:
        result = retry(session, operator(), Importer(rt), rt.blobs, rt.envelope)
        session.commit()
    assert (result.imported, result.still_rejected) == (1, 0)
    with rt.sessions() as session:
        msg = session.execute(select(Message)).scalar_one()
        assert (msg.source, msg.source_msgid) == ("crm", "c-1")
        assert list_entries(session, operator()) == []


def test_rerun_of_a_finished_file_does_not_quarantine_twice(
    embedded_runtime: Runtime, tmp_path: Path
) -> None:
    rt = embedded_runtime
    path = tmp_path / "twice.jsonl"
    path.write_bytes(b"{oops\n" + SAMPLE.read_bytes().splitlines()[0] + b"\n[1]\n")
    first = Importer(rt).import_file(path)
    again = Importer(rt).import_file(path)  # finished files are re-read from the start
    assert (first.quarantined, first.imported) == (2, 1)
    assert (again.quarantined, again.quarantined_again, again.duplicates) == (0, 2, 1)
    with rt.sessions() as session:
        assert len(list_entries(session, operator())) == 2
