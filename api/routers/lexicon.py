"""The risk lexicon: read, replace, edit one rule, history. Changes apply without restart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from api.deps import CallerDep, RuntimeDep, SessionDep
from archive.risk import service
from archive.risk.lexicon import Lexicon
from archive.risk.models import LexiconVersion
from archive.runtime import Runtime
from audit.access import require
from audit.principal import Action

router = APIRouter(prefix="/api/v1/risk/lexicon", tags=["risk"])


class VersionRead(BaseModel):
    id: int
    version: str
    actor: str
    change: str
    rules: int


def _read(row: LexiconVersion) -> VersionRead:
    return VersionRead(
        id=row.id,
        version=str(row.data.get("version")),
        actor=row.actor,
        change=row.change,
        rules=len(row.data["rules"]),
    )


def _apply(rt: Runtime, row: LexiconVersion) -> None:
    """Swap this process's analyser now; other processes pick the version up on their next batch."""
    rt.analyzer.holder.swap(Lexicon.from_json(row.data))
    rt.lexicon_id = row.id


@router.get("")
def get_lexicon(session: SessionDep, caller: CallerDep) -> dict[str, Any]:
    require(caller, Action.ADMIN_LEXICON)
    return service.active_lexicon(session)[1].to_json()


@router.put("")
def replace_lexicon(
    session: SessionDep,
    rt: RuntimeDep,
    caller: CallerDep,
    body: Annotated[dict[str, Any], Body()],
    note: Annotated[str, Query(max_length=256)] = "replaced through the API",
) -> VersionRead:
    row = service.save_lexicon(session, caller, body, note)
    _apply(rt, row)
    return _read(row)


@router.put("/rules/{rule_id}")
def put_rule(
    session: SessionDep,
    rt: RuntimeDep,
    caller: CallerDep,
    rule_id: str,
    body: Annotated[dict[str, Any], Body()],
) -> VersionRead:
    row = service.upsert_rule(session, caller, {**body, "id": rule_id})
    _apply(rt, row)
    return _read(row)


@router.delete("/rules/{rule_id}")
def delete_rule(session: SessionDep, rt: RuntimeDep, caller: CallerDep, rule_id: str) -> VersionRead:
    row = service.delete_rule(session, caller, rule_id)
    _apply(rt, row)
    return _read(row)


@router.get("/history")
def history(session: SessionDep, caller: CallerDep) -> list[VersionRead]:
    return [_read(r) for r in service.lexicon_history(session, caller)]
