"""The one access path for message content. Every read — API, CLI, export — comes through
`read_content`, which checks role and scope, decrypts, masks by role, watermarks and writes the
access-audit entry, so no caller can forget one of the four."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.kit.errors import Forbidden, NotFound
from archive.kit.timeutil import aware, to_millis, utcnow
from archive.store.models import Department, Message
from archive.store.records import RecordReader
from audit import log
from audit.masking import mask_pii
from audit.principal import Action, Principal


@dataclass(frozen=True)
class ContentView:
    id: str
    msgid: str
    source: str
    room_id: int
    sender: str
    msgtime_ms: int
    msgtype: str
    action: str
    recalled: bool
    recalled_at_ms: int | None
    text: str
    record: dict[str, Any]
    risk_labels: list[str]
    watermark: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "msgid": self.msgid,
            "source": self.source,
            "room_id": self.room_id,
            "sender": self.sender,
            "msgtime": self.msgtime_ms,
            "msgtype": self.msgtype,
            "action": self.action,
            "recalled": self.recalled,
            "recalled_at": self.recalled_at_ms,
            "text": self.text,
            "record": self.record,
            "risk_labels": self.risk_labels,
            "watermark": self.watermark,
        }


def require(caller: Principal, action: Action) -> None:
    if not caller.can(action):
        raise Forbidden(f"{caller.username} may not {action.value}")


def department_subtree(session: Session, root_ids: Sequence[int]) -> tuple[int, ...]:
    rows = session.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for did, parent in rows:
        children.setdefault(parent, []).append(did)
    seen: set[int] = set()
    stack = list(root_ids)
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(children.get(d, []))
    return tuple(sorted(seen))


def in_scope(caller: Principal, msg: Message, departments: frozenset[int] = frozenset()) -> bool:
    """departments: the caller's department subtree (a manager's scope)."""
    if caller.sees_all:
        return True
    if msg.department_id is not None and msg.department_id in departments:
        return True
    return caller.employee_id is not None and msg.employee_id == caller.employee_id


def _mask_obj(obj: Any) -> Any:
    if isinstance(obj, str):
        return mask_pii(obj)
    if isinstance(obj, list):
        return [_mask_obj(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _mask_obj(v) for k, v in obj.items()}
    return obj


def record_text(source: str, record: dict[str, Any]) -> str:
    """The searchable text of a stored record (same extraction as at ingest)."""
    from archive.ingest.generic import parse_generic
    from archive.ingest.records import InvalidRecord
    from archive.ingest.wecom import parse_wecom

    try:
        return parse_wecom(record).text if source == "wecom" else parse_generic(record).text
    except InvalidRecord:
        return ""


def read_content(
    session: Session,
    reader: RecordReader,
    caller: Principal,
    messages: Sequence[Message],
    *,
    purpose: str,
    query: str | None = None,
    keep: Callable[[str], bool] | None = None,
    detail: dict[str, Any] | None = None,
) -> list[ContentView]:
    """Decrypt, filter (keep: the exact-match check of a search), mask, watermark and audit.

    Messages outside the caller's scope are dropped silently for searches and refused for direct reads
    (purpose "read")."""
    require(caller, Action.READ_CONTENT)
    subtree = (
        frozenset(department_subtree(session, caller.scope_department_ids))
        if caller.scope_department_ids is not None
        else frozenset()
    )
    allowed = [m for m in messages if in_scope(caller, m, subtree)]
    if purpose == "read" and len(allowed) < len(messages):
        raise Forbidden("message is outside your data scope")
    now = utcnow()
    mark = f"{caller.username} {now:%Y-%m-%d %H:%M:%SZ}"
    views: list[ContentView] = []
    for msg, plain in reader.open_many(allowed):
        record = orjson.loads(plain)
        text = record_text(msg.source, record)
        if keep is not None and not keep(text):
            continue
        if caller.masked:
            text, record = mask_pii(text), _mask_obj(record)
        views.append(
            ContentView(
                id=msg.id,
                msgid=msg.source_msgid,
                source=msg.source,
                room_id=msg.room_id,
                sender=msg.sender,
                msgtime_ms=to_millis(aware(msg.msgtime)),
                msgtype=msg.msgtype,
                action=msg.action,
                recalled=msg.recalled,
                recalled_at_ms=to_millis(aware(msg.recalled_at)) if msg.recalled_at else None,
                text=text,
                record=record,
                risk_labels=list(msg.risk_labels or []),
                watermark=mark,
            )
        )
    order = {m.id: i for i, m in enumerate(allowed)}
    views.sort(key=lambda v: order[v.id])
    log.append(
        session,
        actor=caller.username,
        action=f"content.{purpose}",
        target_ids=[v.id for v in views],
        query=query,
        detail={"masked": caller.masked, **(detail or {})},
    )
    return views


def read_one(session: Session, reader: RecordReader, caller: Principal, message_id: str) -> ContentView:
    msg = session.get(Message, message_id)
    if msg is None:
        raise NotFound(f"message {message_id} not found")
    return read_content(session, reader, caller, [msg], purpose="read")[0]
