"""The FastAPI application: routers per domain, one error renderer, the web console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api import errors
from api.routers import alerts, audit, auth, customers, health, ingest, lexicon, messages
from archive.runtime import Runtime

CONSOLE = Path(__file__).resolve().parent / "console.html"


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="ChatVault", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(messages.router)
    app.include_router(alerts.router)
    app.include_router(ingest.router)
    app.include_router(lexicon.router)
    app.include_router(customers.router)
    app.include_router(audit.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def console() -> str:
        return CONSOLE.read_text(encoding="utf-8")

    return app
