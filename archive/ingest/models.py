"""Ingest tables: the quarantine of rejected input (raw bytes kept encrypted like any message)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.kit.ids import new_id
from archive.kit.timeutil import utcnow
from archive.store.db import Base
from archive.store.models import TZ


class QuarantineEntry(Base):
    __tablename__ = "quarantine"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(String(1024))
    line_no: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(128), index=True)
    msgid: Mapped[str | None] = mapped_column(String(256))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(256))
    blob_offset: Mapped[int] = mapped_column(BigInteger)
    blob_length: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | retried | discarded
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
