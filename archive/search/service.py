"""Search over the blind index: cut the query into blind tokens, ask the backend for candidates within the
caller's scope, then decrypt each candidate and keep only exact matches, so results equal a substring scan
of the plaintext archive. Decryption, masking, watermark and audit happen in audit.access.read_content."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.kit.errors import InvalidInput
from archive.runtime import Runtime
from archive.search.backend import Cursor, SearchFilters
from archive.store.models import Message
from archive.store.records import RecordReader
from audit.access import ContentView, department_subtree, read_content, require
from audit.principal import Action, Principal

MAX_LIMIT = 1000


@dataclass(frozen=True)
class SearchPage:
    hits: list[ContentView]
    next_cursor: Cursor | None


def encode_cursor(cursor: Cursor | None) -> str | None:
    return None if cursor is None else f"{cursor[0]}:{cursor[1]}"


def decode_cursor(raw: str | None) -> Cursor | None:
    if not raw:
        return None
    ms, _, mid = raw.partition(":")
    if not ms.lstrip("-").isdigit() or not mid:
        raise InvalidInput("cursor is malformed")
    return int(ms), mid


def scoped_filters(session: Session, caller: Principal, filters: SearchFilters) -> SearchFilters | None:
    """Narrow filters to the caller's data scope; None means the caller can see nothing."""
    if caller.sees_all:
        return filters
    if caller.scope_department_ids is not None:
        allowed = department_subtree(session, caller.scope_department_ids)
        wanted = (
            allowed if filters.department_ids is None else tuple(set(allowed) & set(filters.department_ids))
        )
        return replace(filters, department_ids=wanted) if wanted else None
    if caller.employee_id is not None:
        return replace(filters, employee_ids=(caller.employee_id,))
    return None


def search(
    session: Session,
    rt: Runtime,
    caller: Principal,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 50,
    cursor: Cursor | None = None,
) -> SearchPage:
    """limit=0 returns every hit."""
    require(caller, Action.SEARCH)
    if limit < 0 or (limit > MAX_LIMIT and limit != 0):
        raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}")
    query = query.strip()
    if not query:
        raise InvalidInput("query must not be empty")
    tokens = rt.blind.query_tokens(query)
    scoped = scoped_filters(session, caller, filters or SearchFilters())
    if scoped is None:
        return SearchPage([], None)
    reader = RecordReader(rt.blobs, rt.envelope)
    hits: list[ContentView] = []
    after = cursor
    chunk = 200 if limit == 0 else max(2 * limit, 50)
    page = 0
    while True:
        cands = rt.search.candidates(tokens, scoped, chunk, after)
        if not cands:
            after = None
            break
        by_id = {
            m.id: m
            for m in session.execute(select(Message).where(Message.id.in_([c[1] for c in cands]))).scalars()
        }
        msgs = [by_id[c[1]] for c in cands if c[1] in by_id and by_id[c[1]].wrapped_key is not None]
        views = read_content(
            session,
            reader,
            caller,
            msgs,
            purpose="search",
            query=query,
            keep=lambda text: rt.blind.matches(query, text),
            detail={"page": page},
        )
        page += 1
        if limit and len(hits) + len(views) >= limit:
            take = views[: limit - len(hits)]
            hits.extend(take)
            last = take[-1]
            after = (last.msgtime_ms, last.id)
            more = len(views) > len(take) or len(cands) == chunk
            return SearchPage(hits, after if more else None)
        hits.extend(views)
        after = cands[-1]
        if len(cands) < chunk:
            after = None
            break
    return SearchPage(hits, None)
