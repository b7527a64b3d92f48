"""The `sql` search backend: an inverted table of blind tokens in the same database (SQLite or
PostgreSQL). A multi-token query intersects postings with GROUP BY … HAVING COUNT = n."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, text, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from archive.search.backend import Cursor, SearchDoc, SearchFilters, SearchUnavailable
from archive.search.models import SearchDocRow, SearchTokenRow

CHUNK = 500


def token_int(token: str) -> int:
    """A 16-hex-digit blind token as a signed 64-bit integer (what BIGINT holds)."""
    return int(token, 16) - (1 << 63)


def _labels(labels: Sequence[str]) -> str:
    return "|" + "|".join(labels) + "|" if labels else ""


class SqlBackend:
    name = "sql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_ready(self) -> None:
        # Tables come from the Alembic migration; nothing to create at run time.
        return None

    def index(self, docs: Sequence[SearchDoc]) -> None:
        if not docs:
            return
        latest = {d.id: d for d in docs}
        try:
            with self.engine.begin() as conn:
                self._delete(conn, list(latest))
                rows = [
                    {
                        "id": d.id, "msgtime_ms": d.msgtime_ms, "room_id": d.room_id, "sender": d.sender,
                        "msgtype": d.msgtype, "employee_id": d.employee_id, "customer_id": d.customer_id,
                        "department_id": d.department_id, "risk_labels": _labels(d.risk_labels),
                        "recalled": d.recalled,
                    }
                    for d in latest.values()
                ]  # fmt: skip
                conn.execute(insert(SearchDocRow), rows)
                docnos: dict[str, int] = {}
                ids = list(latest)
                for i in range(0, len(ids), CHUNK):
                    q = select(SearchDocRow.id, SearchDocRow.docno).where(
                        SearchDocRow.id.in_(ids[i : i + CHUNK])
                    )
                    docnos.update((str(k), int(v)) for k, v in conn.execute(q))
                postings = [(token_int(t), docnos[d.id]) for d in latest.values() for t in set(d.tokens)]
                # raw executemany: the ORM/Core per-row parameter processing costs more than SQLite itself
                if postings:
                    conn.exec_driver_sql(
                        "INSERT INTO search_tokens (token, docno) VALUES (%s, %s)"
                        if conn.dialect.paramstyle in ("format", "pyformat")
                        else "INSERT INTO search_tokens (token, docno) VALUES (?, ?)",
                        postings,
                    )
        except OperationalError as exc:
            raise SearchUnavailable(f"search tables unavailable: {type(exc).__name__}") from None

    def _delete(self, conn: Connection, ids: list[str]) -> None:
        for i in range(0, len(ids), CHUNK):
            part = ids[i : i + CHUNK]
            docnos = select(SearchDocRow.docno).where(SearchDocRow.id.in_(part)).scalar_subquery()
            conn.execute(delete(SearchTokenRow).where(SearchTokenRow.docno.in_(docnos)))
            conn.execute(delete(SearchDocRow).where(SearchDocRow.id.in_(part)))

    def delete(self, ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            self._delete(conn, list(ids))

    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]:
        d = SearchDocRow
        q = select(d.msgtime_ms, d.id)
        toks = sorted(set(tokens))
        if toks:
            postings = (
                select(SearchTokenRow.docno)
                .where(SearchTokenRow.token.in_([token_int(t) for t in toks]))
                .group_by(SearchTokenRow.docno)
                .having(func.count() == len(toks))
            )
            q = q.where(d.docno.in_(postings))
        conds: list[Any] = []
        f = filters
        if f.since_ms is not None:
            conds.append(d.msgtime_ms >= f.since_ms)
        if f.until_ms is not None:
            conds.append(d.msgtime_ms < f.until_ms)
        for col, values in (
            (d.room_id, f.room_ids),
            (d.sender, f.senders),
            (d.employee_id, f.employee_ids),
            (d.customer_id, f.customer_ids),
            (d.department_id, f.department_ids),
            (d.msgtype, f.msgtypes),
        ):
            if values is not None:
                conds.append(col.in_(list(values)))
        if f.risk_labels is not None:
            from sqlalchemy import or_

            conds.append(or_(*[d.risk_labels.like(f"%|{label}|%") for label in f.risk_labels]))
        if after is not None:
            conds.append(tuple_(d.msgtime_ms, d.id) < tuple_(literal(after[0]), literal(after[1])))
        q = q.where(*conds).order_by(d.msgtime_ms.desc(), d.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [(int(ms), str(i)) for ms, i in conn.execute(q)]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(SearchDocRow)).scalar_one())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM search_docs LIMIT 1"))
            return True
        except Exception:
            return False

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(SearchTokenRow))
            conn.execute(delete(SearchDocRow))

    def refresh(self) -> None:
        return None
