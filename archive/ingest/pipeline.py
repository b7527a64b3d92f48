"""The streaming ingest pipeline: read → validate (bad line → quarantine) → dedupe by source msgid →
resolve participants → risk scan → encrypt into a segment → one transaction per batch (messages, wrapped
keys, segment, outbox rows, checkpoint) → commit → push the batch to the search index.

The checkpoint (file offset) is written in the same transaction as the batch it covers, so a kill -9 at
any point followed by a rerun stores every valid message exactly once."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from archive.ingest.directory import DirectoryCache
from archive.ingest.media import MEDIA_COLUMNS, MediaStore, NewMedia
from archive.ingest.models import MediaObject, QuarantineEntry
from archive.ingest.prepare import IN_CHUNK, Prepared, Preparer, complete, prepare_batch, stored_msgids
from archive.ingest.reader import RawLine, line_ranges
from archive.ingest.records import ParsedRecord
from archive.kit.gctune import batch_threshold, young_threshold
from archive.kit.ids import new_id
from archive.kit.lru import LRU
from archive.kit.timeutil import from_millis, utcnow
from archive.runtime import Runtime
from archive.search.indexer import index_in_transaction, push_committed
from archive.store.blobs import SegmentWriter
from archive.store.db import bulk_insert
from archive.store.models import Customer, IngestCheckpoint, Message, OutboxEvent, Segment

# Committed batches go to an external search service (OpenSearch) in pushes of at least this many
# documents, so pushes need not follow the database batch size, which memory bounds. Raw _bulk of the same
# 20 k documents, three alternated rounds: OpenSearch 77-97 µs of CPU a document in 2000-document
# requests, 91-105 in 1000-document ones, 85-111 in 500-document ones (benchmarks/opensearch_bulk_size.py).
PUSH_DOCS = 2000
# SQLite page cache of a file import's connection, in KiB (SQLite's default is 2 MB). An import inserts
# into b-trees keyed at random (msgids, senders); past a few hundred thousand messages their pages no longer
# fit the default cache and each insert reads them back. Replaying a 200 k-message import's SQL
# (benchmarks/sqlite_replay.py, three alternated rounds): 82.5 → 72.5 µs of SQLite CPU a message. The cache
# fills only as pages are read; 16 MB keeps the 1 GB import within its memory budget (BENCHMARKS.md).
IMPORT_SQLITE_CACHE_KIB = 16_384
ROOM_WINDOWS = 10_000  # conversation windows kept in memory (each a few hundred bytes of signals)


@dataclass(frozen=True)
class RecordOutcome:
    line_no: int
    status: str  # accepted | duplicate | rejected
    msgid: str | None
    reason: str | None


@dataclass
class ImportSummary:
    file: str
    format: str
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    recalled: int = 0
    quarantined: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    quarantined_again: int = 0
    by_msgtype: Counter[str] = field(default_factory=Counter)
    unknown_msgtypes: Counter[str] = field(default_factory=Counter)
    risk_flagged: int = 0
    resumed_from_line: int = 0
    indexed: int = 0
    media: Counter[str] = field(default_factory=Counter)
    alerts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "lines": self.lines,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "recalled": self.recalled,
            "quarantined": self.quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "quarantined_again": self.quarantined_again,
            "by_msgtype": dict(self.by_msgtype),
            "unknown_msgtypes": dict(self.unknown_msgtypes),
            "risk_flagged": self.risk_flagged,
            "resumed_from_line": self.resumed_from_line,
            "indexed": self.indexed,
            "media": dict(self.media),
            "alerts": self.alerts,
        }


def source_key(fmt: str, fp: BinaryIO) -> str:
    """Identify a file by its format and the hash of its first 64 KiB, so appends keep the key."""
    pos = fp.tell()
    fp.seek(0)
    head = fp.read(65536)
    fp.seek(pos)
    return f"{fmt}:{hashlib.sha256(head).hexdigest()}"


def _rec(p: Prepared) -> ParsedRecord:
    assert p.rec is not None, "a reject has no record"
    return p.rec


@dataclass(slots=True)
class NewMessage:
    """A message row built in memory and written with one Core insert per batch: building ORM objects
    cost more than parsing, scanning and encrypting a message together."""

    id: str
    source: str
    source_msgid: str
    seq: int | None
    room_id: int
    sender: str
    sender_kind: str
    employee_id: int | None
    customer_id: int | None
    department_id: int | None
    msgtime: datetime
    msgtype: str
    action: str
    recall_of_msgid: str | None
    blob_key: str
    blob_offset: int
    blob_length: int
    wrapped_key: bytes
    key_id: str
    content_sha256: str
    risk_labels: list[str]
    media_status: str | None = None
    recalled: bool = False
    recalled_at: datetime | None = None
    recalled_by_msgid: str | None = None

    def mark_recalled(self, at: datetime, by_msgid: str) -> None:
        self.recalled, self.recalled_at, self.recalled_by_msgid = True, at, by_msgid

    def row(self, created_at: datetime) -> tuple[Any, ...]:
        """The values in `MESSAGE_COLUMNS` order."""
        return (*_fields_of(self), created_at)


MESSAGE_COLUMNS: tuple[str, ...] = (*NewMessage.__slots__, "created_at")
_fields_of = attrgetter(*NewMessage.__slots__)


_MESSAGES = cast(Table, Message.__table__)
_MEDIA = cast(Table, MediaObject.__table__)
# Keyed by expanding parameters (see archive.ingest.prepare.IN_CHUNK).
_UNRECALLED = select(_MESSAGES.c.id, _MESSAGES.c.source_msgid).where(
    _MESSAGES.c.source == bindparam("source"),
    _MESSAGES.c.source_msgid.in_(bindparam("ids", expanding=True)),
    _MESSAGES.c.recalled.is_(False),
)
# By recall_of_msgid alone, source filtered by the caller: with `source = ?` in the query SQLite walks the
# (source, source_msgid) index, i.e. the whole table, once per batch.
_EARLY_RECALLS = select(
    _MESSAGES.c.source, _MESSAGES.c.recall_of_msgid, _MESSAGES.c.msgtime, _MESSAGES.c.source_msgid
).where(_MESSAGES.c.recall_of_msgid.in_(bindparam("ids", expanding=True)))
_MARK_RECALLED = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"), _MESSAGES.c.recalled.is_(False))
    .values(recalled=True, recalled_at=bindparam("b_at"), recalled_by_msgid=bindparam("b_by"))
)


@dataclass(frozen=True, slots=True)
class _Committed:
    """What a batch leaves for after its commit (`Importer._after_commit`)."""

    rows: list[NewMessage]
    tokens: dict[str, str]
    indexed_now: bool
    outbox_id: int | None


class Importer:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.media_dir: Path | None = None
        self.media = MediaStore(runtime.blobs, runtime.envelope)
        self._pending_media: list[NewMedia] = []
        self._pending_consent: list[tuple[str, str, int]] = []
        self._pending_findings: list[tuple[NewMessage, list[Any]]] = []
        self._pending_conversation: list[tuple[NewMessage, tuple[str, ...], Any]] = []
        # conversation windows of recently active rooms (bounded; an evicted window is reloaded from
        # room_risk_state when its room speaks again)
        self._rooms: LRU[int, tuple[Any, dict[int, str]]] = LRU(
            max(ROOM_WINDOWS, 2 * self.settings.ingest_batch_size)
        )
        self._stored_rooms: set[int] = set()  # rooms whose window row exists (committed or in this batch)
        self._dirty_rooms: set[int] = set()
        self._flusher: futures.ThreadPoolExecutor | None = None  # writes segments during file imports
        self._pusher: futures.ThreadPoolExecutor | None = None  # pushes committed batches to OpenSearch
        self._push: futures.Future[int] | None = None
        # committed batches not pushed yet: their outbox ids, messages and tokens (see PUSH_DOCS)
        self._unpushed: tuple[list[int], list[NewMessage], dict[str, str]] = ([], [], {})
        # A file import's open transaction: several batches share it (`ingest_commit_lines`), and what
        # each of them leaves to do once it commits (count its indexed documents, push them).
        self._tx: Session | None = None
        self._tx_lines = 0
        self._tx_after: list[_Committed] = []

    def import_file(
        self,
        path: Path,
        *,
        fmt: str = "wecom",
        restart: bool = False,
        media_dir: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportSummary:
        """Import a JSON-lines file. media_dir: where media files named by sdkfileid are found."""
        workers = self.settings.ingest_worker_count
        self.media_dir = media_dir
        summary = ImportSummary(file=str(path), format=fmt)
        cache = DirectoryCache(source=fmt if fmt == "wecom" else "generic")
        with path.open("rb") as fp:
            key = source_key(fmt, fp)
            offset, line_no = self._start(key, restart)
            summary.resumed_from_line = line_no
            size = self.settings.ingest_batch_size
            # with workers, smaller batches at both ends keep the pipeline's fill and drain short
            ramp = max(1, size // 8) if workers else None
            ranges = line_ranges(fp, start_offset=offset, start_line=line_no, lines=size, first=ramp)
            depth = self.settings.ingest_max_json_depth
            analyzed_at = 0
            with (
                young_threshold(batch_threshold(size)),  # set before the workers fork: theirs too
                Preparer(self.rt, fmt, depth, workers) as preparer,
                futures.ThreadPoolExecutor(1, thread_name_prefix="segment") as self._flusher,
                futures.ThreadPoolExecutor(1, thread_name_prefix="index") as self._pusher,
            ):
                postgres = self.rt.engine.dialect.name == "postgresql"
                try:
                    for batch in preparer.map(ranges):
                        if not batch:
                            continue  # blank lines only
                        self._process(batch, key, str(path), cache, summary, shared=True)
                        self._tx_lines += len(batch)
                        analyze = postgres and summary.imported > 2 * analyzed_at
                        if analyze or self._tx_lines >= self.settings.ingest_commit_lines:
                            self._commit_shared(summary)
                        if analyze:
                            self._refresh_statistics()
                            analyzed_at = summary.imported
                        if progress is not None:
                            progress(batch[-1].offset_end)
                    self._commit_shared(summary)
                    self._push_unpushed(summary)
                    self._pushed(summary)
                finally:
                    if self._tx is not None:  # interrupted between batches: nothing of it is kept
                        self._abandon()
                    self._flusher = self._pusher = None
                    self._push = None
                    self._unpushed = ([], [], {})  # after a failure: left pending in the outbox for drain
            self._finish(key)
        return summary

    def _commit_shared(self, summary: ImportSummary) -> None:
        """Commit the file import's open transaction (its batches, their checkpoint), then do what each
        batch left for after its commit."""
        tx, after = self._tx, self._tx_after
        self._tx, self._tx_after, self._tx_lines = None, [], 0
        if tx is None:
            return
        try:
            tx.commit()
        except BaseException:
            tx.rollback()
            self._forget_windows()
            raise
        finally:
            tx.close()
        for done in after:
            self._after_commit(summary, done)

    def _abandon(self) -> None:
        """Roll back the open transaction: none of its batches is stored, their checkpoint neither."""
        tx = self._tx
        self._tx, self._tx_after, self._tx_lines = None, [], 0
        if tx is not None:
            tx.rollback()
            tx.close()
        self._forget_windows()

    def _forget_windows(self) -> None:
        """After a rollback: the in-memory conversation windows may hold messages that were not stored;
        they are reloaded from the database when their rooms speak again."""
        self._rooms.clear()
        self._stored_rooms.clear()
        self._dirty_rooms.clear()

    def _refresh_statistics(self) -> None:
        """PostgreSQL: ANALYZE the tables the importer looks up by lists of keys, after the first batch
        and each time this run has doubled its imports (log2 of the messages imported, in all). Without
        statistics (a fresh database: autovacuum analyses after a minute or so) the planner takes a
        500-key IN list for the whole table and scans it; the duplicate check cost 172 ms per batch at
        20 k messages instead of 2 ms."""
        if self.rt.engine.dialect.name != "postgresql":
            return
        with self.rt.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE messages, room_risk_state, alerts")

    def _start(self, key: str, restart: bool) -> tuple[int, int]:
        with self.rt.sessions() as session:
            cp = session.get(IngestCheckpoint, key)
            if cp is None or restart or cp.complete:
                return 0, 0
            return cp.position, cp.line_no

    def _finish(self, key: str) -> None:
        with self.rt.sessions.begin() as session:
            session.execute(
                update(IngestCheckpoint).where(IngestCheckpoint.source_key == key).values(complete=True)
            )

    def import_records(
        self, objs: list[Any], *, fmt: str = "generic", label: str = "push", quarantine: bool = True
    ) -> list[RecordOutcome]:
        """Import a pushed batch (HTTP): one outcome per record, in order. quarantine=False (retries of
        quarantined entries) reports rejects without quarantining them again."""
        cache = DirectoryCache(source=fmt if fmt == "wecom" else "generic")
        summary = ImportSummary(file=label, format=fmt)
        batch = []
        for i, obj in enumerate(objs):
            raw = orjson.dumps(obj) if obj is not None else b"null"
            if isinstance(obj, dict):
                batch.append(RawLine(line_no=i + 1, offset_end=0, raw=raw, obj=obj, error=None))
            else:
                batch.append(RawLine(line_no=i + 1, offset_end=0, raw=raw, obj=None, error="not_object"))
        prepared = prepare_batch(self.rt, fmt, batch, self.settings.ingest_max_json_depth)
        new = self._process(prepared, None, label, cache, summary, quarantine=quarantine)
        return [
            RecordOutcome(p.line_no, "rejected", p.msgid, p.reason)
            if p.rec is None
            else RecordOutcome(p.line_no, "accepted" if id(p) in new else "duplicate", p.rec.msgid, None)
            for p in prepared
        ]

    def _process(
        self,
        batch: list[Prepared],
        key: str | None,
        file_label: str,
        cache: DirectoryCache,
        summary: ImportSummary,
        *,
        quarantine: bool = True,
        shared: bool = False,
    ) -> set[int]:
        """Write one prepared batch in one transaction, committed here, or with `shared` in the file
        import's open transaction, which `_commit_shared` commits. Returns the `id()`s of the batch's new
        records (the others are rejects or duplicates)."""
        summary.lines += len(batch)
        good = [p for p in batch if p.rec is not None]
        rejects = [p for p in batch if p.rec is None]
        source = cache.source
        if not shared:
            session = self.rt.sessions()
        else:
            if self._tx is None:
                self._tx = self.rt.sessions()
            session = self._tx
        flushed: futures.Future[None] | None = None
        try:
            if key is not None and session.get_bind().dialect.name == "sqlite":
                session.connection().exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_SQLITE_CACHE_KIB}")
            new, dup = self._dedupe(session, good)
            summary.duplicates += len(dup)
            new_ids = {id(p) for p in new}
            with session.no_autoflush:  # one flush per batch, not one per lookup
                segment = SegmentWriter(self.rt.blobs)
                self._pending_media = []
                self._pending_consent = []
                self._pending_findings = []
                self._pending_conversation = []
                rows: list[NewMessage] = []
                tokens: dict[str, str] = {}
                scanned: list[tuple[NewMessage, Any]] = []
                for p in new:
                    row = self._message(session, p, cache, segment, summary)
                    rows.append(row)
                    tokens[row.id] = p.tokens
                    if p.signals is not None:
                        scanned.append((row, p.signals))
                self._consents(session, cache)
                for p in rejects if quarantine else ():
                    self._quarantine(session, p, source, file_label, segment, summary)
                self._conversations(session, scanned)
            if self._flusher is not None:
                # written and made durable (fsync, or MinIO's PUT) while the batch's rows are built and
                # inserted; awaited before the commit that makes them point into it
                flushed = self._flusher.submit(segment.flush)
            else:
                segment.flush()
            if segment.count:
                session.add(
                    Segment(
                        key=segment.key,
                        size=segment.size,
                        sha256=segment.sha256(),
                        record_count=segment.count,
                    )
                )
            self._link_recalls(session, source, [_rec(p) for p in new], rows, summary)
            session.flush()  # rooms, participants, segment: the message rows refer to them
            now = utcnow()
            bulk_insert(session.connection(), _MESSAGES, MESSAGE_COLUMNS, [r.row(now) for r in rows])
            bulk_insert(
                session.connection(), _MEDIA, MEDIA_COLUMNS, [m.row(now) for m in self._pending_media]
            )
            summary.alerts += self._raise_alerts(session)
            outbox_id = None
            indexed_now = bool(rows) and index_in_transaction(self.rt, session, rows, tokens)
            if rows and not indexed_now:
                event = OutboxEvent(topic="index", payload={"ids": [r.id for r in rows]})
                session.add(event)
                session.flush()
                outbox_id = event.id
            if key is not None:
                cp = session.get(IngestCheckpoint, key)
                if cp is None:
                    cp = IngestCheckpoint(source_key=key)
                    session.add(cp)
                cp.position, cp.line_no, cp.complete = batch[-1].offset_end, batch[-1].line_no, False
            if flushed is not None:
                flushed.result()
            done = _Committed(rows, tokens, indexed_now, outbox_id)
            if shared:
                session.flush()  # the checkpoint and the segment row go out with their batch
                self._tx_after.append(done)
            else:
                session.commit()
        except BaseException:
            if flushed is not None:
                futures.wait([flushed])  # an orphan segment at worst, never one written after the rollback
            if shared:
                self._abandon()  # the batches before this one in the open transaction go too
            else:
                session.rollback()
                self._forget_windows()
            raise
        finally:
            if not shared:
                session.close()
        if not shared:
            self._after_commit(summary, done)
        return new_ids

    def _after_commit(self, summary: ImportSummary, done: _Committed) -> None:
        """Count a committed batch's indexed documents, or hand them to the search service."""
        if done.indexed_now:
            summary.indexed += len(done.rows)
        if done.outbox_id is not None:
            if self._pusher is None:
                summary.indexed += push_committed(self.rt, [done.outbox_id], done.rows, done.tokens)
            else:
                ids, pending, pending_tokens = self._unpushed
                ids.append(done.outbox_id)
                pending.extend(done.rows)
                pending_tokens.update(done.tokens)
                if len(pending) >= PUSH_DOCS:
                    self._push_unpushed(summary)

    def _push_unpushed(self, summary: ImportSummary) -> None:
        """Hand the committed batches not pushed yet to the search service, which indexes them while the
        next ones are written (one push in flight, in order); a failed push leaves their outbox rows for
        `drain`, as before."""
        ids, pending, tokens = self._unpushed
        if not ids or self._pusher is None:
            return
        self._unpushed = ([], [], {})
        self._pushed(summary)
        self._push = self._pusher.submit(push_committed, self.rt, ids, pending, tokens)

    def _pushed(self, summary: ImportSummary) -> None:
        """Wait for the batch being pushed to the search service, if any, and count it."""
        if self._push is not None:
            push, self._push = self._push, None
            summary.indexed += push.result()

    def _conversations(self, session: Session, scanned: list[tuple[NewMessage, Any]]) -> None:
        """Feed each room's sliding window (derived signals only), in message order, and queue
        cross-message findings. Windows not in memory are loaded with one query per batch."""
        from archive.risk.analyzer import Finding
        from archive.risk.conversation import ConversationState, advance
        from archive.risk.lexicon import DEFAULT_TIERS
        from archive.risk.models import RoomRiskState

        missing = list({m.room_id for m, _ in scanned if m.room_id not in self._rooms})
        for i in range(0, len(missing), 500):
            stored = session.execute(
                select(RoomRiskState.room_id, RoomRiskState.state).where(
                    RoomRiskState.room_id.in_(missing[i : i + 500])
                )
            )
            for room_id, data in stored:
                self._remember(room_id, self._room(ConversationState.from_json(data), data))
                self._stored_rooms.add(room_id)
        for msg, sig in scanned:
            room = self._rooms.get(msg.room_id)
            if room is None:
                room = self._room(ConversationState.from_json({}), {})
                self._remember(msg.room_id, room)
            state, ids = room
            n = next(reversed(ids), -1) + 1  # ids: the window's indexes, ascending
            ids[n] = msg.id
            sig.index = n  # the worker's MessageSignals, numbered in the room now
            for category, rule, idxs in advance(state, sig):
                contributing = tuple(ids[i] for i in idxs if i in ids)
                finding = Finding(category, DEFAULT_TIERS[category], rule, (0, 0), "")
                self._pending_conversation.append((msg, contributing, finding))
            while len(ids) > len(state.window):  # the message that left the window
                del ids[next(iter(ids))]
            if next(iter(ids)) != state.window[0].index:  # not in step (never expected): by the window
                live = {m.index for m in state.window}
                for k in [k for k in ids if k not in live]:
                    del ids[k]
            self._dirty_rooms.add(msg.room_id)

    def _remember(self, room_id: int, room: tuple[Any, dict[int, str]]) -> None:
        for evicted in self._rooms.put(room_id, room):
            self._stored_rooms.discard(evicted)  # saved at the end of its last batch; reloaded if needed

    @staticmethod
    def _room(state: Any, data: dict[str, Any]) -> tuple[Any, dict[int, str]]:
        return state, dict(zip(data.get("n", []), data.get("ids", []), strict=False))

    def _save_rooms(self, session: Session) -> None:
        """Upsert the dirty windows: one executemany for the stored rooms, one for the new ones."""
        from archive.risk.models import RoomRiskState

        table = cast(Table, RoomRiskState.__table__)
        changed, created = [], []
        for room_id in self._dirty_rooms:
            room = self._rooms.get(room_id)
            assert room is not None, "a window touched in this batch is among the most recent"
            state, ids = room
            data = {**state.to_json(), "n": list(ids), "ids": list(ids.values())}
            if room_id in self._stored_rooms:
                changed.append({"b_room": room_id, "b_state": data})
            else:
                created.append({"room_id": room_id, "state": data})
                self._stored_rooms.add(room_id)
        if changed:
            stmt = (
                update(table)
                .where(table.c.room_id == bindparam("b_room"))
                .values(state=bindparam("b_state", type_=table.c.state.type))
            )
            session.execute(stmt, changed)
        if created:
            session.execute(insert(table), created)
        self._dirty_rooms.clear()

    def _raise_alerts(self, session: Session) -> int:
        """Findings above tier 0 become alerts (deduplicated per room, rule and window) in this transaction."""
        from archive.risk.service import AlertBook, Origin, record_findings

        count = 0
        rooms = [m.room_id for m, _ in self._pending_findings] + [
            m.room_id for m, _, _ in self._pending_conversation
        ]
        times = [m.msgtime for m, _ in self._pending_findings] + [
            m.msgtime for m, _, _ in self._pending_conversation
        ]
        book = AlertBook(session, rooms, min(times)) if rooms else None
        for msg, findings in self._pending_findings:
            origin = Origin(msg.room_id, msg.employee_id, msg.department_id, (msg.id,), msg.msgtime)
            count += len(record_findings(session, origin, findings, book))
        for msg, contributing, finding in self._pending_conversation:
            origin = Origin(msg.room_id, msg.employee_id, msg.department_id, contributing, msg.msgtime)
            count += len(record_findings(session, origin, [finding], book))
        if book is not None:
            book.write(session)
        self._pending_findings = []
        self._pending_conversation = []
        self._save_rooms(session)
        return count

    def _dedupe(self, session: Session, good: list[Prepared]) -> tuple[list[Prepared], list[Prepared]]:
        """Split into new and already-stored records; msgids are unique per source (channel)."""
        existing = stored_msgids(session, [_rec(p) for p in good])
        new: list[Prepared] = []
        dup: list[Prepared] = []
        for p in good:
            rec = _rec(p)
            if (rec.source, rec.msgid) in existing:
                dup.append(p)
            else:
                existing.add((rec.source, rec.msgid))
                new.append(p)
        return new, dup

    def _message(
        self,
        session: Session,
        p: Prepared,
        cache: DirectoryCache,
        segment: SegmentWriter,
        summary: ImportSummary,
    ) -> NewMessage:
        """The row of a new message, its ciphertext appended to the segment."""
        rec = _rec(p)
        if p.sealed is None:  # the prepare stage found it stored, and it is gone (purged) by now
            self.rt.refresh_lexicon()
            complete(self.rt, p)
        assert p.sealed is not None
        who = cache.resolve(session, rec.sender, rec.tolist, rec.roomid)
        mid, sealed = p.mid, p.sealed
        ref = segment.append(sealed.blob)
        summary.risk_flagged += bool(p.labels)
        if rec.consent is not None:
            self._pending_consent.append(rec.consent)
        summary.imported += 1
        summary.by_msgtype[rec.msgtype] += 1
        if not rec.known_type:
            summary.unknown_msgtypes[rec.msgtype] += 1
        msg = NewMessage(
            id=mid,
            source=rec.source,
            source_msgid=rec.msgid,
            seq=rec.seq,
            room_id=who.room_id,
            sender=rec.sender,
            sender_kind=who.sender_kind,
            employee_id=who.employee_id,
            customer_id=who.customer_id,
            department_id=who.department_id,
            msgtime=from_millis(rec.msgtime_ms),
            msgtype=rec.msgtype,
            action=rec.action,
            recall_of_msgid=rec.recall_target,
            blob_key=ref.key,
            blob_offset=ref.offset,
            blob_length=ref.length,
            wrapped_key=sealed.wrapped_key,
            key_id=sealed.key_id,
            content_sha256=sealed.sha256,
            risk_labels=p.labels,
        )
        if p.findings:
            self._pending_findings.append((msg, p.findings))
        if rec.media:
            msg.media_status, media_rows = self.media.attach(msg.id, rec.media, self.media_dir)
            self._pending_media.extend(media_rows)
            summary.media[msg.media_status] += 1
        return msg

    def _consents(self, session: Session, cache: DirectoryCache) -> None:
        """Apply the batch's agree/disagree records to their customers, in file order (the latest consent
        time wins): one query for the customers, not one per record."""
        consents, self._pending_consent = self._pending_consent, []
        ids = [cache.customer(session, external) for external, _, _ in consents]
        rows: dict[int, Customer] = {}
        for i in range(0, len(ids), 500):
            found = session.execute(select(Customer).where(Customer.id.in_(set(ids[i : i + 500])))).scalars()
            rows.update((row.id, row) for row in found)
        for cid, (_, state, at_ms) in zip(ids, consents, strict=True):
            row = rows.get(cid)
            at = from_millis(at_ms)
            if row is not None and (row.consent_at is None or row.consent_at.replace(tzinfo=at.tzinfo) <= at):
                row.consent_state, row.consent_at = state, at

    def _link_recalls(
        self,
        session: Session,
        source: str,
        recs: list[ParsedRecord],
        rows: list[NewMessage],
        summary: ImportSummary,
    ) -> None:
        """A recall marks its original; a recall that arrives first is reconciled when the original does.
        Runs before the batch's rows are inserted: originals in the batch are marked in memory, stored
        ones with one executemany; at most two queries per batch, whatever its size."""
        targets = {rec.recall_target: row for rec, row in zip(recs, rows, strict=True) if rec.recall_target}
        plain = {row.source_msgid: row for rec, row in zip(recs, rows, strict=True) if not rec.recall_target}
        stored: list[str] = []
        for target, recall_row in targets.items():
            original = plain.get(target)
            if original is None:
                stored.append(target)
            elif not original.recalled:
                original.mark_recalled(recall_row.msgtime, recall_row.source_msgid)
                summary.recalled += 1
        marks = []
        for i in range(0, len(stored), IN_CHUNK):
            found = session.execute(_UNRECALLED, {"source": source, "ids": stored[i : i + IN_CHUNK]})
            for original_id, msgid in found:
                recall_row = targets[msgid]
                marks.append(
                    {"b_id": original_id, "b_at": recall_row.msgtime, "b_by": recall_row.source_msgid}
                )
        if marks:
            session.execute(_MARK_RECALLED, marks)
            summary.recalled += len(marks)
        waiting = [m for m, row in plain.items() if not row.recalled]
        for i in range(0, len(waiting), IN_CHUNK):
            early = session.execute(_EARLY_RECALLS, {"ids": waiting[i : i + IN_CHUNK]})
            for recall_source, target, at, by in early:
                row = plain[target or ""]
                if recall_source == source and not row.recalled:
                    row.mark_recalled(at, by)
                    summary.recalled += 1

    def _quarantine(
        self,
        session: Session,
        p: Prepared,
        source: str,
        file_label: str,
        segment: SegmentWriter,
        summary: ImportSummary,
    ) -> None:
        reason, msgid = p.reason or "invalid_json", p.msgid
        digest = hashlib.sha256(p.raw).hexdigest()
        if (
            p.offset_end
            and session.execute(
                select(QuarantineEntry.id).where(
                    QuarantineEntry.file == file_label,
                    QuarantineEntry.line_no == p.line_no,
                    QuarantineEntry.content_sha256 == digest,
                )
            ).first()
        ):
            summary.quarantined_again += 1  # a rerun of the same file: the line is already quarantined
            return
        qid = new_id()
        sealed = self.rt.envelope.seal(qid, p.raw)
        ref = segment.append(sealed.blob)
        session.add(
            QuarantineEntry(
                id=qid,
                source=source,
                file=file_label,
                line_no=p.line_no,
                reason=reason[:128],
                msgid=msgid[:256] if msgid else None,
                raw_size=len(p.raw),
                blob_key=ref.key,
                blob_offset=ref.offset,
                blob_length=ref.length,
                wrapped_key=sealed.wrapped_key,
                key_id=sealed.key_id,
                content_sha256=sealed.sha256,
                created_at=utcnow(),
            )
        )
        summary.quarantined += 1
        summary.quarantined_by_reason[reason.split(":")[0]] += 1
