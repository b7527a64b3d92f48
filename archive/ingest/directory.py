"""Participants, rooms, employees and customers as the messages show them (get-or-create, cached per run)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.kit.lru import LRU
from archive.store.models import Customer, Employee, Room, RoomMember

CACHE_SIZE = 50_000  # per kind; ~10 MB at most
MEMO_MEMBERS = 8  # recipients up to which whole `resolve` answers are remembered


def participant_kind(member_id: str) -> str:
    if member_id.startswith(("wo", "wm")):
        return "customer"
    if member_id.startswith("wb"):
        return "robot"
    return "employee"


@dataclass(frozen=True, slots=True)
class Resolved:
    room_id: int
    employee_id: int | None
    customer_id: int | None
    department_id: int | None
    sender_kind: str


@dataclass
class DirectoryCache:
    """Maps source ids to row ids for one import run; creates what is missing. Bounded (least recently
    used entries are forgotten and looked up again when they recur), so memory stays flat however many
    rooms and customers a file holds."""

    source: str
    size: int = field(default_factory=lambda: CACHE_SIZE)
    rooms: LRU[str, int] = field(init=False)
    members: LRU[tuple[int, str], bool] = field(init=False)
    employees: LRU[str, tuple[int, int | None]] = field(init=False)
    customers: LRU[str, int] = field(init=False)
    resolved: LRU[tuple[str, tuple[str, ...], str], Resolved] = field(init=False)

    def __post_init__(self) -> None:
        self.rooms, self.members = LRU(self.size), LRU(self.size)
        self.employees, self.customers = LRU(self.size), LRU(self.size)
        # whole answers of `resolve`: a conversation's messages repeat the same sender, list and room,
        # and one lookup replaces the five or more that assembling the answer takes
        self.resolved = LRU(self.size)

    def employee(self, session: Session, userid: str) -> tuple[int, int | None]:
        hit = self.employees.get(userid)
        if hit is None:
            row = session.execute(select(Employee).where(Employee.userid == userid)).scalar_one_or_none()
            if row is None:
                row = Employee(userid=userid, name="", status="active")
                session.add(row)
                session.flush()
            hit = (row.id, row.department_id)
            self.employees.put(userid, hit)
        return hit

    def customer(self, session: Session, external_id: str) -> int:
        cid = self.customers.get(external_id)
        if cid is None:
            row = session.execute(
                select(Customer).where(Customer.external_id == external_id)
            ).scalar_one_or_none()
            if row is None:
                row = Customer(external_id=external_id, channel=self.source)
                session.add(row)
                session.flush()
            cid = row.id
            self.customers.put(external_id, cid)
        return cid

    def room(self, session: Session, sender: str, tolist: tuple[str, ...], roomid: str) -> int:
        if roomid:
            key, kind = roomid, "group"
        elif tolist:
            members = "|".join(sorted({sender, *tolist}))
            if len(members) > 240:  # a long member list (a group without roomid) must still fit the column
                members = "sha256:" + hashlib.sha256(members.encode()).hexdigest()
            key, kind = "single:" + members, "single" if len(tolist) == 1 else "group"
        else:
            key, kind = f"system:{sender}", "system"
        rid = self.rooms.get(key)
        if rid is None:
            row = session.execute(
                select(Room).where(Room.source == self.source, Room.source_room_id == key)
            ).scalar_one_or_none()
            if row is None:
                row = Room(source=self.source, source_room_id=key, kind=kind)
                session.add(row)
                session.flush()
            rid = row.id
            self.rooms.put(key, rid)
        for member in (sender, *tolist):
            if member and self.members.get((rid, member)) is None:
                self.members.put((rid, member), True)
                if session.get(RoomMember, (rid, member)) is None:
                    session.add(RoomMember(room_id=rid, member=member, kind=participant_kind(member)))
        return rid

    def resolve(self, session: Session, sender: str, tolist: tuple[str, ...], roomid: str) -> Resolved:
        if len(tolist) > MEMO_MEMBERS:  # a big group's member list would make a big key: no memo
            return self._resolve(session, sender, tolist, roomid)
        key = (sender, tolist, roomid)
        hit = self.resolved.get(key)
        if hit is None:
            hit = self._resolve(session, sender, tolist, roomid)
            self.resolved.put(key, hit)
        return hit

    def _resolve(self, session: Session, sender: str, tolist: tuple[str, ...], roomid: str) -> Resolved:
        room_id = self.room(session, sender, tolist, roomid)
        kind = participant_kind(sender)
        employee_id = department_id = customer_id = None
        internal = (
            [sender] if kind == "employee" else [m for m in tolist if participant_kind(m) == "employee"]
        )
        if internal:
            employee_id, department_id = self.employee(session, internal[0])
        if kind == "customer":
            customer_id = self.customer(session, sender)
        elif not roomid:
            external = [m for m in tolist if participant_kind(m) == "customer"]
            if external:
                customer_id = self.customer(session, external[0])
        return Resolved(room_id, employee_id, customer_id, department_id, kind)
