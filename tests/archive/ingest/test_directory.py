"""archive/ingest/directory.py: rooms, participants, employees and customers as messages show them."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from archive.ingest.directory import MEMO_MEMBERS, DirectoryCache
from archive.store.models import RoomMember


def test_resolve_remembers_answers_but_still_records_new_members(db: sessionmaker[Session]) -> None:
    cache = DirectoryCache(source="wecom")
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    with db() as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        first = cache.resolve(s, "zhoumin", ("wmCUST1",), "")
        asked = len(statements)
        assert cache.resolve(s, "zhoumin", ("wmCUST1",), "") == first
        assert len(statements) == asked  # answered from memory
        assert first.employee_id is not None and first.customer_id is not None
        assert first.sender_kind == "employee"
        group = cache.resolve(s, "zhoumin", ("wmCUST1", "wmCUST2"), "room-1")
        again = cache.resolve(s, "zhoumin", ("wmCUST1", "wmCUST3"), "room-1")  # someone joined
        assert again.room_id == group.room_id
        big = tuple(f"wmC{i}" for i in range(MEMO_MEMBERS + 1))
        cache.resolve(s, "zhoumin", big, "room-1")
        s.flush()
        members = set(
            s.execute(select(RoomMember.member).where(RoomMember.room_id == group.room_id)).scalars()
        )
        assert {"zhoumin", "wmCUST1", "wmCUST2", "wmCUST3", *big} <= members
        assert len(cache.resolved) == 3  # the big group's answer is not remembered
        event.remove(engine, "before_cursor_execute", seen)
        s.rollback()
