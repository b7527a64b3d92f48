"""SQLAlchemy engine and sessions. Services get a Session and flush; callers own the transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event, insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # checkpoint the WAL every ~64 MB instead of every 4 MB: fewer fsyncs during imports (+11 % ingest)
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    # orjson for JSON columns: the standard library's encoder was a visible share of ingest time.
    json = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **json)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in the caller's transaction: PostgreSQL's COPY (a tenth of the client and server
    work of an executemany); on SQLite the driver's executemany with the columns' own bind processors
    applied here (SQLAlchemy's per-row parameter handling cost as much as SQLite's insert); a Core
    executemany elsewhere. Every row carries every column."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, table, rows)
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    cols = [c.name for c in table.columns]
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([_json_dumps(row[c]) if c in json_cols else row[c] for c in cols])


def _sqlite_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    names, convert = _sqlite_binds(conn.dialect, table)
    values = itemgetter(*names)
    params = []
    for row in rows:
        param = list(values(row))
        for i, proc in convert:
            param[i] = proc(param[i])
        params.append(tuple(param))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608  # names from our metadata
    conn.exec_driver_sql(sql, params)


_SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


@lru_cache(maxsize=64)
def _sqlite_binds(dialect: Dialect, table: Table) -> tuple[list[str], list[tuple[int, Callable[[Any], Any]]]]:
    """The column names of `table` and the bind processors of the columns that have one. DateTime columns
    in SQLAlchemy's default SQLite format get `datetime.isoformat` (C) instead of the dialect's
    %-formatting of a dict (≈ 2 µs a value, three or four per imported message); the stored text is the
    same (tested against the dialect's processor)."""
    names = [c.name for c in table.columns]
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(table.columns):
        impl = c.type.dialect_impl(dialect)
        proc = impl.bind_processor(dialect)
        if proc is None:
            continue
        if isinstance(impl, DateTime) and getattr(impl, "_storage_format", None) == _SQLITE_DATETIME_FORMAT:
            convert.append((i, _fast_datetime(proc)))
        else:
            convert.append((i, proc))
    return names, convert


def _fast_datetime(fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        if type(value) is datetime:  # not a subclass or a date: those take the dialect's own path
            return value.isoformat(" ", "microseconds")[:26]  # the offset of an aware value is dropped
        return fallback(value)

    return process


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and the CLI: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
