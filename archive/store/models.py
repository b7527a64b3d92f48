"""Core tables: the customer / employee / room core, messages, accounts, outbox and access audit.

Domain-specific tables (risk alerts, retention, quarantine…) live in their domain's models.py and share
this Base, so Alembic sees one metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from archive.kit.ids import new_id
from archive.kit.timeutil import utcnow
from archive.store.db import Base

TZ = DateTime(timezone=True)


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wecom_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    userid: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | departed | frozen
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)  # wo… / wm…
    name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(32), default="wecom")
    consent_state: Mapped[str | None] = mapped_column(String(16))  # agree | disagree
    consent_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("source", "source_room_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_room_id: Mapped[str] = mapped_column(String(256))  # wr… for groups, sorted pair key for 1:1
    kind: Mapped[str] = mapped_column(String(8))  # single | group
    title: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class RoomMember(Base):
    __tablename__ = "room_members"
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="employee")  # employee | customer | robot


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source", "source_msgid"),
        Index("ix_messages_room_time", "room_id", "msgtime"),
        # only recalls have recall_of_msgid: the other rows stay out of its index (migration 0004)
        Index(
            "ix_messages_recall_of_msgid",
            "recall_of_msgid",
            sqlite_where=sql_text("recall_of_msgid IS NOT NULL"),
            postgresql_where=sql_text("recall_of_msgid IS NOT NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(32))
    source_msgid: Mapped[str] = mapped_column(String(256))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    # sender, customer_id and department_id are not indexed: no query reads messages by them (0003)
    sender: Mapped[str] = mapped_column(String(128))
    sender_kind: Mapped[str] = mapped_column(String(12), default="employee")
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    msgtime: Mapped[datetime] = mapped_column(TZ, index=True)
    msgtype: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(16), default="send")
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)
    recalled_at: Mapped[datetime | None] = mapped_column(TZ)
    recalled_by_msgid: Mapped[str | None] = mapped_column(String(256))
    recall_of_msgid: Mapped[str | None] = mapped_column(String(256))
    blob_key: Mapped[str] = mapped_column(String(256))
    blob_offset: Mapped[int] = mapped_column(BigInteger)
    blob_length: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once crypto-shredded
    key_id: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str] = mapped_column(String(64))
    media_status: Mapped[str | None] = mapped_column(String(16))  # ok | missing | quarantined
    risk_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class UserAccount(Base):
    __tablename__ = "user_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    scope_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0)  # bump to revoke all sessions
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class OutboxEvent(Base):
    """Work that must happen after commit (index push, notifications), written in the same transaction."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "topic", "done_at", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZ)
    done_at: Mapped[datetime | None] = mapped_column(TZ)
    last_error: Mapped[str | None] = mapped_column(Text)


class AccessAudit(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous row's hash."""

    __tablename__ = "access_audit"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(TZ, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(48))
    target_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    query: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class IngestCheckpoint(Base):
    """Last committed position of a source, written in the same transaction as the batch it covers."""

    __tablename__ = "ingest_checkpoints"
    source_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    line_no: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class Segment(Base):
    """One blob object holding many separately encrypted records; its hash lets `verify` find tampering."""

    __tablename__ = "segments"
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
