"""Liveness and readiness (database, blob store, search backend, index lag)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import RuntimeDep
from archive.search.indexer import lag

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(rt: RuntimeDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with rt.sessions() as session:
            session.execute(text("SELECT 1"))
            checks["index_lag"] = lag(session)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    checks["blob_store"] = "ok" if rt.blobs.ping() else "down"
    checks["search_backend"] = "ok" if rt.search.ping() else "down"
    ready = checks["database"] == "ok" and checks["blob_store"] == "ok"
    # The index is derived data: a down search backend degrades search but does not stop ingest.
    status = "ready" if ready and checks["search_backend"] == "ok" else ("degraded" if ready else "down")
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)
