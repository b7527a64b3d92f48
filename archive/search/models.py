"""Tables of the `sql` search backend: document metadata and the inverted table of blind tokens."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.store.db import Base


class SearchDocRow(Base):
    __tablename__ = "search_docs"
    __table_args__ = (Index("ix_search_docs_time", "msgtime_ms", "id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
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
    __table_args__ = (Index("ix_search_tokens_doc", "doc_id"),)
    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(32), primary_key=True)
