"""Customers, with their archiving consent (WeCom agree/disagree) visible."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import CallerDep, SessionDep
from archive.customers.service import get_customer

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    external_id: str
    name: str
    channel: str
    consent_state: str | None
    consent_at: datetime | None


@router.get("/{external_id}")
def read_customer(session: SessionDep, caller: CallerDep, external_id: str) -> CustomerRead:
    return CustomerRead.model_validate(get_customer(session, caller, external_id))
