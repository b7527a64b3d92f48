"""Domain errors rendered once, as RFC 9457 application/problem+json."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from archive.kit.errors import ChatVaultError

PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, instance: str, **extra: object) -> JSONResponse:
    body = {
        "type": f"https://chatvault.local/problems/{code}",
        "title": code,
        "status": status,
        "detail": detail,
    }
    body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ChatVaultError)
    async def _domain(request: Request, exc: ChatVaultError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return problem(422, "invalid_input", "request is invalid", request.url.path, errors=errors)
