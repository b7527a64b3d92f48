"""The per-message work of an import that needs no database row: decode and validate the line, parse it,
seal it (AES-256-GCM, fresh data key), scan it, blind-index it and derive its conversation signals.

It runs in the importing process, or in a pool of worker processes (`ingest_workers`) while the importing
process writes the previous batches: on two cores this work and the database writes overlap. Everything
here is a pure function of the line, the keys and the active lexicon, so where it runs changes nothing in
the archive (tested). What needs the database — duplicates, participants, recalls, conversation windows,
alerts, the checkpoint — stays in the single writing process, in file order.

A worker is a fork of the importer: it inherits the keyring, the blind index key, the analyser and jieba's
dictionary (loaded before the fork, shared copy-on-write), drops
the inherited database connections, refreshes the lexicon before each batch as the importer does (an
admin's lexicon change applies from the next batch), dies with its parent (PR_SET_PDEATHSIG on Linux) and
ignores Ctrl-C, which the parent handles."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from archive.ingest.directory import participant_kind
from archive.ingest.reader import EMPTY, LineRange, RawLine, decode_line, read_range
from archive.ingest.records import InvalidRecord, ParsedRecord, RecordParser
from archive.kit.errors import InvalidInput, ServiceUnavailable
from archive.kit.ids import new_id
from archive.risk.conversation import signals_of
from archive.risk.normalize import compact_with_path
from archive.runtime import Runtime
from archive.store.crypto import Sealed
from archive.store.models import Message

FORMATS = ("wecom", "generic")


def parser(fmt: str) -> RecordParser:
    if fmt == "wecom":
        from archive.ingest.wecom import parse_wecom

        return parse_wecom
    if fmt == "generic":
        from archive.ingest.generic import parse_generic

        return parse_generic
    raise InvalidInput(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


@dataclass(slots=True)
class Prepared:
    """One line, ready for the writer: a record (`rec` set, sealed and scanned) or a reject (`reason`)."""

    line_no: int
    offset_end: int
    rec: ParsedRecord | None = None
    mid: str = ""
    sealed: Sealed | None = None
    labels: list[str] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)  # archive.risk.analyzer.Finding
    tokens: str = ""  # the blind tokens as archive.search.sql_backend.token_text gives them
    signals: Any = None  # archive.risk.conversation.MessageSignals (index set by the writer)
    reason: str | None = None
    msgid: str | None = None  # a reject's msgid, when it had one
    raw: bytes = b""  # a reject's bytes, for the quarantine (empty for records: not sent back)

    def __reduce__(self) -> tuple[type[Prepared], tuple[Any, ...]]:
        # Every prepared line crosses from a worker to the importer: positional fields unpickle in a
        # fraction of the time of a slotted dataclass's default state protocol (measured: a 500-line
        # batch cost the importer 39.5 µs per line to unpickle before, see BENCHMARKS.md).
        return Prepared, _PREPARED_FIELDS(self)


_PREPARED_FIELDS = attrgetter(*Prepared.__slots__)


def prepare_batch(rt: Runtime, fmt: str, lines: list[RawLine], max_depth: int) -> list[Prepared]:
    """Decode and parse each line, then seal, scan and index the records that are not stored yet (a
    re-delivered file costs a parse and one query per batch, not the whole work). The writer checks
    duplicates again, authoritatively, and completes a record that was stored here but is not there."""
    rt.refresh_lexicon()  # an admin's lexicon change applies from the next batch, without restart
    parse = parser(fmt)
    out: list[Prepared] = []
    parsed: list[tuple[Prepared, ParsedRecord]] = []
    for line in lines:
        # Decoded here (read with decode=False), the object is orjson's own: its canonical form needs no
        # round-trip check. Objects handed in (pushed records) may hold anything and get the check.
        obj, error = line.obj, line.error
        decoded = obj is None and error is None
        if decoded:  # what `classify` would give
            obj, error = decode_line(line.raw, max_depth) or (None, EMPTY)
        if error is not None or obj is None:
            out.append(Prepared(line.line_no, line.offset_end, reason=error or "invalid_json", raw=line.raw))
            continue
        try:
            rec = parse(obj, decoded=decoded)
        except InvalidRecord as exc:
            msgid = obj.get("msgid")
            out.append(
                Prepared(
                    line.line_no,
                    line.offset_end,
                    reason=exc.reason,
                    msgid=msgid if isinstance(msgid, str) else None,
                    raw=line.raw,
                )
            )
            continue
        p = Prepared(line.line_no, line.offset_end, rec)
        out.append(p)
        parsed.append((p, rec))
    if parsed:
        with rt.sessions() as session:
            stored = stored_msgids(session, [rec for _, rec in parsed])
        complete_all(rt, [p for p, rec in parsed if (rec.source, rec.msgid) not in stored])
    return out


def complete(rt: Runtime, p: Prepared) -> None:
    """Seal, blind-index and scan a parsed record: everything a new message needs before it is written."""
    complete_all(rt, [p])


def complete_all(rt: Runtime, batch: list[Prepared]) -> None:
    """`complete` for each of a batch's parsed records, one step at a time over the whole batch (seal all,
    then blind-index all, then scan all, then derive the signals): each step's code and tables stay in the
    CPU's caches instead of being evicted by the next step for every message (prepare CPU a message,
    median of alternated in-process runs: 86.7 → 74.7, 77.4 → 75.5, 73.8 → 70.6 µs)."""
    recs: list[ParsedRecord] = []
    for p in batch:
        assert p.rec is not None, "a reject has no record"
        recs.append(p.rec)
    seal = rt.envelope.seal
    for p, rec in zip(batch, recs, strict=True):
        p.mid = new_id()
        p.sealed = seal(p.mid, rec.canonical)
    with_text = [(p, rec) for p, rec in zip(batch, recs, strict=True) if rec.text]
    tokens = rt.blind.doc_token_text
    for p, rec in with_text:
        p.tokens = tokens(rec.text)
    sent = [(p, rec) for p, rec in with_text if rec.action == "send"]
    roles = ["customer" if participant_kind(rec.sender) == "customer" else "employee" for _, rec in sent]
    compacted = [compact_with_path(rec.text) for _, rec in sent]  # the risk normal form, for both below
    scan = rt.analyzer.scan_message
    for (p, rec), role, c in zip(sent, roles, compacted, strict=True):
        result = scan(rec.text, sender_role=rec.sender_role or role, compacted=c)
        if result.findings:  # (labels are the findings' categories, sorted: none without findings)
            p.labels = result.labels
            p.findings = list(result.findings)
    for (p, rec), role, c in zip(sent, roles, compacted, strict=True):
        p.signals = signals_of(rec.text, role, 0, compacted=c[0])


def stored_msgids(session: Session, recs: Iterable[ParsedRecord]) -> set[tuple[str, str]]:
    """The (source, msgid) pairs of `recs` already in the archive; msgids are unique per source."""
    by_source: dict[str, set[str]] = {}
    for r in recs:
        by_source.setdefault(r.source, set()).add(r.msgid)
    found: set[tuple[str, str]] = set()
    for source, msgids in by_source.items():
        ids = sorted(msgids)
        for i in range(0, len(ids), IN_CHUNK):
            rows = session.execute(_STORED, {"source": source, "ids": ids[i : i + IN_CHUNK]}).scalars()
            found.update((source, m) for m in rows)
    return found


# Keys per IN list. One expanding parameter, not a literal per key: SQLAlchemy coerced each of a list's
# literals (≈ 1 µs a key, twice per imported message); now it renders the list's placeholders itself.
IN_CHUNK = 2000
_STORED = select(Message.source_msgid).where(
    Message.source == bindparam("source"), Message.source_msgid.in_(bindparam("ids", expanding=True))
)


# -- worker processes ---------------------------------------------------------------------------------

_worker: tuple[Runtime, str, int] | None = None
_PR_SET_PDEATHSIG = 1


def _init_worker(rt: Runtime, fmt: str, max_depth: int) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":  # die with the importer, even when it is killed with -9
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    if "engine" in rt.__dict__:
        rt.engine.dispose(close=False)  # the parent's connections are the parent's
    _worker = (rt, fmt, max_depth)


def _run(task: list[RawLine] | LineRange) -> list[Prepared]:
    assert _worker is not None, "worker not initialised"
    rt, fmt, max_depth = _worker
    return prepare_batch(rt, fmt, _lines(rt, task, max_depth), max_depth)


def _lines(rt: Runtime, task: list[RawLine] | LineRange, max_depth: int) -> list[RawLine]:
    """A batch's lines: given, or read from the importer's file by the worker itself (the importing process
    then only counts newlines, instead of cutting and pickling every line)."""
    if isinstance(task, LineRange):
        return read_range(task, max_line_bytes=rt.settings.ingest_max_line_bytes, max_depth=max_depth)
    return task


class WorkerDied(ServiceUnavailable):
    """A worker process ended abruptly (killed, out of memory). The batches after the last commit are not
    stored; rerunning the import resumes from its checkpoint."""


class Preparer:
    """Prepares batches in order, in-process (`workers=0`) or in a forked pool with at most
    `2 × workers` batches in flight (so memory stays bounded whatever the file size). A worker that dies
    fails the import with `WorkerDied` (a `multiprocessing.Pool` would have waited for its batch forever)."""

    def __init__(self, rt: Runtime, fmt: str, max_depth: int, workers: int) -> None:
        parser(fmt)  # an unknown format fails here, before any process starts
        self.rt, self.fmt, self.max_depth, self.workers = rt, fmt, max_depth, workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Preparer:
        if self.workers > 0:
            # The analyser (16 MB) and jieba's dictionary (75 MB) are loaded here once and shared
            # copy-on-write by the forks; gc.freeze() keeps the collector from writing to (and so copying)
            # their pages. Measured with two workers: 248 MB PSS for the three processes against 363 MB
            # when each worker loaded its own.
            import jieba

            jieba.setLogLevel(60)
            self.rt.analyzer.preload()  # the matchers and tables a scan builds on first use, too
            jieba.initialize()
            # The keys too: a worker that loaded the keyring itself could meet a fresh data directory and
            # create one of its own.
            self.rt.envelope  # noqa: B018
            self.rt.blind  # noqa: B018
            gc.freeze()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(self.rt, self.fmt, self.max_depth),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            gc.unfreeze()  # the importer may live on (the demo command serves the API afterwards)

    def map(self, batches: Iterable[list[RawLine] | LineRange]) -> Iterator[list[Prepared]]:
        """Prepared batches in order, for batches of lines or ranges of the file being imported (a range
        may hold only blank lines: its batch is empty)."""
        if self._pool is None:
            for task in batches:
                yield prepare_batch(self.rt, self.fmt, _lines(self.rt, task, self.max_depth), self.max_depth)
            return
        pending: deque[Future[list[Prepared]]] = deque()
        try:
            for task in batches:
                pending.append(self._pool.submit(_run, task))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool:
            raise WorkerDied(
                "an ingest worker process died (killed or out of memory); batches after the last commit "
                "were not stored: run the import again to resume from its checkpoint"
            ) from None
