"""Ingest tables: the quarantine of rejected input (raw bytes kept encrypted like any message)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
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


class MediaObject(Base):
    """One media file a message references (image, voice, video, file, emotion…), encrypted like a
    message. status: stored | missing (retry later) | quarantined (md5 or size mismatch, never served)."""

    __tablename__ = "media_objects"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    sdkfileid: Mapped[str] = mapped_column(Text)
    sdkfileid_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str | None] = mapped_column(String(512))
    expected_md5: Mapped[str | None] = mapped_column(String(32))
    expected_size: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="missing", index=True)
    problem: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    blob_key: Mapped[str | None] = mapped_column(String(256))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(32))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)
