"""The customer / employee / department core: directory import (names, department tree, supervisors,
status) and what depends on it. Messages imported before the directory keep working: their department is
filled in here and the search index is refreshed through the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from archive.kit.errors import InvalidInput
from archive.store.models import Customer, Department, Employee, Message, OutboxEvent, UserAccount
from audit import log
from audit.access import require
from audit.principal import Action, Principal


class DepartmentIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = None


class EmployeeIn(BaseModel):
    userid: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=200)
    department: str | None = None
    supervisor: str | None = None
    status: Literal["active", "departed", "frozen"] = "active"


class CustomerIn(BaseModel):
    external_id: str = Field(min_length=3, max_length=128, pattern=r"^(wo|wm)")
    name: str = Field(default="", max_length=200)
    channel: str = Field(default="wecom", max_length=32)


class DirectoryIn(BaseModel):
    departments: list[DepartmentIn] = []
    employees: list[EmployeeIn] = []
    customers: list[CustomerIn] = []


@dataclass
class DirectoryResult:
    departments: int = 0
    employees: int = 0
    customers: int = 0
    messages_rescoped: int = 0
    errors: list[str] = field(default_factory=list)


def parse_directory(data: Any) -> DirectoryIn:
    try:
        return DirectoryIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"directory is invalid at {where}: {first['msg']}") from None


def _check_tree(deps: Iterable[DepartmentIn]) -> None:
    parent = {d.id: d.parent for d in deps}
    for start in parent:
        seen: set[str] = set()
        cur: str | None = start
        while cur is not None:
            if cur in seen:
                raise InvalidInput(f"department tree has a cycle through {cur}")
            seen.add(cur)
            cur = parent.get(cur)


def import_directory(session: Session, caller: Principal, data: DirectoryIn) -> DirectoryResult:
    """Upsert departments, employees and customers; re-scope already archived messages."""
    require(caller, Action.ADMIN_USERS)
    _check_tree(data.departments)
    result = DirectoryResult()
    dept_ids: dict[str, int] = {}
    for d in data.departments:
        row = session.execute(select(Department).where(Department.wecom_id == d.id)).scalar_one_or_none()
        if row is None:
            row = Department(wecom_id=d.id, name=d.name)
            session.add(row)
        row.name = d.name
        session.flush()
        dept_ids[d.id] = row.id
        result.departments += 1
    for d in data.departments:
        row_id = dept_ids[d.id]
        parent_id = None
        if d.parent is not None:
            parent_id = dept_ids.get(d.parent) or _dept_id(session, d.parent)
            if parent_id is None:
                result.errors.append(f"department {d.id}: unknown parent {d.parent}")
        session.execute(update(Department).where(Department.id == row_id).values(parent_id=parent_id))
    employees: dict[str, Employee] = {}
    for e in data.employees:
        emp = session.execute(select(Employee).where(Employee.userid == e.userid)).scalar_one_or_none()
        if emp is None:
            emp = Employee(userid=e.userid, status="active")
            session.add(emp)
        emp.name = e.name or emp.name
        if e.department is not None:
            dep = dept_ids.get(e.department) or _dept_id(session, e.department)
            if dep is None:
                result.errors.append(f"employee {e.userid}: unknown department {e.department}")
            emp.department_id = dep
        if e.status != emp.status:
            emp.status = e.status
            if e.status in {"departed", "frozen"}:
                session.flush()
                session.execute(
                    update(UserAccount)
                    .where(UserAccount.employee_id == emp.id)
                    .values(token_version=UserAccount.token_version + 1)
                )
        employees[e.userid] = emp
        result.employees += 1
    session.flush()
    for e in data.employees:
        if e.supervisor is not None:
            sup = (
                employees.get(e.supervisor)
                or session.execute(
                    select(Employee).where(Employee.userid == e.supervisor)
                ).scalar_one_or_none()
            )
            if sup is None:
                result.errors.append(f"employee {e.userid}: unknown supervisor {e.supervisor}")
            else:
                employees[e.userid].supervisor_id = sup.id
    for c in data.customers:
        cust = session.execute(
            select(Customer).where(Customer.external_id == c.external_id)
        ).scalar_one_or_none()
        if cust is None:
            cust = Customer(external_id=c.external_id, name="")
            session.add(cust)
        cust.name, cust.channel = c.name or cust.name, c.channel
        result.customers += 1
    session.flush()
    result.messages_rescoped = _rescope(session, [e.id for e in employees.values()])
    log.append(
        session,
        actor=caller.username,
        action="directory.import",
        detail={
            "departments": result.departments,
            "employees": result.employees,
            "customers": result.customers,
        },
    )
    return result


def _dept_id(session: Session, wecom_id: str) -> int | None:
    return session.execute(select(Department.id).where(Department.wecom_id == wecom_id)).scalar_one_or_none()


def _rescope(session: Session, employee_ids: list[int]) -> int:
    """Give archived messages their employee's (new) department and queue them for re-indexing."""
    total = 0
    for emp_id in employee_ids:
        emp = session.get(Employee, emp_id)
        if emp is None:
            continue
        ids = list(
            session.execute(
                select(Message.id).where(
                    Message.employee_id == emp_id,
                    or_(Message.department_id.is_(None), Message.department_id != emp.department_id),
                )
            ).scalars()
        )
        if not ids:
            continue
        session.execute(update(Message).where(Message.id.in_(ids)).values(department_id=emp.department_id))
        for i in range(0, len(ids), 500):
            session.add(OutboxEvent(topic="index", payload={"ids": ids[i : i + 500]}))
        total += len(ids)
    return total


def get_customer(session: Session, caller: Principal, external_id: str) -> Customer:
    """A customer with the consent state for archiving (agree/disagree and its time)."""
    from archive.kit.errors import NotFound

    if not (caller.can(Action.SEARCH) or caller.can(Action.ADMIN_USERS)):
        require(caller, Action.SEARCH)
    row = session.execute(select(Customer).where(Customer.external_id == external_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"customer {external_id} not found")
    return row
