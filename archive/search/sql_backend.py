"""The `sql` search backend: blind tokens indexed inside the archive's own database.

One row per message in `search_index` (plain metadata + tokens). The tokens are indexed by the database's
own inverted index — FTS5 on SQLite (external content, `detail=none`: terms only), GIN over a bigint array
on PostgreSQL — not by a b-tree of (token, doc) postings, which takes a random insert per posting (~43 per
message). Measured on 100k chat messages (2 vCPU): postings tables indexed 1,000-4,000 docs/s on SQLite and
2,000-3,000 on PostgreSQL (even with COPY), slowing as they grew, at 1.6-9 KB per message; FTS5 indexes
~7,300 docs/s and GIN ~5,300, at 1.1-1.6 KB per message including the metadata.

Metadata filters, ordering (msgtime desc, id desc) and keyset pagination are the same SQL on both.
PostgreSQL's planner chooses between the GIN index and the time index from its statistics. On SQLite the
FTS5 rowid (`docno`) is the message time in milliseconds shifted left by 21 bits plus a free slot, so FTS5
streams the matches newest first and a page costs about `limit` rows however common the tokens are."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from hashlib import blake2b
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    bindparam,
    column,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from archive.kit.errors import ConfigurationError, InvalidInput
from archive.search.backend import (
    Cursor,
    SearchDoc,
    SearchFilters,
    SearchRejected,
    SearchUnavailable,
)
from archive.search.models import FTS_TABLE, SearchDocRow

CHUNK = 500  # ids per IN list
TOKEN_HEX = 16
_BLIND = re.compile(r"[0-9a-f]{16}(?: [0-9a-f]{16})*")
_INT64 = 1 << 63
# SQLite docno = msgtime_ms << SLOT_BITS | slot: 42 bits of milliseconds reach the year 2109, and 2**21
# slots per millisecond are more messages than any archive holds in one.
SLOT_BITS = 21
SLOT_MASK = (1 << SLOT_BITS) - 1
MAX_MSGTIME_MS = (1 << (63 - SLOT_BITS)) - 1
DOCNO_IN = 5000  # docnos per IN list when reading

T = cast(Table, SearchDocRow.__table__)
FTS = table(FTS_TABLE, column("rowid"))
# FTS5 statements, spelled out (values are bound).
_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_index_fts USING fts5(tokens, content='search_index', "
    "content_rowid='docno', tokenize='ascii', detail='none', columnsize=0)"
)
# FTS5 merges its segments once AUTOMERGE of them share a level (default 4). At 8, each posting is
# rewritten fewer times as the index grows: replaying the SQL of a 200 k-message import, SQLite's CPU a
# message went 73.9 → 65.0 µs (the commit, where FTS5 writes and merges, 29.9 → 23.7), and queries read at
# most twice as many segments a level (BENCHMARKS.md). Applied to existing indexes too (`ensure_ready`).
FTS_AUTOMERGE = 8
_FTS_AUTOMERGE = "INSERT INTO search_index_fts(search_index_fts, rank) VALUES ('automerge', ?)"
_FTS_REBUILD = "INSERT INTO search_index_fts(search_index_fts) VALUES ('rebuild')"
_FTS_DELETE_ALL = "INSERT INTO search_index_fts(search_index_fts) VALUES ('delete-all')"
_FTS_FORGET = (
    "INSERT INTO search_index_fts(search_index_fts, rowid, tokens) "
    "SELECT 'delete', docno, tokens FROM search_index WHERE id IN :ids ORDER BY docno"
)
_SQLITE_COLUMNS = (
    "docno, id, msgtime_ms, room_id, sender, msgtype, employee_id, customer_id, department_id, "
    "risk_labels, recalled, tokens"
)
_INSERT_SQLITE = f"INSERT INTO search_index ({_SQLITE_COLUMNS}) VALUES ({', '.join('?' * 12)})"  # noqa: S608
# Fed in docno order: FTS5 flushes its pending terms to a new segment whenever a rowid is lower than the
# one before it, so an unordered insert of 500 documents wrote dozens of tiny segments and merged them
# (3.5x the cost of the ordered insert, measured on 20 k imported messages).
_FTS_INSERT = "INSERT INTO search_index_fts(rowid, tokens) VALUES (?, ?)"
assert T.name == "search_index" and FTS_TABLE == "search_index_fts"  # the SQL above names them
assert {c.name for c in T.columns} == set(_SQLITE_COLUMNS.split(", "))


def _canonical(token: str) -> str:
    """A blind token as FTS5 and int64 want it: 16 lowercase hex characters. Anything else (never produced
    by BlindIndex) is hashed into that form, the same way for documents and queries."""
    if len(token) == TOKEN_HEX and _BLIND.fullmatch(token):
        return token
    return blake2b(token.encode("utf-8"), digest_size=TOKEN_HEX // 2).hexdigest()


def token_text(tokens: Sequence[str]) -> str:
    """Blind tokens as this backend stores them: canonical, sorted, separated by single spaces."""
    # A repeated token is harmless to FTS5 and to `@>`, so no set(): BlindIndex's tokens are distinct.
    joined = " ".join(sorted(tokens))
    if not joined or _BLIND.fullmatch(joined):
        return joined
    return " ".join(sorted({_canonical(t) for t in tokens}))


def _stored_tokens(d: SearchDoc) -> str:
    """A document's tokens as stored: given by the caller (the importer's workers) or computed here."""
    return d.token_text if d.token_text is not None else token_text(d.tokens)


def _ints(text: str) -> list[int]:
    """Stored token text as PostgreSQL's int64 array."""
    return [int(t, 16) - _INT64 for t in text.split()]


def _labels(labels: Sequence[str]) -> str:
    return "|" + "|".join(labels) + "|" if labels else ""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _ids_param(sql: str) -> Any:
    return text(sql).bindparams(bindparam("ids", expanding=True))


class SqlBackend:
    name = "sql"

    def __init__(self, engine: Engine, *, first_batch: int = 256, max_batch: int = 8192) -> None:
        """`first_batch`/`max_batch`: how many FTS5 matches a SQLite page reads at a time (tests shrink
        them to exercise the page edges)."""
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigurationError(f"the sql search backend does not support {self.dialect}")
        self.first_batch = first_batch
        self.max_batch = max_batch
        self._ready = False

    @contextmanager
    def _conn(self, *, write: bool) -> Iterator[Connection]:
        """A connection (in a transaction when writing), the tables created on first use. A database
        that cannot be reached or is locked is SearchUnavailable, so the outbox retries later; any other
        database error is SearchRejected. Neither quotes the statement's parameters (tokens, senders)."""
        if not self._ready:
            self.ensure_ready()
        with self._guard():
            if write:
                with self.engine.begin() as conn:
                    yield conn
            else:
                with self.engine.connect() as conn:
                    yield conn

    @staticmethod
    @contextmanager
    def _guard() -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise SearchUnavailable(f"search database unavailable: {_describe(exc)}") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise SearchUnavailable(f"search database connection lost: {_describe(exc)}") from None
            raise SearchRejected(f"search database error: {_describe(exc)}") from None

    # -- schema ---------------------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Create the table (and on SQLite the FTS5 table) if missing. Idempotent; a migration may have
        created the table already."""
        with self._guard(), self.engine.begin() as conn:
            T.create(conn, checkfirst=True)
            if self.dialect == "sqlite" and not sa_inspect(conn).has_table(FTS_TABLE):
                try:
                    conn.exec_driver_sql(_FTS_DDL)
                except OperationalError as exc:
                    if "fts5" in str(exc.orig):
                        raise ConfigurationError("this SQLite library was built without FTS5") from None
                    raise
                # Rows written before the FTS table existed (e.g. restored from a backup without it).
                conn.exec_driver_sql(_FTS_REBUILD)
            if self.dialect == "sqlite":
                conn.exec_driver_sql(_FTS_AUTOMERGE, (FTS_AUTOMERGE,))
        self._ready = True

    # -- writes ---------------------------------------------------------------------------------------

    @staticmethod
    def _pg_row(d: SearchDoc) -> dict[str, Any]:
        return {
            "id": d.id,
            "msgtime_ms": d.msgtime_ms,
            "room_id": d.room_id,
            "sender": d.sender,
            "msgtype": d.msgtype,
            "employee_id": d.employee_id,
            "customer_id": d.customer_id,
            "department_id": d.department_id,
            "risk_labels": _labels(d.risk_labels),
            "recalled": d.recalled,
            "tokens": _ints(_stored_tokens(d)),
        }

    def index(self, docs: Sequence[SearchDoc]) -> None:
        """Upsert by id: a document indexed again replaces its metadata and tokens."""
        if not docs:
            return
        with self._conn(write=True) as conn:
            self._write(conn, docs)

    def index_in(self, conn: Connection, docs: Sequence[SearchDoc], *, fresh: bool = False) -> None:
        """`index` inside the caller's transaction on this backend's database (the importer's batch), so
        the index commits, or rolls back, with the rows it describes. `fresh`: the ids were minted in this
        transaction, so there is nothing to replace (the importer's new messages). Errors propagate
        unconverted."""
        if not self._ready:
            self.ensure_ready()
        self._write(conn, docs, fresh=fresh)

    def _write(self, conn: Connection, docs: Sequence[SearchDoc], *, fresh: bool = False) -> None:
        latest = {d.id: d for d in docs}  # the last version of an id in the batch wins
        if not latest:
            return
        ids = sorted(latest)  # one lock order for concurrent writers
        if self.dialect == "postgresql":
            rows = [self._pg_row(latest[i]) for i in ids]
            stmt = postgresql.insert(T)
            cols = [c.name for c in T.columns if c.name not in {"docno", "id"}]
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[T.c.id], set_={c: stmt.excluded[c] for c in cols}),
                rows,
            )
            return
        if not fresh:
            for part in _chunks(ids):
                self._erase_sqlite(conn, part)
        ordered = [latest[i] for i in ids]
        docnos = _assign_docnos(conn, [(d.msgtime_ms, d.id) for d in ordered])
        # Plain tuples through the driver, in docno order: the table's rowid b-tree is appended to, and
        # FTS5 gets ascending rowids (see _FTS_INSERT). Building dicts for a Core insert and reading the
        # tokens back with INSERT … SELECT cost as much as FTS5's own indexing.
        params = sorted(
            (
                docno,
                d.id,
                d.msgtime_ms,
                d.room_id,
                d.sender,
                d.msgtype,
                d.employee_id,
                d.customer_id,
                d.department_id,
                _labels(d.risk_labels),
                int(d.recalled),
                _stored_tokens(d),
            )
            for docno, d in zip(docnos, ordered, strict=True)
        )
        conn.exec_driver_sql(_INSERT_SQLITE, params)
        conn.exec_driver_sql(_FTS_INSERT, [(p[0], p[-1]) for p in params])

    @staticmethod
    def _erase_sqlite(conn: Connection, ids: list[str]) -> None:
        # An external-content FTS5 table forgets a row only when told the values it indexed.
        conn.execute(_ids_param(_FTS_FORGET), {"ids": ids})
        conn.execute(delete(T).where(T.c.id.in_(ids)))

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._conn(write=True) as conn:
            for part in _chunks(sorted(set(ids))):
                if self.dialect == "sqlite":
                    self._erase_sqlite(conn, part)
                else:
                    conn.execute(delete(T).where(T.c.id.in_(part)))

    def clear(self) -> None:
        with self._conn(write=True) as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("TRUNCATE search_index")
            else:
                conn.exec_driver_sql(_FTS_DELETE_ALL)
                conn.execute(delete(T))

    def refresh(self) -> None:
        return None  # committed writes are visible

    # -- reads ----------------------------------------------------------------------------------------

    def count(self) -> int:
        with self._conn(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(T)).scalar_one())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(literal(1)))
            return True
        except Exception:  # ping reports, never raises
            return False

    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]:
        conds = _conditions(filters)
        if limit <= 0 or conds is None:
            return []
        if after is not None:
            conds.append(tuple_(T.c.msgtime_ms, T.c.id) < tuple_(literal(after[0]), literal(after[1])))
        order = (T.c.msgtime_ms.desc(), T.c.id.desc())
        with self._conn(write=False) as conn:
            if tokens and self.dialect == "sqlite":
                return self._sqlite_candidates(conn, _fts_query(tokens), conds, filters, limit, after)
            q = select(T.c.msgtime_ms, T.c.id).where(*conds)
            if tokens:
                wanted = literal(_ints(token_text(tokens)), type_=postgresql.ARRAY(BigInteger))
                q = q.where(T.c.tokens.op("@>")(wanted))
            return [(int(ms), str(i)) for ms, i in conn.execute(q.order_by(*order).limit(limit))]

    def _sqlite_candidates(
        self,
        conn: Connection,
        match: str,
        conds: list[ColumnElement[bool]],
        filters: SearchFilters,
        limit: int,
        after: Cursor | None,
    ) -> list[Cursor]:
        """Read matching docnos newest first from FTS5 in growing batches, keep those that pass the filters,
        stop at `limit`. A batch never ends inside a millisecond (the next batch starts at that
        millisecond again), so sorting each batch by (msgtime, id) sorts the whole page."""
        hi = MAX_MSGTIME_MS << SLOT_BITS | SLOT_MASK  # inclusive docno bounds
        lo = 0
        if after is not None:
            hi = min(hi, _docno_ceiling(after[0]))
        if filters.until_ms is not None:
            hi = min(hi, _docno_ceiling(filters.until_ms - 1))
        if filters.since_ms is not None:
            lo = max(lo, _docno_floor(filters.since_ms))
        matching = select(FTS.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(match))
        out: list[Cursor] = []
        batch = max(self.first_batch, 1)
        while len(out) < limit and hi >= lo:
            q = matching.where(FTS.c.rowid <= hi, FTS.c.rowid >= lo).order_by(FTS.c.rowid.desc())
            docnos: list[int] = list(conn.execute(q.limit(batch)).scalars())
            last = len(docnos) < batch
            if not last:
                edge = docnos[-1] >> SLOT_BITS
                docnos = [d for d in docnos if d >> SLOT_BITS != edge]
                if docnos:  # the next batch starts with the cut millisecond
                    hi = edge << SLOT_BITS | SLOT_MASK
                else:  # the whole batch is one millisecond: read all of it
                    whole = matching.where(FTS.c.rowid <= hi, FTS.c.rowid >= max(lo, edge << SLOT_BITS))
                    docnos = list(conn.execute(whole).scalars())
                    hi = (edge << SLOT_BITS) - 1
            page: list[Cursor] = []
            for part in _chunks(docnos, DOCNO_IN):
                q2 = select(T.c.msgtime_ms, T.c.id).where(T.c.docno.in_(part), *conds)
                page.extend((int(ms), str(i)) for ms, i in conn.execute(q2))
            page.sort(reverse=True)
            out.extend(page)
            if last:
                break
            batch = min(batch * 2, self.max_batch)
        return out[:limit]


def _describe(exc: DBAPIError) -> str:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    return f"{type(exc.orig).__name__}" + (f" ({code})" if code else "")


def _docno_floor(ms: int) -> int:
    return max(ms, 0) << SLOT_BITS


def _docno_ceiling(ms: int) -> int:
    return min(ms, MAX_MSGTIME_MS) << SLOT_BITS | SLOT_MASK if ms >= 0 else -1


# One expanding parameter, not a coerced literal per docno (≈ 1 µs a docno, one per imported message).
_TAKEN = select(T.c.docno).where(T.c.docno.in_(bindparam("docnos", expanding=True)))


def _assign_docnos(conn: Connection, docs: list[tuple[int, str]]) -> list[int]:
    """SQLite docnos for new (msgtime_ms, id) rows: the message time in the high bits (so FTS5's rowid
    order is time order) and a slot from a hash of the id, moved to the first free slot on a collision."""
    wanted: list[int] = []
    for ms, doc_id in docs:
        if not 0 <= ms <= MAX_MSGTIME_MS:
            raise InvalidInput("message time out of range for the search index")
        wanted.append(ms << SLOT_BITS | (zlib.crc32(doc_id.encode()) & SLOT_MASK))
    taken: set[int] = set()
    for part in _chunks(wanted, DOCNO_IN):
        taken.update(conn.execute(_TAKEN, {"docnos": part}).scalars())
    out: list[int] = []
    for docno in wanted:
        if docno in taken:
            base = docno >> SLOT_BITS << SLOT_BITS
            busy = taken | set(
                conn.execute(select(T.c.docno).where(T.c.docno.between(base, base | SLOT_MASK))).scalars()
            )
            docno = next(base | s for s in range(SLOT_MASK + 1) if base | s not in busy)
        taken.add(docno)
        out.append(docno)
    return out


def _fts_query(tokens: Sequence[str]) -> str:
    # Quoted terms, implicitly ANDed; hex cannot contain a quote.
    return " ".join(f'"{t}"' for t in token_text(tokens).split())


def _conditions(f: SearchFilters) -> list[ColumnElement[bool]] | None:
    """WHERE terms for the filters; None when a filter admits nothing (an empty tuple)."""
    conds: list[ColumnElement[bool]] = []
    if f.since_ms is not None:
        conds.append(T.c.msgtime_ms >= f.since_ms)
    if f.until_ms is not None:
        conds.append(T.c.msgtime_ms < f.until_ms)
    values: tuple[Any, ...] | None
    for col, values in (
        (T.c.room_id, f.room_ids),
        (T.c.sender, f.senders),
        (T.c.employee_id, f.employee_ids),
        (T.c.customer_id, f.customer_ids),
        (T.c.department_id, f.department_ids),
        (T.c.msgtype, f.msgtypes),
    ):
        if values is not None:
            if not values:
                return None
            conds.append(col.in_(sorted(set(values))))
    if f.risk_labels is not None:
        if not f.risk_labels:
            return None
        conds.append(
            or_(*[T.c.risk_labels.contains(f"|{label}|", autoescape=True) for label in f.risk_labels])
        )
    return conds


__all__ = ["SqlBackend"]
