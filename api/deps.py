"""Request dependencies: the runtime, a session that owns the transaction, and the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from archive.runtime import Runtime
from audit.accounts import authenticate
from audit.principal import Principal

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    """Commits on success, rolls back on error: the request owns the transaction."""
    session = rt.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    session: SessionDep, rt: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]
) -> Principal:
    from archive.kit.errors import Unauthorized

    if not token:
        raise Unauthorized("missing bearer token")
    return authenticate(session, rt.settings, token)


CallerDep = Annotated[Principal, Depends(current_principal)]
