"""SQLAlchemy engine and sessions. Services get a Session and flush; callers own the transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
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


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows in the caller's transaction, each a sequence of values in `columns` order (every
    column of the table): PostgreSQL's COPY (a tenth of the client and server work of an executemany);
    on SQLite the driver's executemany with the columns' own bind processors applied here (SQLAlchemy's
    per-row parameter handling cost as much as SQLite's insert); a Core executemany elsewhere."""
    columns = tuple(columns)
    if set(columns) != set(table.columns.keys()) or len(columns) != len(table.columns):
        raise ValueError(f"bulk_insert into {table.name} needs every column once")
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        # Converted a column at a time (transposed with zip, in C), not a row at a time: no per-row copy,
        # and the datetime columns in a loop without a call per value (3.5 → 3.0 µs a messages row).
        convert = _sqlite_binds(conn.dialect, table, columns)
        params: list[tuple[Any, ...]]  # the driver takes tuples
        if convert:
            cols: list[Any] = list(zip(*rows, strict=True))
            for i, proc in convert:
                cols[i] = proc(cols[i])
            params = list(zip(*cols, strict=True))
        else:
            params = [row if type(row) is tuple else tuple(row) for row in rows]
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608  # names from our metadata
        conn.exec_driver_sql(sql, params)  # a list of rows: executemany
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    json_at = [i for i, c in enumerate(columns) if isinstance(table.columns[c].type, JSON)]
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
        for row in rows:
            if json_at:
                row = list(row)
                for i in json_at:
                    row[i] = _json_dumps(row[i])
            copy.write_row(row)


_SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


ColumnConverter = Callable[[Sequence[Any]], list[Any]]


@lru_cache(maxsize=64)
def _sqlite_binds(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> list[tuple[int, ColumnConverter]]:
    """Converters of whole columns, by position, for the `columns` of `table` that have a bind processor.
    DateTime columns in SQLAlchemy's default SQLite format get `datetime.isoformat` (C) in one loop
    instead of the dialect's %-formatting of a dict (≈ 2 µs a value, three or four per imported message);
    the stored text is the same (tested against the dialect's processor)."""
    convert: list[tuple[int, ColumnConverter]] = []
    for i, name in enumerate(columns):
        impl = table.columns[name].type.dialect_impl(dialect)
        proc = impl.bind_processor(dialect)
        if proc is None:
            continue
        if isinstance(impl, DateTime) and getattr(impl, "_storage_format", None) == _SQLITE_DATETIME_FORMAT:
            convert.append((i, _fast_datetimes(proc)))
        else:
            convert.append((i, _each(proc)))
    return convert


def _each(proc: Callable[[Any], Any]) -> ColumnConverter:
    def convert(values: Sequence[Any]) -> list[Any]:
        return list(map(proc, values))

    return convert


def _fast_datetimes(fallback: Callable[[Any], Any]) -> ColumnConverter:
    def convert(values: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        last: Any = None
        text = ""
        for value in values:
            if value is None:
                out.append(None)
            elif value is last:  # (datetimes are immutable: the same object has the same text)
                out.append(text)
            elif type(value) is datetime:  # not a subclass or a date: those take the dialect's own path
                last, text = (
                    value,
                    value.isoformat(" ", "microseconds")[:26],
                )  # an aware value's offset dropped
                out.append(text)
            else:
                out.append(fallback(value))
        return out

    return convert


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
