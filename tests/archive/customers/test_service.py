"""Directory import: department tree, supervisors, status changes, re-scoping archived messages."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive.customers.service import import_directory, parse_directory
from archive.kit.errors import Forbidden, InvalidInput
from archive.kit.timeutil import utcnow
from archive.store.models import Customer, Department, Employee, Message, OutboxEvent, Room
from audit.principal import Principal, Role, operator

DIRECTORY = {
    "departments": [
        {"id": "1", "name": "禾悦"},
        {"id": "2", "name": "优选", "parent": "1"},
        {"id": "3", "name": "滨江店", "parent": "2"},
    ],
    "employees": [
        {"userid": "chenhao", "name": "陈浩", "department": "2"},
        {"userid": "zhoumin", "name": "周敏", "department": "3", "supervisor": "chenhao"},
    ],
    "customers": [{"external_id": "wmABC", "name": "王女士"}],
}


def test_import_builds_tree_and_supervisors(db: sessionmaker[Session]) -> None:
    with db.begin() as s:
        result = import_directory(s, operator(), parse_directory(DIRECTORY))
        assert (result.departments, result.employees, result.customers, result.errors) == (3, 2, 1, [])
    with db() as s:
        shop = s.execute(select(Department).where(Department.wecom_id == "3")).scalar_one()
        parent = s.get(Department, shop.parent_id)
        assert parent is not None and parent.name == "优选"
        zm = s.execute(select(Employee).where(Employee.userid == "zhoumin")).scalar_one()
        boss = s.get(Employee, zm.supervisor_id)
        assert boss is not None and boss.userid == "chenhao" and zm.department_id == shop.id
        assert (
            s.execute(select(Customer.name).where(Customer.external_id == "wmABC")).scalar_one() == "王女士"
        )


def test_reimport_is_an_update(db: sessionmaker[Session]) -> None:
    with db.begin() as s:
        import_directory(s, operator(), parse_directory(DIRECTORY))
    changed = {"employees": [{"userid": "zhoumin", "name": "周敏", "department": "2", "status": "departed"}]}
    with db.begin() as s:
        import_directory(s, operator(), parse_directory(changed))
    with db() as s:
        zm = s.execute(select(Employee).where(Employee.userid == "zhoumin")).scalar_one()
        assert zm.status == "departed"
        assert len(s.execute(select(Employee)).scalars().all()) == 2


def test_archived_messages_are_rescoped_and_reindexed(db: sessionmaker[Session]) -> None:
    with db.begin() as s:
        emp = Employee(userid="zhoumin")
        room = Room(source="wecom", source_room_id="single:x", kind="single")
        s.add_all([emp, room])
        s.flush()
        s.add(
            Message(
                source="wecom",
                source_msgid="m1",
                room_id=room.id,
                sender="zhoumin",
                employee_id=emp.id,
                msgtime=utcnow(),
                msgtype="text",
                blob_key="k",
                blob_offset=0,
                blob_length=1,
                key_id="k1",
                content_sha256="0",
            )
        )
    with db.begin() as s:
        result = import_directory(s, operator(), parse_directory(DIRECTORY))
        assert result.messages_rescoped == 1
    with db() as s:
        msg = s.execute(select(Message)).scalar_one()
        assert msg.department_id is not None
        events = s.execute(select(OutboxEvent).where(OutboxEvent.topic == "index")).scalars().all()
        assert [e.payload["ids"] for e in events] == [[msg.id]]


@pytest.mark.parametrize(
    "bad",
    [
        {"departments": [{"id": "1", "name": "a", "parent": "2"}, {"id": "2", "name": "b", "parent": "1"}]},
        {"customers": [{"external_id": "zz-not-external"}]},
        {"employees": [{"userid": ""}]},
    ],
)
def test_bad_directory_is_refused(db: sessionmaker[Session], bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput), db.begin() as s:
        import_directory(s, operator(), parse_directory(bad))


def test_only_admins_import(db: sessionmaker[Session]) -> None:
    with pytest.raises(Forbidden), db.begin() as s:
        import_directory(s, Principal("c", frozenset({Role.COMPLIANCE})), parse_directory(DIRECTORY))
