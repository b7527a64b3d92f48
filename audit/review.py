"""What auditors do with the access log: read it (filtered, newest first, paged by entry id) and check it
against its anchors. Both need `read_audit`, and both are logged themselves (who looked at the log is
part of the log)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from archive.kit.errors import InvalidInput
from archive.store.blobs import BlobStore
from archive.store.models import AccessAudit
from audit import log
from audit.access import require
from audit.anchors import AnchorProblem, read_anchors
from audit.principal import Action, Principal

MAX_PAGE = 500


@dataclass(frozen=True)
class EntryFilters:
    actor: str | None = None
    action: str | None = None
    target_id: str | None = None  # a message (or other record) id among the entry's targets
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in self.__dict__.items()
            if v is not None
        }


def entries(
    session: Session,
    caller: Principal,
    filters: EntryFilters,
    *,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AccessAudit]:
    """Entries matching every filter, newest first; the next page starts below the last id returned."""
    require(caller, Action.READ_AUDIT)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until")
    q = select(AccessAudit).order_by(AccessAudit.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(AccessAudit.id < before_id)
    if filters.actor is not None:
        q = q.where(AccessAudit.actor == filters.actor)
    if filters.action is not None:
        q = q.where(AccessAudit.action == filters.action)
    if filters.since is not None:
        q = q.where(AccessAudit.at >= filters.since)
    if filters.until is not None:
        q = q.where(AccessAudit.at < filters.until)
    if filters.target_id is not None:
        # target_ids is a JSON list of ids: match the quoted element in its text (both databases store
        # it as compact JSON text); the id's own % and _ are escaped.
        q = q.where(cast(AccessAudit.target_ids, String).contains(f'"{filters.target_id}"', autoescape=True))
    rows = list(session.execute(q).scalars())
    log.append(
        session,
        actor=caller.username,
        action="audit.read",
        detail={"filters": filters.as_dict(), "before_id": before_id, "returned": len(rows)},
    )
    return rows


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    anchors: int
    first_bad_id: int | None
    problem: str
    forged_anchors: list[AnchorProblem]


def verify(session: Session, caller: Principal, blobs: BlobStore, anchor_key: bytes) -> Verification:
    """Re-hash the whole log and hold it against every authentic anchor; any anchor object that is not
    authentic fails the check too."""
    require(caller, Action.READ_AUDIT)
    found, forged = read_anchors(blobs, anchor_key)
    report = log.verify_chain(session, anchors=found)
    result = Verification(
        ok=report.ok and not forged,
        entries=report.entries,
        anchors=report.anchors,
        first_bad_id=report.first_bad_id,
        problem=report.problem,
        forged_anchors=forged,
    )
    log.append(
        session,
        actor=caller.username,
        action="audit.verify",
        detail={"ok": result.ok, "entries": result.entries, "anchors": result.anchors},
    )
    return result


__all__ = ["MAX_PAGE", "EntryFilters", "Verification", "entries", "verify"]
