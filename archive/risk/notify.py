"""Delivers alert notifications from the outbox (topic "notify") to a webhook — retried with exponential
backoff — and optionally by SMTP. Payloads carry ids and categories, never message content."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.settings import Settings
from archive.kit.timeutil import utcnow
from archive.store.models import OutboxEvent

TOPIC = "notify"
MAX_ATTEMPTS = 12


def _send_webhook(settings: Settings, payload: dict[str, Any]) -> None:
    resp = httpx.post(settings.notify_webhook_url, json={"event": "chatvault.alert", **payload}, timeout=10.0)
    resp.raise_for_status()


def _send_mail(settings: Settings, payload: dict[str, Any]) -> None:
    msg = EmailMessage()
    msg["Subject"] = f"[ChatVault] tier {payload['tier']} {payload['category']} alert {payload['alert_id']}"
    msg["From"] = settings.smtp_from
    msg["To"] = settings.smtp_to
    msg.set_content(
        f"A tier {payload['tier']} {payload['category']} alert ({payload['rule']}) was raised for room "
        f"{payload['room_id']}. Review it in the ChatVault console: alert {payload['alert_id']}."
    )
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


def deliver_pending(sessions: sessionmaker[Session], settings: Settings, limit: int = 100) -> tuple[int, int]:
    """Try every due notification once. Returns (delivered, failed)."""
    delivered = failed = 0
    with sessions() as session:
        now = utcnow()
        events = (
            session.execute(
                select(OutboxEvent)
                .where(
                    OutboxEvent.topic == TOPIC,
                    OutboxEvent.done_at.is_(None),
                    OutboxEvent.attempts < MAX_ATTEMPTS,
                    or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now),
                )
                .order_by(OutboxEvent.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for event in events:
            try:
                if settings.notify_webhook_url:
                    _send_webhook(settings, event.payload)
                if settings.smtp_host:
                    _send_mail(settings, event.payload)
            except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
                event.attempts += 1
                event.next_attempt_at = now + timedelta(seconds=min(3600, 2**event.attempts))
                event.last_error = type(exc).__name__
                failed += 1
                continue
            event.attempts += 1
            event.done_at = now
            delivered += 1
        session.commit()
    return delivered, failed
