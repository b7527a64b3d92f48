"""Risk tables: alerts (deduplicated per room, rule and time window), their history, the lexicon
versions admins edit, and per-room conversation signals (derived, never plaintext)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.kit.ids import new_id
from archive.kit.timeutil import utcnow
from archive.store.db import Base
from archive.store.models import TZ


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_dedupe", "room_id", "rule", "status"),
        Index("ix_alerts_queue", "status", "tier", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(128))
    tier: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(128))
    message_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    hits: Mapped[int] = mapped_column(Integer, default=1)
    window_start: Mapped[datetime] = mapped_column(TZ)
    window_end: Mapped[datetime] = mapped_column(TZ)
    complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)


class AlertEvent(Base):
    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class LexiconVersion(Base):
    """Every lexicon change is a new version row (who, when, what); the newest one is active."""

    __tablename__ = "lexicon_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    change: Mapped[str] = mapped_column(String(256))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class RoomRiskState(Base):
    """The conversation scorer's per-room window as derived signals (JSON), so scoring a new message
    never decrypts history."""

    __tablename__ = "room_risk_state"
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow, onupdate=utcnow)
