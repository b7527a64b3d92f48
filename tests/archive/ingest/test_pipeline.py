"""Ingest → store → search → read, on both configurations (embedded, and real PostgreSQL + MinIO +
OpenSearch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from archive.ingest.models import QuarantineEntry
from archive.ingest.pipeline import Importer
from archive.kit.errors import IntegrityViolation
from archive.kit.timeutil import aware
from archive.runtime import Runtime
from archive.search.indexer import drain, lag
from archive.search.service import search
from archive.store.models import Customer, Message
from archive.store.records import RecordReader
from audit.principal import operator
from tests.helpers import SAMPLE, archive_summary


def _import(rt: Runtime, path: Path = SAMPLE, **kw: object):  # type: ignore[no-untyped-def]
    summary = Importer(rt).import_file(path, **kw)  # type: ignore[arg-type]
    rt.search.refresh()
    return summary


def test_sample_imports_whole(runtime: Runtime) -> None:
    s = _import(runtime)
    assert (s.lines, s.imported, s.duplicates, s.quarantined) == (161, 159, 2, 0)
    assert s.by_msgtype["text"] == 102 and s.by_msgtype["switch"] == 1 and len(s.by_msgtype) == 27
    assert s.recalled == 4 and not s.unknown_msgtypes
    with runtime.sessions() as session:
        assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 159
        assert (
            session.execute(select(func.count()).select_from(Message).where(Message.recalled)).scalar_one()
            == 4
        )


def test_every_record_round_trips(runtime: Runtime) -> None:
    _import(runtime)
    originals = {}
    for line in SAMPLE.read_bytes().splitlines():
        obj = json.loads(line)
        originals[obj["msgid"]] = obj
    reader = RecordReader(runtime.blobs, runtime.envelope)
    with runtime.sessions() as session:
        msgs = session.execute(select(Message)).scalars().all()
        for msg, plain in reader.open_many(msgs):
            assert orjson.loads(plain) == originals[msg.source_msgid]


def test_reimport_is_idempotent(runtime: Runtime) -> None:
    _import(runtime)
    again = _import(runtime)
    assert again.imported == 0 and again.duplicates == 161
    with runtime.sessions() as session:
        assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 159


def test_search_finds_the_side_dealing_message(runtime: Runtime) -> None:
    _import(runtime)
    with runtime.sessions() as session:
        page = search(session, runtime, operator(), "支付宝", limit=0)
        session.commit()
    texts = [h.text for h in page.hits]
    assert any("转我个人支付宝" in t for t in texts)
    recalled = [h for h in page.hits if "转我个人支付宝" in h.text]
    assert recalled[0].recalled and "side_dealing" in recalled[0].risk_labels


def test_search_equals_brute_force(runtime: Runtime) -> None:
    _import(runtime)
    reader = RecordReader(runtime.blobs, runtime.envelope)
    from audit.access import record_text

    with runtime.sessions() as session:
        msgs = session.execute(select(Message)).scalars().all()
        corpus = {m.id: record_text(m.source, orjson.loads(p)) for m, p in reader.open_many(msgs)}
        queries = [
            "支付宝",
            "的",
            "退款",
            "12315",
            "王姐",
            "水光",
            "pdf",
            "XLSX",
            "禾悦",
            "不存在的词语",
            "，",
        ]
        for text in list(corpus.values())[::17]:
            if len(text) >= 6:
                queries.append(text[2:6])
        for q in queries:
            got = {h.id for h in search(session, runtime, operator(), q, limit=0).hits}
            expect = {mid for mid, t in corpus.items() if runtime.blind.matches(q, t)}
            assert got == expect, q
        session.commit()


def test_search_pages_do_not_overlap(embedded_runtime: Runtime) -> None:
    rt = embedded_runtime
    _import(rt)
    seen: list[str] = []
    with rt.sessions() as session:
        full = [h.id for h in search(session, rt, operator(), "的", limit=0).hits]
        cursor = None
        while True:
            page = search(session, rt, operator(), "的", limit=7, cursor=cursor)
            seen.extend(h.id for h in page.hits)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        session.commit()
    assert seen == full and len(full) > 14


def test_bad_lines_are_quarantined_and_neighbours_kept(runtime: Runtime, tmp_path: Path) -> None:
    good = SAMPLE.read_bytes().splitlines()[:5]
    bad = [
        b'{"msgid": "x1", "action": "send", "from": "a", "tolist": ["b"], "roomid": "", "msgtime": 17',  # truncated
        b"\xff\xfe not utf8",
        b'{"action": "send", "from": "a", "tolist": ["b"], "roomid": "", "msgtime": 1, "msgtype": "text", "text": {"content": "x"}}',
        b'{"msgid": "x2", "action": "send", "from": "a", "tolist": ["b"], "roomid": "", "msgtime": "soon", "msgtype": "text", "text": {"content": "x"}}',
        b"[1, 2, 3]",
        b"[" * 100 + b"]" * 100,
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good[0], *bad[:3], good[1], good[2], *bad[3:], good[3], good[4]]) + b"\n")
    s = _import(runtime, path)
    assert s.imported == 5 and s.quarantined == 6
    with runtime.sessions() as session:
        rows = session.execute(select(QuarantineEntry).order_by(QuarantineEntry.line_no)).scalars().all()
        assert [r.line_no for r in rows] == [2, 3, 4, 7, 8, 9]
        assert all(r.reason for r in rows)
        # the raw bytes are kept, encrypted like a message
        first = rows[1]
        raw = runtime.envelope.open(
            first.id,
            runtime.blobs.get(first.blob_key, first.blob_offset, first.blob_length),
            first.wrapped_key,
            first.key_id,
        )
        assert raw == bad[1]


def test_recall_before_original_is_reconciled(embedded_runtime: Runtime, tmp_path: Path) -> None:
    rt = embedded_runtime
    original = {
        "msgid": "m-orig",
        "action": "send",
        "from": "zhoumin",
        "tolist": ["wmCUSTOMER1"],
        "roomid": "",
        "msgtime": 1715000000000,
        "msgtype": "text",
        "text": {"content": "先发的内容"},
    }
    recall = {
        "msgid": "m-recall",
        "action": "recall",
        "from": "zhoumin",
        "tolist": ["wmCUSTOMER1"],
        "roomid": "",
        "msgtime": 1715000035000,
        "msgtype": "revoke",
        "revoke": {"pre_msgid": "m-orig"},
    }
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(recall) + "\n")
    second.write_text(json.dumps(original) + "\n")
    _import(rt, first)
    s = _import(rt, second)
    assert s.recalled == 1
    with rt.sessions() as session:
        msg = session.execute(select(Message).where(Message.source_msgid == "m-orig")).scalar_one()
        assert msg.recalled and msg.recalled_by_msgid == "m-recall"


def test_consent_state_follows_the_latest_decision(embedded_runtime: Runtime, tmp_path: Path) -> None:
    """The sample's customer first disagrees, later agrees: the latest decision and its time win, also when
    the records arrive out of order."""
    lines = [
        ln
        for ln in SAMPLE.read_bytes().splitlines()
        if b'"msgtype":"agree"' in ln or b'"msgtype":"disagree"' in ln
    ]
    disagree = next(ln for ln in lines if b"disagree" in ln)
    cust = json.loads(disagree)["from"]
    later_agree = next(ln for ln in lines if b'"agree"' in ln and cust.encode() in ln)
    first = tmp_path / "first.jsonl"
    first.write_bytes(disagree + b"\n")
    _import(embedded_runtime, first)
    with embedded_runtime.sessions() as session:
        row = session.execute(select(Customer).where(Customer.external_id == cust)).scalar_one()
        assert row.consent_state == "disagree"
    both = tmp_path / "both.jsonl"
    both.write_bytes(later_agree + b"\n" + disagree + b"\n")
    _import(embedded_runtime, both)
    with embedded_runtime.sessions() as session:
        row = session.execute(select(Customer).where(Customer.external_id == cust)).scalar_one()
        assert row.consent_state == "agree"
        assert (
            row.consent_at is not None
            and int(aware(row.consent_at).timestamp() * 1000) == json.loads(later_agree)["msgtime"]
        )


def test_tampered_ciphertext_is_rejected(runtime: Runtime) -> None:
    _import(runtime)
    with runtime.sessions() as session:
        msg = session.execute(select(Message).where(Message.msgtype == "text").limit(1)).scalar_one()
        segment = bytearray(runtime.blobs.get(msg.blob_key))
        segment[msg.blob_offset + 20] ^= 0x01
        runtime.blobs.put(msg.blob_key, bytes(segment))
        with pytest.raises(IntegrityViolation):
            RecordReader(runtime.blobs, runtime.envelope).open(msg)


def test_index_lag_and_catch_up(production_runtime: Runtime) -> None:
    """With OpenSearch unreachable, ingest still succeeds; the index catches up when it is back."""
    rt = production_runtime
    real_url = rt.settings.opensearch_url
    rt.settings.opensearch_url = "http://127.0.0.1:1"
    rt.__dict__.pop("search", None)
    s = Importer(rt).import_file(SAMPLE)
    assert s.imported == 159 and s.indexed == 0
    with rt.sessions() as session:
        assert lag(session) == 159
    rt.settings.opensearch_url = real_url
    rt.__dict__.pop("search", None)
    from archive.search.indexer import retry_now

    with rt.sessions.begin() as session:
        retry_now(session)
    assert drain(rt) == 159
    rt.search.refresh()
    with rt.sessions() as session:
        assert lag(session) == 0
        assert search(session, rt, operator(), "支付宝", limit=0).hits
        session.commit()


def test_bounded_caches_give_the_same_archive(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With caches far smaller than the number of rooms (entries evicted and looked up again, room
    windows reloaded from room_risk_state) the archive, its alerts and the cross-message findings are the
    same as with roomy caches: memory can be bounded without changing results."""
    from archive.ingest import directory, pipeline
    from tests.helpers import make_runtime

    def line(msgid: str, sender: str, to: str, t: int, text: str) -> dict[str, object]:
        return {
            "msgid": msgid,
            "action": "send",
            "from": sender,
            "tolist": [to],
            "roomid": "",
            "msgtime": 1715000000000 + t * 1000,
            "msgtype": "text",
            "text": {"content": text},
        }

    lines = [line("a1", "zhoumin", "wmCUST0", 0, "系统发了个短信验证码给您，发这里就行")]
    lines += [line(f"x{i}", f"emp{i}", f"wmCUST{i + 1}", i + 1, "您好，资料已收到") for i in range(8)]
    lines += [line("a2", "wmCUST0", "zhoumin", 20, "482913")]
    extra = tmp_path / "windows.jsonl"
    extra.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))

    roomy = make_runtime("embedded", tmp_path / "roomy", request)
    Importer(roomy).import_file(SAMPLE)
    Importer(roomy).import_file(extra)
    monkeypatch.setattr(directory, "CACHE_SIZE", 2)
    monkeypatch.setattr(pipeline, "ROOM_WINDOWS", 1)
    tight = make_runtime("embedded", tmp_path / "tight", request, ingest_batch_size=2)
    importer = Importer(tight)
    assert importer._rooms.maxsize == 4
    importer.import_file(SAMPLE)
    importer.import_file(extra)
    expected = archive_summary(roomy)
    assert archive_summary(tight) == expected
    assert any(row[1] == "conversation.code_after_request" for row in expected)


def test_embedded_index_commits_with_the_batch(
    embedded_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the sql backend in the archive's own database the index is written in the batch's
    transaction: no outbox round trip after an import, and a batch that fails leaves neither rows nor
    index entries behind."""
    from archive.search.indexer import pending_count
    from archive.store.models import OutboxEvent

    rt = embedded_runtime
    s = Importer(rt).import_file(SAMPLE)
    assert s.indexed == s.imported > 0
    assert rt.search.count() == s.imported
    with rt.sessions() as session:
        assert pending_count(session) == 0
        assert session.scalar(select(func.count()).where(OutboxEvent.topic == "index")) == 0

    def fail(self: Importer, session: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Importer, "_raise_alerts", fail)
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        json.dumps(
            {
                "msgid": "late-1",
                "action": "send",
                "from": "zhoumin",
                "tolist": ["wmCUSTOMER1"],
                "roomid": "",
                "msgtime": 1716000000000,
                "msgtype": "text",
                "text": {"content": "晚到的消息"},
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    with pytest.raises(RuntimeError):
        Importer(rt).import_file(extra)
    assert rt.search.count() == s.imported
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == s.imported


def test_import_gives_postgresql_statistics_for_its_key_lookups(production_runtime: Runtime) -> None:
    """A first import into a fresh database analyses the tables it looks up by key lists, so the planner
    does not take a 500-key IN list for the whole table (see Importer._refresh_statistics)."""
    rt = production_runtime
    Importer(rt).import_file(SAMPLE)
    with rt.engine.connect() as conn:
        analysed = conn.exec_driver_sql(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL ORDER BY relname"
        ).scalars()
        assert {"alerts", "messages", "room_risk_state"} <= set(analysed)
        reltuples = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'messages'")
        assert reltuples.scalar_one() > 0


def test_consents_in_one_batch_apply_in_time_order(embedded_runtime: Runtime, tmp_path: Path) -> None:
    """Several agree/disagree records of the same and of different customers in one batch (one query
    for their customers): for each customer the decision with the latest time wins, whatever the order."""
    t0 = 1715000000000

    def consent(n: int, who: str, state: str, at: int) -> bytes:
        rec = {"msgid": f"c{n}", "action": "send", "from": who, "tolist": ["zhoumin"], "roomid": ""}
        rec |= {"msgtime": at, "msgtype": state, state: {"userid": who, "time": at}}
        return json.dumps(rec).encode()

    path = tmp_path / "consents.jsonl"
    lines = [
        consent(1, "wmA1", "agree", t0 + 5000),
        consent(2, "wmA1", "disagree", t0 + 1000),  # older: ignored
        consent(3, "wmB2", "agree", t0 + 1000),
        consent(4, "wmB2", "disagree", t0 + 9000),  # newer: wins
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    _import(embedded_runtime, path)
    with embedded_runtime.sessions() as session:
        got = {
            c.external_id: (c.consent_state, int(aware(c.consent_at).timestamp() * 1000))
            for c in session.execute(select(Customer).where(Customer.external_id.in_(["wmA1", "wmB2"])))
            .scalars()
            .all()
            if c.consent_at is not None
        }
    assert got == {"wmA1": ("agree", t0 + 5000), "wmB2": ("disagree", t0 + 9000)}


def test_cross_message_findings_point_at_their_messages_in_a_long_conversation(
    embedded_runtime: Runtime, tmp_path: Path
) -> None:
    """Window positions map to message ids while a room's window slides over many messages and batches:
    the alert names the request and the code, not their neighbours."""
    from archive.risk.models import Alert

    t0 = 1715000000000

    def line(n: int, sender: str, to: str, text: str) -> str:
        rec = {"msgid": f"long{n}", "action": "send", "from": sender, "tolist": [to], "roomid": ""}
        rec |= {"msgtime": t0 + n * 1000, "msgtype": "text", "text": {"content": text}}
        return json.dumps(rec, ensure_ascii=False) + "\n"

    chat = ["您好，资料已收到", "好的，谢谢", "明天再聊"]
    lines = [
        line(n, "zhoumin" if n % 2 else "wmLONG", "wmLONG" if n % 2 else "zhoumin", chat[n % 3])
        for n in range(17)
    ]
    lines.append(line(17, "zhoumin", "wmLONG", "系统发了个短信验证码给您，发这里就行"))
    lines += [line(n, "zhoumin", "wmLONG", chat[n % 3]) for n in range(18, 21)]
    lines.append(line(21, "wmLONG", "zhoumin", "482913"))
    lines += [line(n, "wmLONG", "zhoumin", chat[n % 3]) for n in range(22, 30)]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(lines))
    embedded_runtime.settings.ingest_batch_size = 4
    Importer(embedded_runtime).import_file(path)
    with embedded_runtime.sessions() as session:
        msgid = dict(session.execute(select(Message.id, Message.source_msgid)).tuples().all())
        alerts = session.execute(
            select(Alert).where(Alert.rule == "conversation.code_after_request")
        ).scalars()
        named = [sorted(msgid[i] for i in a.message_ids) for a in alerts]
    assert named == [["long17", "long21"]]


def _fail_blob_write(rt: Runtime, monkeypatch: pytest.MonkeyPatch, nth: int) -> Callable[..., None]:
    """Make the blob store's `nth` write fail as a full disk would; returns the real `put`."""
    put = rt.blobs.put
    calls = 0

    def flaky(key: str, data: bytes, **kw: object) -> None:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise OSError("no space left on device")
        put(key, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rt.blobs, "put", flaky)
    return put


def _after_failure(rt: Runtime) -> tuple[int, list[str], Any]:
    """Messages stored, segment keys and the checkpoint left by a failed import."""
    from archive.store.models import IngestCheckpoint, Segment

    with rt.sessions() as session:
        stored = session.execute(select(func.count()).select_from(Message)).scalar_one()
        segments = list(session.execute(select(Segment.key)).scalars())
        cp = session.execute(select(IngestCheckpoint)).scalar_one()
    return stored, segments, cp


def test_a_segment_that_cannot_be_written_fails_its_batch(
    embedded_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segments are written while the batch's rows are built; a write that fails (disk full, MinIO down)
    rolls the batch back: no row points into a segment that is not there, and the rerun imports it."""
    from archive.store.verify import verify

    _fail_blob_write(embedded_runtime, monkeypatch, 2)
    embedded_runtime.settings.ingest_batch_size = 5
    embedded_runtime.settings.ingest_commit_lines = 1  # a transaction per batch
    with pytest.raises(OSError, match="no space"):
        Importer(embedded_runtime).import_file(SAMPLE)
    stored, segments, cp = _after_failure(embedded_runtime)
    assert cp.line_no <= 5 and 0 < stored <= 5 and len(segments) == 1  # the first batch only
    assert all(embedded_runtime.blobs.get(k) for k in segments)
    summary = Importer(embedded_runtime).import_file(SAMPLE)
    assert summary.resumed_from_line == cp.line_no and summary.quarantined == 0
    rt = embedded_runtime
    report = verify(rt.sessions, rt.blobs, rt.envelope)
    assert report.ok and report.records_checked >= summary.imported + stored, report.as_dict()


def test_batches_share_a_transaction_until_it_holds_the_commit_lines(
    embedded_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 5-line batches and 15 lines a transaction, a failure in the fifth batch keeps the first
    transaction (three batches, its checkpoint at line 15) and drops the fourth and fifth batches, which
    the rerun imports: every message once, every record verified."""
    from archive.store.verify import verify

    rt = embedded_runtime
    put = _fail_blob_write(rt, monkeypatch, 5)
    rt.settings.ingest_batch_size = 5
    rt.settings.ingest_workers = 0  # (workers start with smaller batches: these are 5 lines from the first)
    rt.settings.ingest_commit_lines = 15
    with pytest.raises(OSError, match="no space"):
        Importer(rt).import_file(SAMPLE)
    stored, segments, cp = _after_failure(rt)
    assert cp.line_no == 15 and 0 < stored <= 15 and len(segments) == 3
    monkeypatch.setattr(rt.blobs, "put", put)
    summary = Importer(rt).import_file(SAMPLE)
    assert summary.resumed_from_line == 15
    with rt.sessions() as session:
        total = session.execute(select(func.count()).select_from(Message)).scalar_one()
        distinct = session.execute(select(func.count(func.distinct(Message.source_msgid)))).scalar_one()
    assert total == distinct == stored + summary.imported
    assert summary.indexed == summary.imported  # counted once their transaction committed
    report = verify(rt.sessions, rt.blobs, rt.envelope)
    assert report.ok and report.records_checked >= total, report.as_dict()


@pytest.mark.parametrize("kind", ["embedded", "production"])
@pytest.mark.parametrize("batch_size", [500, 2])
def test_an_import_raises_one_alert_per_room_rule_and_window_and_acts_once(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str, batch_size: int
) -> None:
    """Repeated findings of one room and rule extend one alert, whether they arrive in the same batch or
    a later one; a finding a day after the window opens a new alert. Each alert has one opening event and
    one notification, and the employee is frozen once."""
    from archive.risk.models import Alert, AlertEvent
    from archive.store.models import AccessAudit, Employee, OutboxEvent
    from tests.helpers import dispose_runtime, make_runtime

    texts = {"gr": "这个理财产品保本保息，稳赚不赔", "br": "合同签了给您个人返三个点"}
    plan = [("m1", 0, "gr"), ("m2", 60, "br"), ("m3", 120, "gr"), ("m4", 180, "br"), ("m5", 2 * 86400, "gr")]
    path = tmp_path / "risky.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "msgid": msgid,
                    "action": "send",
                    "from": "zhoumin",
                    "tolist": ["wmCUSTOMER1"],
                    "roomid": "",
                    "msgtime": 1716000000000 + t * 1000,
                    "msgtype": "text",
                    "text": {"content": texts[said]},
                },
                ensure_ascii=False,
            )
            + "\n"
            for msgid, t, said in plan
        )
    )
    rt = make_runtime(kind, tmp_path, request, ingest_batch_size=batch_size)
    try:
        summary = Importer(rt).import_file(path)
        assert summary.imported == 5
        with rt.sessions() as session:
            msgid = dict(session.execute(select(Message.id, Message.source_msgid)).tuples().all())
            alerts = session.execute(select(Alert).order_by(Alert.window_start)).scalars().all()
            assert [(a.rule, [msgid[m] for m in a.message_ids], a.hits, a.status) for a in alerts] == [
                ("gr.sure_profit", ["m1", "m3"], 2, "open"),
                ("br.personal_money", ["m2", "m4"], 2, "open"),
                ("gr.sure_profit", ["m5"], 1, "open"),
            ]
            assert len({a.room_id for a in alerts}) == 1
            assert aware(alerts[0].window_end) - aware(alerts[0].window_start) == timedelta(seconds=120)
            opened = session.execute(select(AlertEvent.alert_id, AlertEvent.to_status)).tuples().all()
            assert sorted(opened) == sorted((a.id, "open") for a in alerts)
            notices = session.execute(
                select(OutboxEvent.payload).where(OutboxEvent.topic == "notify").order_by(OutboxEvent.id)
            ).scalars()
            assert [(n["alert_id"], n["audience"]) for n in notices] == [
                (alerts[0].id, "supervisor"),
                (alerts[1].id, "compliance"),
                (alerts[2].id, "supervisor"),
            ]
            freezes = session.execute(
                select(AccessAudit.target_ids, AccessAudit.detail).where(
                    AccessAudit.action == "employee.freeze"
                )
            ).all()
            assert [(t, d["alert_id"]) for t, d in freezes] == [(["zhoumin"], alerts[1].id)]
            status = session.execute(select(Employee.status).where(Employee.userid == "zhoumin")).scalar_one()
            assert status == "frozen"
    finally:
        dispose_runtime(rt)


def test_committed_batches_reach_opensearch_in_pushes_of_push_docs(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pushes to the search service gather committed batches up to PUSH_DOCS documents (bigger _bulk
    requests cost OpenSearch far less a document); every batch's outbox row is marked done by its push and
    the rest of the file goes in a last, smaller push."""
    from archive.ingest import pipeline
    from archive.search import indexer
    from archive.store.models import OutboxEvent
    from benchmarks.gen_wecom import generate
    from tests.helpers import dispose_runtime, make_runtime

    path = tmp_path / "gen.jsonl"
    with path.open("wb") as fh:
        generate(fh, 250, seed=4)
    pushes: list[tuple[int, int]] = []
    real = indexer.push_committed

    def counted(rt: Runtime, ids: list[int], rows: list[object], tokens: dict[str, str]) -> int:
        pushes.append((len(ids), len(rows)))
        return real(rt, ids, rows, tokens)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "push_committed", counted)
    monkeypatch.setattr(pipeline, "PUSH_DOCS", 120)
    rt = make_runtime("production", tmp_path, request, ingest_batch_size=50, ingest_workers=0)
    try:
        summary = Importer(rt).import_file(path)
        assert summary.imported == summary.indexed == 250
        assert pushes == [(3, 150), (2, 100)]
        with rt.sessions() as session:
            events = session.execute(select(OutboxEvent.done_at)).scalars().all()
        assert len(events) == 5 and all(done is not None for done in events)
        rt.search.refresh()
        assert rt.search.count() == 250
    finally:
        dispose_runtime(rt)


def test_an_import_collects_young_garbage_less_often_and_restores_the_thresholds(
    embedded_runtime: Runtime,
) -> None:
    import gc

    from archive.kit.gctune import batch_threshold

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    s = _import(embedded_runtime, progress=lambda _offset: seen.append(gc.get_threshold()))
    assert s.imported == 159 and seen
    wanted = max(before[0], batch_threshold(embedded_runtime.settings.ingest_batch_size))
    assert set(seen) == {(wanted, *before[1:])}
    assert gc.get_threshold() == before


def test_a_file_import_writes_with_the_larger_sqlite_page_cache(embedded_runtime: Runtime) -> None:
    from sqlalchemy import event

    from archive.ingest.pipeline import IMPORT_SQLITE_CACHE_KIB

    rt = embedded_runtime
    inserts: list[int] = []  # each messages insert: the cache size of its connection at that moment

    def before(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO messages "):
            inserts.append(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())

    event.listen(rt.engine, "before_cursor_execute", before)
    try:
        _import(rt)
        assert inserts and set(inserts) == {-IMPORT_SQLITE_CACHE_KIB}
        inserts.clear()
        with rt.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # the pooled connection back at SQLite's default
        record = {
            "source": "crm",
            "msgid": "push-cache-1",
            "from": "e1",
            "time": 1700000000000,
            "text": "您好",
        }
        pushed = Importer(rt).import_records([record])
        assert [o.status for o in pushed] == ["accepted"]
        assert inserts == [-2000], "only file imports enlarge the cache"
    finally:
        event.remove(rt.engine, "before_cursor_execute", before)
