"""The alert review queue and workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep
from archive.risk import service

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
Status = Literal["open", "claimed", "escalated", "resolved", "false_positive"]


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    room_id: int
    employee_id: int | None
    department_id: int | None
    category: str
    rule: str
    tier: int
    status: str
    assignee: str | None
    message_ids: list[str]
    hits: int
    complaint: bool
    sampled: bool
    window_start: datetime
    window_end: datetime
    created_at: datetime


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class AlertDetail(AlertRead):
    history: list[EventRead]


class TransitionBody(BaseModel):
    to: Status
    note: str | None = Field(default=None, max_length=4000)


class PrecisionRow(BaseModel):
    rule: str
    confirmed: int
    false_positive: int
    precision: float | None


@router.get("")
def list_alerts(
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[list[Status] | None, Query()] = None,
    complaint: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AlertRead]:
    rows = service.queue(
        session,
        caller,
        statuses=status or service.ACTIVE,
        complaint_only=complaint,
        limit=limit,
        offset=offset,
    )
    return [AlertRead.model_validate(r) for r in rows]


@router.get("/report/precision")
def precision(session: SessionDep, caller: CallerDep) -> list[PrecisionRow]:
    return [
        PrecisionRow(
            rule=r.rule, confirmed=r.confirmed, false_positive=r.false_positive, precision=r.precision
        )
        for r in service.precision_report(session, caller)
    ]


@router.get("/{alert_id}")
def get_alert(session: SessionDep, caller: CallerDep, alert_id: str) -> AlertDetail:
    alert = service.get_alert(session, caller, alert_id)
    events = service.history(session, caller, alert_id)
    return AlertDetail.model_validate(
        {
            **AlertRead.model_validate(alert).model_dump(),
            "history": [EventRead.model_validate(e) for e in events],
        }
    )


@router.post("/{alert_id}/transition")
def transition(session: SessionDep, caller: CallerDep, alert_id: str, body: TransitionBody) -> AlertRead:
    return AlertRead.model_validate(service.transition(session, caller, alert_id, body.to, body.note))
