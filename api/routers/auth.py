"""Login: username + password (form or JSON) → a short-lived bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel

from api.deps import CallerDep, RuntimeDep, SessionDep
from audit.accounts import login

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class Me(BaseModel):
    username: str
    roles: list[str]


@router.post("/login")
def login_route(
    session: SessionDep,
    rt: RuntimeDep,
    username: Annotated[str, Form(min_length=1, max_length=128)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> TokenRead:
    token, ttl = login(session, rt.settings, username, password)
    return TokenRead(access_token=token, expires_in=ttl)


@router.get("/me")
def me(caller: CallerDep) -> Me:
    return Me(username=caller.username, roles=sorted(r.value for r in caller.roles))
