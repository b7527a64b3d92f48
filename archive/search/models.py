"""Tables of the `sql` search backend: document metadata and the inverted table of blind tokens.

Postings are (token, docno) pairs of two integers in a clustered (WITHOUT ROWID on SQLite) primary key:
a blind token is 64 bits, stored as a signed BIGINT, and documents get a small integer surrogate, so a
posting costs ~20 bytes instead of ~80 with hex strings and 32-character ids."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.store.db import Base

DocNo = BigInteger().with_variant(Integer, "sqlite")


class SearchDocRow(Base):
    __tablename__ = "search_docs"
    __table_args__ = (Index("ix_search_docs_time", "msgtime_ms", "id"),)
    docno: Mapped[int] = mapped_column(DocNo, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    msgtime_ms: Mapped[int] = mapped_column(BigInteger)
    room_id: Mapped[int] = mapped_column(Integer, index=True)
    sender: Mapped[str] = mapped_column(String(128), index=True)
    msgtype: Mapped[str] = mapped_column(String(40))
    employee_id: Mapped[int | None] = mapped_column(Integer, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(Integer, index=True)
    risk_labels: Mapped[str] = mapped_column(String(256), default="")  # "|label|label|" for LIKE filters
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)


class SearchTokenRow(Base):
    __tablename__ = "search_tokens"
    __table_args__ = (Index("ix_search_tokens_docno", "docno"), {"sqlite_with_rowid": False})
    token: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    docno: Mapped[int] = mapped_column(DocNo, primary_key=True, autoincrement=False)
