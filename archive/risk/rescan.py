"""Re-scan archived messages after a lexicon change: decrypt in batches, re-run the analyser, update each
message's labels, raise alerts for new findings (deduplicated like ingest) and re-index changed messages.
Streaming: one batch of messages in memory at a time, committed per batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import func, select

from archive.risk.service import Origin, record_findings
from archive.runtime import Runtime
from archive.store.models import Message, OutboxEvent
from archive.store.records import RecordReader
from audit.access import record_text


@dataclass
class RescanSummary:
    scanned: int = 0
    changed: int = 0
    alerts: int = 0


def count_since(rt: Runtime, since: datetime) -> int:
    with rt.sessions() as session:
        return int(
            session.execute(
                select(func.count()).select_from(Message).where(Message.msgtime >= since)
            ).scalar_one()
        )


def rescan(
    rt: Runtime, since: datetime, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> RescanSummary:
    rt.refresh_lexicon()
    analyzer = rt.analyzer
    reader = RecordReader(rt.blobs, rt.envelope)
    out = RescanSummary()
    last: tuple[datetime, str] | None = None
    while True:
        with rt.sessions() as session:
            q = select(Message).where(Message.msgtime >= since, Message.wrapped_key.is_not(None))
            if last is not None:
                q = q.where(
                    (Message.msgtime > last[0]) | ((Message.msgtime == last[0]) & (Message.id > last[1]))
                )
            msgs = list(session.execute(q.order_by(Message.msgtime, Message.id).limit(batch)).scalars())
            if not msgs:
                return out
            changed_ids = []
            for msg, plain in reader.open_many(msgs):
                if msg.action != "send":
                    continue
                text = record_text(msg.source, orjson.loads(plain))
                role = "customer" if msg.sender_kind == "customer" else "employee"
                result = analyzer.scan_message(text, role) if text else None
                labels = sorted(result.labels) if result else []
                if labels != sorted(msg.risk_labels or []):
                    msg.risk_labels = labels
                    changed_ids.append(msg.id)
                if result and result.findings:
                    origin = Origin(msg.room_id, msg.employee_id, msg.department_id, (msg.id,), msg.msgtime)
                    out.alerts += len(record_findings(session, origin, result.findings))
            if changed_ids:
                session.add(OutboxEvent(topic="index", payload={"ids": changed_ids}))
            session.commit()
            out.scanned += len(msgs)
            out.changed += len(changed_ids)
            last = (msgs[-1].msgtime, msgs[-1].id)
            if progress is not None:
                progress(out.scanned)
