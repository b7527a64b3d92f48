"""Search and read archived messages. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CallerDep, RuntimeDep, SessionDep
from archive.search.backend import SearchFilters
from archive.search.service import decode_cursor, encode_cursor, search
from archive.store.records import RecordReader
from audit.access import read_one

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.get("/search")
def search_route(
    session: SessionDep,
    rt: RuntimeDep,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    since: Annotated[int | None, Query(description="epoch ms")] = None,
    until: Annotated[int | None, Query(description="epoch ms")] = None,
    room_id: int | None = None,
    sender: str | None = None,
    msgtype: str | None = None,
    risk_label: str | None = None,
) -> dict[str, Any]:
    filters = SearchFilters(
        since_ms=since,
        until_ms=until,
        room_ids=(room_id,) if room_id is not None else None,
        senders=(sender,) if sender else None,
        msgtypes=(msgtype,) if msgtype else None,
        risk_labels=(risk_label,) if risk_label else None,
    )
    page = search(session, rt, caller, q, filters, limit=limit, cursor=decode_cursor(cursor))
    return {"hits": [h.as_dict() for h in page.hits], "next_cursor": encode_cursor(page.next_cursor)}


@router.get("/messages/{message_id}")
def read_route(session: SessionDep, rt: RuntimeDep, caller: CallerDep, message_id: str) -> dict[str, Any]:
    return read_one(session, RecordReader(rt.blobs, rt.envelope), caller, message_id).as_dict()
