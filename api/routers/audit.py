"""The access log for auditors: entries (filtered, newest first, paged by id) and its verification
against the anchors in the blob store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import CallerDep, RuntimeDep, SessionDep
from audit import review

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    target_ids: list[str]
    query: str | None
    detail: dict[str, Any]
    hash: str


class EntriesPage(BaseModel):
    entries: list[EntryRead]
    next_before_id: int | None  # pass as before_id for the next (older) page; None: no more


class ForgedAnchor(BaseModel):
    key: str
    problem: str


class VerificationRead(BaseModel):
    ok: bool
    entries: int
    anchors: int
    first_bad_id: int | None
    problem: str
    forged_anchors: list[ForgedAnchor]


@router.get("/entries")
def list_entries(
    session: SessionDep,
    caller: CallerDep,
    actor: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=review.MAX_PAGE)] = 100,
) -> EntriesPage:
    filters = review.EntryFilters(actor, action, target_id, since, until)
    rows = review.entries(session, caller, filters, before_id=before_id, limit=limit)
    return EntriesPage(
        entries=[EntryRead.model_validate(r) for r in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/verify")
def verify(session: SessionDep, caller: CallerDep, rt: RuntimeDep) -> VerificationRead:
    v = review.verify(session, caller, rt.blobs, rt.audit_anchor_key)
    return VerificationRead(
        ok=v.ok,
        entries=v.entries,
        anchors=v.anchors,
        first_bad_id=v.first_bad_id,
        problem=v.problem,
        forged_anchors=[ForgedAnchor(key=f.key, problem=f.problem) for f in v.forged_anchors],
    )
