"""The access-audit log: append-only and hash-chained, so an edited, deleted, reordered or truncated entry
is found by `verify_chain`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from archive.kit.timeutil import aware, utcnow
from archive.store.models import AccessAudit

GENESIS = "0" * 64


def _digest(prev_hash: str, row: AccessAudit) -> str:
    body = orjson.dumps(
        {
            "at": aware(row.at).isoformat(),
            "actor": row.actor,
            "action": row.action,
            "target_ids": list(row.target_ids),
            "query": row.query,
            "detail": row.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target_ids: Sequence[str] = (),
    query: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AccessAudit:
    """Append one entry in the caller's transaction (the entry commits or rolls back with the access)."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appenders so the chain has one head.
        session.execute(text("SELECT pg_advisory_xact_lock(771001)"))
    last = session.execute(select(AccessAudit.hash).order_by(AccessAudit.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    row = AccessAudit(
        at=utcnow(),
        actor=actor,
        action=action,
        target_ids=list(target_ids),
        query=query,
        detail=detail or {},
        prev_hash=prev,
    )
    row.hash = _digest(prev, row)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AccessAudit).where(AccessAudit.id > last_id).order_by(AccessAudit.id).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return ChainReport(entries=count, ok=True)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(count, False, row.id, "entry does not follow its predecessor")
            if _digest(prev, row) != row.hash:
                return ChainReport(count, False, row.id, "entry content does not match its hash")
            prev = row.hash
            count += 1
            last_id = row.id
