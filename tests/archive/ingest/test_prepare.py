"""The prepare stage (decode, parse, seal, scan, blind-index, signals) gives the same archive whether it
runs in the importing process or in worker processes, and workers follow lexicon edits."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.ingest.models import QuarantineEntry
from archive.ingest.pipeline import Importer
from archive.ingest.prepare import Preparer
from archive.ingest.reader import RawLine
from archive.risk import service
from archive.runtime import Runtime
from archive.search.service import search
from archive.store.models import Message
from audit.principal import operator
from tests.helpers import ROOT, SAMPLE, archive_summary, dispose_runtime, make_runtime

sys.path.insert(0, str(ROOT))
from benchmarks.gen_wecom import generate

QUERIES = ["支付宝", "的", "退款", "私下", "微信", "pdf", "您好", "12315"]


def _mixed_file(tmp_path: Path) -> Path:
    """Generated traffic with bad lines of every kind between the records, plus a cross-message risk."""
    gen = tmp_path / "gen.jsonl"
    with gen.open("wb") as fh:
        generate(fh, 1200, seed=5)
    bad = [
        b'{"msgid": "cut',
        b"\xff\xfe not utf-8",
        b"[" * 100 + b"]" * 100,
        b'{"action": "send"}',
        b"[1, 2]",
    ]
    out = []
    for i, line in enumerate(gen.read_bytes().splitlines()):
        out.append(line)
        if i % 61 == 0:
            out.append(bad[(i // 61) % len(bad)])
    t0 = 1715000000000
    for n, (sender, to, text) in enumerate(
        [("zhoumin", "wmCUSTX", "系统发了个短信验证码给您，发这里就行"), ("wmCUSTX", "zhoumin", "482913")]
    ):
        rec = {"msgid": f"cross{n}", "action": "send", "from": sender, "tolist": [to], "roomid": ""}
        rec |= {"msgtime": t0 + n, "msgtype": "text", "text": {"content": text}}
        out.append(json.dumps(rec, ensure_ascii=False).encode())
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def _outcome(rt: Runtime, path: Path) -> tuple[object, ...]:
    summary = Importer(rt).import_file(SAMPLE).as_dict() | Importer(rt).import_file(path).as_dict()
    summary.pop("file")
    with rt.sessions() as session:
        quarantined = sorted(
            session.execute(select(QuarantineEntry.line_no, QuarantineEntry.reason, QuarantineEntry.msgid))
            .tuples()
            .all()
        )
        msgid = dict(session.execute(select(Message.id, Message.source_msgid)).tuples().all())
        hits = {
            q: sorted(msgid[h.id] for h in search(session, rt, operator(), q, limit=0).hits) for q in QUERIES
        }
        session.commit()
    return summary, quarantined, hits, archive_summary(rt)


def test_workers_give_the_same_archive(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    path = _mixed_file(tmp_path)
    alone = make_runtime("embedded", tmp_path / "alone", request, ingest_workers=0, ingest_batch_size=37)
    pooled = make_runtime("embedded", tmp_path / "pooled", request, ingest_workers=2, ingest_batch_size=37)
    try:
        expected = _outcome(alone, path)
        assert _outcome(pooled, path) == expected
    finally:
        dispose_runtime(alone)
        dispose_runtime(pooled)
    summary, quarantined, hits, archive = expected
    assert summary["quarantined"] == len(quarantined) >= 20  # type: ignore[index]
    assert {r for _, r, _ in quarantined} >= {"invalid_json", "invalid_utf8", "too_deep", "not_object"}
    assert all(hits.values())  # type: ignore[attr-defined]
    assert any(row[1] == "conversation.code_after_request" for row in archive)


def _line(n: int, text: str) -> RawLine:
    rec = {"msgid": f"m{n}", "action": "send", "from": "wmCUST1", "tolist": ["zhoumin"], "roomid": ""}
    rec |= {"msgtime": 1715000000000 + n, "msgtype": "text", "text": {"content": text}}
    return RawLine(line_no=n, offset_end=0, raw=json.dumps(rec).encode(), obj=None, error=None)


def test_running_workers_follow_lexicon_edits(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    rule = {"id": "cp.quality", "category": "complaint", "match": "exact", "terms": ["质量问题"]}
    with Preparer(rt, "wecom", 32, workers=2) as preparer:
        before = [p for batch in preparer.map([[_line(1, "都是质量问题")]]) for p in batch]
        assert before[0].rec is not None and before[0].labels == []
        with rt.sessions.begin() as s:
            service.upsert_rule(s, operator(), {**rule, "sender": "customer", "tier": 1}, "quality")
        after = [
            p for batch in preparer.map([[_line(n, "都是质量问题")] for n in range(2, 6)]) for p in batch
        ]
    assert [p.labels for p in after] == [["complaint"]] * 4


def test_a_dead_worker_fails_the_import_and_a_rerun_completes_it(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-import (out of memory, say) must fail the import, not hang it; the rerun
    resumes from the checkpoint and stores every message once."""
    import os

    from archive.ingest import prepare
    from archive.ingest.prepare import WorkerDied

    path = tmp_path / "gen.jsonl"
    with path.open("wb") as fh:
        generate(fh, 600, seed=8)
    real = prepare.prepare_batch

    def dying(rt: Runtime, fmt: str, lines: list[RawLine], max_depth: int) -> list[object]:
        if lines[0].line_no > 300:
            os._exit(9)  # in the forked worker: what the OOM killer leaves behind
        return real(rt, fmt, lines, max_depth)  # type: ignore[return-value]

    rt = make_runtime(
        "embedded", tmp_path / "rt", request, ingest_workers=2, ingest_batch_size=50, ingest_commit_lines=50
    )
    try:
        monkeypatch.setattr(prepare, "prepare_batch", dying)
        with pytest.raises(WorkerDied):
            Importer(rt).import_file(path)
        monkeypatch.setattr(prepare, "prepare_batch", real)
        with rt.sessions() as session:
            stored = set(session.execute(select(Message.source_msgid)).scalars())
        assert 0 < len(stored) < 300 + 50  # nothing from a batch starting past line 300
        summary = Importer(rt).import_file(path)
        assert summary.resumed_from_line >= len(stored) - 100  # from the checkpoint, not the start
        with rt.sessions() as session:
            msgids = list(session.execute(select(Message.source_msgid)).scalars())
        expected = {json.loads(line)["msgid"] for line in path.read_bytes().splitlines()}
        assert len(msgids) == len(set(msgids)) == len(expected) and set(msgids) == expected
    finally:
        dispose_runtime(rt)


def test_stored_records_are_not_sealed_or_scanned_again(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.store.crypto import Envelope

    rt = make_runtime("embedded", tmp_path / "rt", request, ingest_workers=0)
    try:
        first = Importer(rt).import_file(SAMPLE)
        seals: list[str] = []
        real = Envelope.seal
        monkeypatch.setattr(
            Envelope, "seal", lambda self, rid, data: seals.append(rid) or real(self, rid, data)
        )
        again = Importer(rt).import_file(SAMPLE, restart=True)
        assert again.duplicates == first.imported + first.duplicates and again.imported == 0
        assert seals == []
    finally:
        dispose_runtime(rt)


def test_a_record_the_prepare_stage_took_for_stored_is_completed_by_the_writer(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored when the batch was prepared, gone (purged) when it is written: the writer seals and scans it
    itself, and the archive is the one a plain import gives."""
    from archive.ingest import prepare

    path = _mixed_file(tmp_path)
    plain = make_runtime("embedded", tmp_path / "plain", request, ingest_workers=0)
    raced = make_runtime("embedded", tmp_path / "raced", request, ingest_workers=0)
    try:
        expected = _outcome(plain, path)
        monkeypatch.setattr(
            prepare, "stored_msgids", lambda session, recs: {(r.source, r.msgid) for r in recs}
        )
        assert _outcome(raced, path) == expected
    finally:
        dispose_runtime(plain)
        dispose_runtime(raced)


def test_the_pool_reads_at_most_two_batches_per_worker_ahead(embedded_runtime: Runtime) -> None:
    """Memory stays bounded whatever the file size: the reader is not drained into the pool's queue."""
    pulled = 0

    def batches() -> Iterator[list[RawLine]]:
        nonlocal pulled
        for n in range(40):
            pulled += 1
            yield [_line(n, "您好，资料已收到")]

    with Preparer(embedded_runtime, "wecom", 32, workers=2) as preparer:
        got = 0
        for batch in preparer.map(batches()):
            got += 1
            assert pulled - got <= 2 * 2, (pulled, got)
            assert batch[0].rec is not None
    assert got == pulled == 40


def test_prepared_batches_cross_processes_unchanged(tmp_path: Path, embedded_runtime: Runtime) -> None:
    """Prepared lines, their records and sealed blobs pickle by position (cheaper for the importer to
    load); every field must survive, for records with findings, media and signals and for rejects."""
    from archive.ingest.prepare import prepare_batch
    from archive.ingest.reader import iter_lines

    path = _mixed_file(tmp_path)
    with path.open("rb") as fp:
        lines = list(iter_lines(fp, max_line_bytes=1 << 20, max_depth=64, decode=False))
    batch = prepare_batch(embedded_runtime, "wecom", lines, 64)
    again = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == batch
    assert [type(p.rec) for p in again] == [type(p.rec) for p in batch]
    kinds = {
        "reject": any(p.reason and p.raw for p in again),
        "findings": any(p.findings for p in again),
        "media": any(p.rec and p.rec.media for p in again),
        "signals": any(p.signals is not None for p in again),
        "sealed": all(p.sealed is not None for p in again if p.rec is not None),
    }
    assert all(kinds.values()), kinds


def test_completing_a_batch_step_by_step_equals_completing_each_record(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`complete_all` runs each step over the whole batch; every record must come out as `complete` makes
    it alone: same tokens, labels, findings and signals, and a sealed record that opens to its JSON."""
    from archive.ingest.prepare import complete, complete_all, prepare_batch
    from archive.ingest.reader import iter_lines

    rt = make_runtime("embedded", tmp_path / "rt", request, ingest_workers=0)
    try:
        path = _mixed_file(tmp_path)
        lines = list(iter_lines(path.open("rb"), max_line_bytes=1 << 20, max_depth=32, decode=False))
        batch = [p for p in prepare_batch(rt, "wecom", lines, 32) if p.rec is not None]
        for p in batch:
            p.mid, p.sealed, p.tokens, p.labels, p.findings, p.signals = "", None, "", [], [], None
        alone = pickle.loads(pickle.dumps(batch))
        complete_all(rt, batch)
        for p in alone:
            complete(rt, p)

        def view(p: object) -> tuple[object, ...]:
            sig = getattr(p, "signals", None)
            return (
                p.tokens,  # type: ignore[attr-defined]
                p.labels,  # type: ignore[attr-defined]
                [f.as_dict() for f in p.findings],  # type: ignore[attr-defined]
                sig.__reduce__()[1][1:] if sig is not None else None,
            )

        assert [view(p) for p in batch] == [view(p) for p in alone]
        assert sum(bool(p.findings) for p in batch) > 0 and sum(p.signals is not None for p in batch) > 100
        for p in batch[:50]:
            assert p.sealed is not None and p.rec is not None
            assert (
                rt.envelope.open(p.mid, p.sealed.blob, p.sealed.wrapped_key, p.sealed.key_id)
                == p.rec.canonical
            )
    finally:
        dispose_runtime(rt)
