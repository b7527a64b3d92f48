"""Alembic environment: one metadata for every domain's tables; the connection is passed in by migrate.py."""

from __future__ import annotations

from alembic import context

import archive.all_models  # noqa: F401  (registers every table on Base.metadata)
from archive.store.db import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """SQLite's FTS5 shadow tables for the search index are made at run time; Alembic cannot describe them."""
    return not (type_ == "table" and name is not None and name.startswith("search_index_fts"))


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Skip objects meant for another dialect (the PostgreSQL-only GIN index when comparing on SQLite)."""
    ddl_if = getattr(obj, "_ddl_if", None)
    dialect = getattr(ddl_if, "dialect", None)
    current = context.get_context().dialect.name if context.get_context() is not None else None
    return dialect is None or current is None or dialect == current


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            context.configure(
                connection=conn,
                target_metadata=target_metadata,
                render_as_batch=True,
                include_name=include_name,
                include_object=include_object,
            )
            context.run_migrations()
        return
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=include_name,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
