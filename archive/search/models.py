"""The table of the `sql` search backend: one row per message with its plain metadata and its blind tokens.

The tokens are indexed by the database's own inverted index, not by a (token, doc) table: SQLite's FTS5
(an external-content table over `tokens`, created by `SqlBackend.ensure_ready`) and PostgreSQL's GIN over
a bigint array. Both write in segments, so indexing stays fast as the archive grows (measurements in
sql_backend.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from archive.store.db import Base

FTS_TABLE = "search_index_fts"  # SQLite only; not in the metadata (Alembic cannot describe a virtual table)


class SearchDocRow(Base):
    __tablename__ = "search_index"

    # Integer key: SQLite's rowid alias (the FTS5 rowid of the document), an identity column on PostgreSQL.
    docno: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # Byte order on PostgreSQL whatever the database's collation, as on SQLite and in OpenSearch's sort.
    id: Mapped[str] = mapped_column(
        String(32).with_variant(String(32, collation="C"), "postgresql"), unique=True
    )
    msgtime_ms: Mapped[int] = mapped_column(BigInteger)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    sender: Mapped[str] = mapped_column(String(128), index=True)
    msgtype: Mapped[str] = mapped_column(String(40))
    employee_id: Mapped[int | None] = mapped_column(Integer, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(Integer, index=True)
    risk_labels: Mapped[str] = mapped_column(String(256), default="")  # "|label|label|" for LIKE filters
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)
    # SQLite: the blind tokens separated by spaces (FTS5's content); PostgreSQL: the tokens as int64.
    tokens: Mapped[Any] = mapped_column(Text().with_variant(postgresql.ARRAY(BigInteger), "postgresql"))

    __table_args__ = (
        Index("ix_search_index_time", "msgtime_ms", "id"),
        Index("ix_search_index_tokens", "tokens", postgresql_using="gin").ddl_if(dialect="postgresql"),
    )
