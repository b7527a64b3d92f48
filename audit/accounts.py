"""User accounts: password hashing (scrypt), login, short-lived tokens, the bootstrap admin, revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import jwt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.kit.errors import Conflict, InvalidInput, Unauthorized
from archive.kit.settings import Settings
from archive.kit.timeutil import utcnow
from archive.store.models import Employee, UserAccount
from audit import log
from audit.principal import Principal, Role

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def create_account(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    *,
    employee_id: int | None = None,
    scope_department_id: int | None = None,
) -> UserAccount:
    bad = [r for r in roles if r not in {x.value for x in Role}]
    if bad:
        raise InvalidInput(f"unknown roles: {', '.join(bad)}")
    if len(password) < 12:
        raise InvalidInput("password must be at least 12 characters")
    if session.execute(select(UserAccount).where(UserAccount.username == username)).scalar_one_or_none():
        raise Conflict(f"account {username} exists")
    acct = UserAccount(
        username=username,
        password_hash=hash_password(password),
        roles=roles,
        employee_id=employee_id,
        scope_department_id=scope_department_id,
    )
    session.add(acct)
    session.flush()
    return acct


def bootstrap_admin(session: Session) -> tuple[str, str] | None:
    """On first start (no accounts) create `admin` with a random password, returned once to be printed.
    The bootstrap admin also holds the compliance role so the first user can search the archive."""
    if session.execute(select(func.count()).select_from(UserAccount)).scalar_one():
        return None
    password = secrets.token_urlsafe(15)
    create_account(session, "admin", password, [Role.ADMIN.value, Role.COMPLIANCE.value])
    log.append(session, actor="system", action="account.bootstrap", target_ids=["admin"])
    return "admin", password


def principal_of(session: Session, acct: UserAccount) -> Principal:
    scope: tuple[int, ...] | None = None
    if acct.scope_department_id is not None:
        from audit.access import department_subtree

        scope = department_subtree(session, [acct.scope_department_id])
    return Principal(
        username=acct.username,
        roles=frozenset(Role(r) for r in acct.roles),
        account_id=acct.id,
        employee_id=acct.employee_id,
        scope_department_ids=scope,
    )


def _blocked(session: Session, acct: UserAccount) -> bool:
    if not acct.active:
        return True
    if acct.employee_id is not None:
        emp = session.get(Employee, acct.employee_id)
        return emp is not None and emp.status in {"frozen", "departed"}
    return False


def login(session: Session, settings: Settings, username: str, password: str) -> tuple[str, int]:
    acct = session.execute(select(UserAccount).where(UserAccount.username == username)).scalar_one_or_none()
    if acct is None or not verify_password(password, acct.password_hash) or _blocked(session, acct):
        log.append(session, actor=username[:128], action="auth.login_failed")
        raise Unauthorized("invalid username or password")
    ttl = settings.token_ttl_minutes * 60
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": acct.username,
        "ver": acct.token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    log.append(session, actor=acct.username, action="auth.login")
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), ttl


def authenticate(session: Session, settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        raise Unauthorized("token is invalid or expired") from None
    acct = session.execute(
        select(UserAccount).where(UserAccount.username == claims["sub"])
    ).scalar_one_or_none()
    if acct is None or acct.token_version != claims.get("ver") or _blocked(session, acct):
        raise Unauthorized("session was revoked")
    return principal_of(session, acct)


def revoke_sessions(session: Session, account: UserAccount) -> None:
    account.token_version += 1
    session.flush()


def reset_password(session: Session, username: str, *, actor: str) -> str:
    """Set a new random password (returned once) and revoke the account's sessions."""
    acct = session.execute(select(UserAccount).where(UserAccount.username == username)).scalar_one_or_none()
    if acct is None:
        raise InvalidInput(f"no account {username}")
    password = secrets.token_urlsafe(15)
    acct.password_hash = hash_password(password)
    revoke_sessions(session, acct)
    log.append(session, actor=actor, action="account.reset_password", target_ids=[username])
    return password
