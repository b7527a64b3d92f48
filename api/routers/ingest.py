"""HTTP push: batches of records (generic JSONL schema or WeCom decrypted JSON) with a result per record,
and media bytes by sdkfileid."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import CallerDep, RuntimeDep, SessionDep
from archive.ingest.media import MediaStore, push
from archive.ingest.pipeline import Importer
from archive.kit.errors import InvalidInput
from audit import log
from audit.access import require
from audit.principal import Action

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_BATCH = 1000
MAX_BODY = 32 * 1024 * 1024


class RecordResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    msgid: str | None
    reason: str | None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[RecordResult]


async def _body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _records(body: bytes, content_type: str) -> list[Any]:
    if "ndjson" in content_type or "jsonl" in content_type:
        out: list[Any] = []
        for line in body.splitlines():
            if line.strip():
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    out.append(None)  # reported as rejected for its position, neighbours still import
        return out
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput(
            "body is not JSON (send a JSON array, or NDJSON with Content-Type application/x-ndjson)"
        ) from None
    if not isinstance(data, list):
        raise InvalidInput("body must be a JSON array of records")
    return data


@router.post("/ingest/{fmt}")
async def ingest_batch(
    fmt: Literal["generic", "wecom"], request: Request, rt: RuntimeDep, caller: CallerDep, session: SessionDep
) -> BatchResult:
    require(caller, Action.IMPORT)
    records = _records(await _body(request, MAX_BODY), request.headers.get("content-type", ""))
    if not records:
        raise InvalidInput("batch is empty")
    if len(records) > MAX_BATCH:
        raise InvalidInput(f"batch has {len(records)} records; at most {MAX_BATCH}")
    outcomes = Importer(rt).import_records(records, fmt=fmt, label=f"push:{caller.username}")
    results = [
        RecordResult(index=o.line_no - 1, status=o.status, msgid=o.msgid, reason=o.reason) for o in outcomes
    ]
    log.append(session, actor=caller.username, action="ingest.push", detail={"records": len(records)})
    return BatchResult(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )


@router.put("/media/{sdkfileid:path}")
async def push_media(
    sdkfileid: str, request: Request, rt: RuntimeDep, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    require(caller, Action.IMPORT)
    data = await _body(request, 512 * 1024 * 1024)
    rows = push(session, MediaStore(rt.blobs, rt.envelope), sdkfileid, data)
    log.append(session, actor=caller.username, action="media.push", target_ids=[r.id for r in rows])
    return {
        "media": [
            {"id": r.id, "message_id": r.message_id, "status": r.status, "problem": r.problem} for r in rows
        ]
    }
