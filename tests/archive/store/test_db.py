"""archive/store/db.py: bulk_insert stores exactly what a Core insert stores (SQLite's driver-level
executemany with the columns' bind processors; PostgreSQL's COPY); the migrations make the models' schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.store.db import bulk_insert


def test_bulk_insert_stores_what_a_core_insert_stores(db: sessionmaker[Session]) -> None:
    meta = MetaData()
    cols = lambda: [  # noqa: E731
        Column("id", Integer, primary_key=True),
        Column("name", String(20)),
        Column("at", DateTime(timezone=True)),
        Column("flag", Boolean),
        Column("labels", JSON),
        Column("blob", LargeBinary),
    ]
    core, bulk = Table("t_core", meta, *cols()), Table("t_bulk", meta, *cols())
    rows = [
        {"id": 1, "name": "张三", "at": datetime(2026, 11, 23, 8, 30, 1, 5, tzinfo=UTC), "flag": True,
         "labels": ["side_dealing", "pii"], "blob": b"\x00\xff"},
        {"id": 2, "name": None, "at": None, "flag": False, "labels": [], "blob": None},
        {"id": 3, "name": "", "at": datetime(1999, 1, 1, tzinfo=UTC), "flag": None, "labels": {"k": 1},
         "blob": b""},
    ]  # fmt: skip
    with db() as s:
        conn = s.connection()
        meta.create_all(conn)
        conn.execute(insert(core), rows)
        columns = ["blob", "labels", "flag", "at", "name", "id"]  # any order
        bulk_insert(conn, bulk, columns, [[row[c] for c in columns] for row in rows])
        read = lambda t: [tuple(r) for r in conn.execute(t.select().order_by(t.c.id))]  # noqa: E731
        assert read(bulk) == read(core)
        raw = lambda name: conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY id").all()  # noqa: E731
        assert raw("t_bulk") == raw("t_core")  # the same stored form, not only the same values read back
        s.rollback()


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.dates(),
        st.datetimes(),
        st.datetimes(timezones=st.timezones()),
    )
)
def test_the_fast_sqlite_datetime_binding_equals_the_dialects(value: date | datetime | None) -> None:
    """bulk_insert formats SQLite DateTime values with isoformat; the stored text must be the dialect's."""
    from sqlalchemy.dialects import sqlite

    from archive.store.db import _sqlite_binds

    dialect = sqlite.dialect()
    table = Table("t", MetaData(), Column("at", DateTime(timezone=True)), Column("naive", DateTime()))
    convert = _sqlite_binds(dialect, table, ("at", "naive"))
    assert [i for i, _ in convert] == [0, 1]
    other = datetime(2001, 2, 3, 4, 5, 6, 7)
    for i, fast in convert:
        assert fast.__qualname__.startswith("_fast_datetimes"), "the fast path is in use"
        proc = table.columns[i].type.dialect_impl(dialect).bind_processor(dialect)
        assert proc is not None
        # a column as the importer has it: a shared object repeated, other values between, None
        column = [value, value, other, value, None, other, other]
        assert fast(column) == [proc(v) for v in column]


def test_bulk_insert_needs_every_column_once(db: sessionmaker[Session]) -> None:
    table = Table("t_cols", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(20)))
    with db() as s:
        conn = s.connection()
        table.create(conn)
        for columns in (["id"], ["id", "name", "name"], ["id", "nom"]):
            with pytest.raises(ValueError, match="every column once"):
                bulk_insert(conn, table, columns, [])
        s.rollback()


def _models_diff(engine: Engine) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from archive.store.db import Base

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # the GIN index is PostgreSQL's only (ddl_if): SQLite's migrations rightly lack it
    return [
        d
        for d in diff
        if not (
            engine.dialect.name == "sqlite" and d[0] == "add_index" and d[1].name == "ix_search_index_tokens"
        )
    ]


def test_the_migrations_make_the_models_schema(db: sessionmaker[Session]) -> None:
    engine = db.kw["bind"]
    assert _models_diff(engine) == []
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("messages")}
    assert {"ix_messages_sender", "ix_messages_customer_id", "ix_messages_department_id"}.isdisjoint(indexes)
    assert {"ix_messages_employee_id", "ix_messages_msgtime", "ix_messages_room_time"} <= indexes


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    from archive.migrate import alembic_config

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_0003_downgrades_to_the_indexes_it_dropped(db: sessionmaker[Session]) -> None:
    from archive.migrate import upgrade

    engine = db.kw["bind"]
    _downgrade(engine, "0002")
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("messages")}
    assert {"ix_messages_sender", "ix_messages_customer_id", "ix_messages_department_id"} <= indexes
    upgrade(engine)
    assert _models_diff(engine) == []


def _recall_index(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_messages_recall_of_msgid'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_recall_of_msgid'"
        return str(conn.exec_driver_sql(sql).scalar_one())


def test_the_recall_index_holds_only_recalls_and_serves_the_early_recall_lookup(
    db: sessionmaker[Session],
) -> None:
    from archive.ingest.pipeline import _EARLY_RECALLS

    engine = db.kw["bind"]
    assert "recall_of_msgid IS NOT NULL" in _recall_index(engine)
    if engine.dialect.name == "sqlite":
        query = _EARLY_RECALLS.params(ids=["a", "b"]).compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
        assert any("ix_messages_recall_of_msgid" in str(row) for row in plan), plan


def test_migration_0004_downgrades_to_the_full_recall_index(db: sessionmaker[Session]) -> None:
    from archive.migrate import upgrade

    engine = db.kw["bind"]
    _downgrade(engine, "0003")
    assert "NOT NULL" not in _recall_index(engine)
    upgrade(engine)
    assert "recall_of_msgid IS NOT NULL" in _recall_index(engine)
    assert _models_diff(engine) == []
