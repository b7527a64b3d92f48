"""The access-audit log: append-only and hash-chained, so an edited, deleted or reordered entry is found by
`verify_chain`; given the anchors kept outside the database (audit.anchors), so are entries cut off the end
and a chain edited and hashed again."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from archive.kit.timeutil import aware, utcnow
from archive.store.models import AccessAudit

if TYPE_CHECKING:
    from audit.anchors import Anchor

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
    anchors: int = 0  # anchors the chain was held against


def verify_chain(session: Session, batch: int = 5000, anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk the chain from the first entry. With `anchors` (audit.anchors.read_anchors), each anchored
    entry must still be there with the anchored hash, and the log must reach the newest anchor."""
    pinned = {a.entry_id: a for a in anchors}
    order = sorted(pinned)  # anchored entry ids; order[k] is the next one the walk must meet
    k = 0
    prev = GENESIS
    count = 0
    last_id = 0

    def broken(entry_id: int, problem: str) -> ChainReport:
        return ChainReport(count, False, entry_id, problem, len(pinned))

    while True:
        rows = (
            session.execute(
                select(AccessAudit).where(AccessAudit.id > last_id).order_by(AccessAudit.id).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            if k < len(order) and order[k] < row.id:
                return broken(order[k], f"the anchored entry is missing ({_anchored(pinned[order[k]])})")
            if row.prev_hash != prev:
                return broken(row.id, "entry does not follow its predecessor")
            if _digest(prev, row) != row.hash:
                return broken(row.id, "entry content does not match its hash")
            if k < len(order) and order[k] == row.id:
                anchor = pinned[row.id]
                if anchor.hash != row.hash:
                    return broken(
                        row.id,
                        f"entry is not the one anchored ({_anchored(anchor)}): the log up to it was rewritten",
                    )
                k += 1
            prev = row.hash
            count += 1
            last_id = row.id
    if k < len(order):
        newest = order[-1]
        return broken(
            newest,
            f"the log ends at entry {last_id} but reached entry {newest} ({_anchored(pinned[newest])}): "
            "entries were removed from its end",
        )
    return ChainReport(entries=count, ok=True, anchors=len(pinned))


def _anchored(anchor: Anchor) -> str:
    return f"anchored {anchor.at:%Y-%m-%d %H:%M:%S} UTC"
