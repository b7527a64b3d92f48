"""Alerts: dedupe per room/rule/window, tier actions (a tier-3 finding really blocks login), workflow
transitions, queue order, precision report, sampling — on SQLite and real PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.errors import Conflict, Forbidden, Unauthorized
from archive.kit.settings import Settings
from archive.kit.timeutil import aware, utcnow
from archive.risk import service
from archive.risk.models import Alert, AlertEvent
from archive.store.models import AccessAudit, Employee, Message, OutboxEvent, Room, UserAccount
from audit.accounts import create_account, login
from audit.principal import Principal, Role

T0 = utcnow().replace(microsecond=0)


@dataclass(frozen=True)
class F:
    category: str
    tier: int
    rule: str


def reviewer(name: str = "officer") -> Principal:
    return Principal(username=name, roles=frozenset({Role.COMPLIANCE}))


def _setup(session: Session) -> tuple[Room, Employee, Employee]:
    boss = Employee(userid="boss", name="Boss")
    session.add(boss)
    session.flush()
    emp = Employee(userid="seller", name="Seller", supervisor_id=boss.id)
    room = Room(source="wecom", source_room_id="single:a|b", kind="single")
    session.add_all([emp, room])
    session.flush()
    return room, emp, boss


def _origin(room: Room, emp: Employee, mid: str, at: timedelta = timedelta()) -> service.Origin:
    return service.Origin(room.id, emp.id, None, (mid,), T0 + at)


def test_dedupe_within_window(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        a = service.record_findings(s, _origin(room, emp, "m1"), [F("abuse", 1, "abuse.insult")])
        b = service.record_findings(
            s, _origin(room, emp, "m2", timedelta(hours=2)), [F("abuse", 1, "abuse.insult")]
        )
        c = service.record_findings(
            s, _origin(room, emp, "m3", timedelta(days=3)), [F("abuse", 1, "abuse.insult")]
        )
        s.commit()
        assert a[0].id == b[0].id != c[0].id
        assert a[0].message_ids == ["m1", "m2"] and a[0].hits == 2


def test_alert_book_dedupes_like_the_per_finding_lookup(db: sessionmaker[Session]) -> None:
    """A batch's book of active alerts (one query) must extend the same alert a lookup would, including
    an alert stored before the batch and one created earlier in the same batch."""
    with db() as s:
        room, emp, _ = _setup(s)
        (stored,) = service.record_findings(s, _origin(room, emp, "m0"), [F("abuse", 1, "abuse.insult")])
        s.commit()
        book = service.AlertBook(s, [room.id])
        a = service.record_findings(
            s, _origin(room, emp, "m1", timedelta(hours=1)), [F("abuse", 1, "abuse.insult")], book
        )
        b = service.record_findings(s, _origin(room, emp, "m2"), [F("complaint", 1, "complaint.x")], book)
        c = service.record_findings(
            s, _origin(room, emp, "m3", timedelta(hours=2)), [F("complaint", 1, "complaint.x")], book
        )
        d = service.record_findings(
            s, _origin(room, emp, "m4", timedelta(days=3)), [F("abuse", 1, "abuse.insult")], book
        )
        book.write(s)
        s.commit()
        assert a[0].id == stored.id and stored.message_ids == ["m0", "m1"]
        assert b[0].id == c[0].id and b[0].message_ids == ["m2", "m3"]
        assert d[0].id != stored.id  # outside the window: a new alert, which the book now returns
        assert book.get(room.id, "abuse.insult") is d[0]
        assert s.scalar(select(func.count()).select_from(Alert)) == 3


def test_alert_book_leaves_out_alerts_no_finding_of_the_batch_can_extend(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        (stored,) = service.record_findings(s, _origin(room, emp, "m0"), [F("abuse", 1, "abuse.insult")])
        s.commit()
        later = _origin(room, emp, "m1", timedelta(days=2)).msgtime
        assert service.AlertBook(s, [room.id], later).get(room.id, "abuse.insult") is None
        within = _origin(room, emp, "m1", timedelta(hours=23)).msgtime
        book = service.AlertBook(s, [room.id], within)
        assert book.get(room.id, "abuse.insult") is stored
        (a,) = service.record_findings(
            s, _origin(room, emp, "m1", timedelta(hours=23)), [F("abuse", 1, "abuse.insult")], book
        )
        assert a is stored and stored.message_ids == ["m0", "m1"]


def test_a_batch_stores_its_new_alerts_and_acts_on_each_once(db: sessionmaker[Session]) -> None:
    """Within one book (an import batch) findings for the same room and rule extend one alert; nothing is
    stored until write, which stores each alert with one opening event and acts on it once: the employee
    is frozen once however many tier-3 alerts name them, each alert notifies once, in creation order."""
    with db() as s:
        room, emp, _ = _setup(s)
        create_account(s, "seller", "seller-password-1", ["employee"], employee_id=emp.id)
        s.commit()
        book = service.AlertBook(s, [room.id], T0)
        found = [
            service.record_findings(
                s, _origin(room, emp, mid, timedelta(hours=h)), [F(cat, tier, rule)], book
            )
            for mid, h, cat, tier, rule in [
                ("m1", 0, "side_dealing", 3, "sd.private_transfer"),
                ("m2", 0, "guaranteed_return", 2, "gr.sure_profit"),
                ("m3", 1, "side_dealing", 3, "sd.private_transfer"),
                ("m4", 2, "guaranteed_return", 2, "gr.sure_profit"),
                ("m5", 3, "bribery", 3, "br.personal_money"),
            ]
        ]
        (a,), (b,), (a2,), (b2,), (c,) = found
        assert a is a2 and b is b2 and len({a.id, b.id, c.id}) == 3
        assert s.scalar(select(func.count()).select_from(Alert)) == 0  # kept until write
        book.write(s)
        s.commit()
    with db() as s:
        alerts = s.execute(select(Alert)).scalars().all()
        assert {x.id: (x.message_ids, x.hits, x.status) for x in alerts} == {
            a.id: (["m1", "m3"], 2, "open"),
            b.id: (["m2", "m4"], 2, "open"),
            c.id: (["m5"], 1, "open"),
        }
        assert aware(s.get(Alert, a.id).window_end) == T0 + timedelta(hours=1)  # type: ignore[union-attr]
        opened = s.execute(select(AlertEvent.alert_id, AlertEvent.from_status, AlertEvent.to_status)).all()
        assert sorted(opened) == sorted((x.id, None, "open") for x in alerts)
        notices = s.execute(select(OutboxEvent.payload).order_by(OutboxEvent.id)).scalars().all()
        assert [(n["alert_id"], n["audience"], n["recipient"]) for n in notices] == [
            (a.id, "compliance", None),
            (b.id, "supervisor", "boss"),
            (c.id, "compliance", None),
        ]
        freezes = s.execute(select(AccessAudit.detail).where(AccessAudit.action == "employee.freeze")).all()
        assert [d["alert_id"] for (d,) in freezes] == [a.id]
        assert s.get(Employee, emp.id).status == "frozen"  # type: ignore[union-attr]
        assert s.scalar(select(UserAccount.token_version).where(UserAccount.username == "seller")) == 1


def test_written_alerts_belong_to_the_session(db: sessionmaker[Session]) -> None:
    """After write the returned alerts are the session's own: a later change to one is stored, and a
    lookup returns the same object."""
    with db() as s:
        room, emp, _ = _setup(s)
        book = service.AlertBook(s, [room.id], T0)
        (a,) = service.record_findings(s, _origin(room, emp, "m1"), [F("abuse", 1, "abuse.insult")], book)
        book.write(s)
        assert s.get(Alert, a.id) is a
        a.assignee = "officer"
        s.commit()
    with db() as s:
        assert s.get(Alert, a.id).assignee == "officer"  # type: ignore[union-attr]


def test_a_later_batch_extends_an_alert_of_an_earlier_one(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        first = service.AlertBook(s, [room.id], T0)
        (a,) = service.record_findings(s, _origin(room, emp, "m1"), [F("abuse", 1, "abuse.insult")], first)
        first.write(s)
        s.commit()
        later = service.AlertBook(s, [room.id], T0 + timedelta(hours=3))
        (b,) = service.record_findings(
            s, _origin(room, emp, "m2", timedelta(hours=3)), [F("abuse", 1, "abuse.insult")], later
        )
        (c,) = service.record_findings(
            s, _origin(room, emp, "m3", timedelta(hours=30)), [F("abuse", 1, "abuse.insult")], later
        )
        later.write(s)
        s.commit()
        assert b.id == a.id != c.id
    with db() as s:
        alerts = s.execute(select(Alert).order_by(Alert.window_start)).scalars().all()
        assert [(x.message_ids, x.hits) for x in alerts] == [(["m1", "m2"], 2), (["m3"], 1)]
        assert s.scalar(select(func.count()).select_from(AlertEvent)) == 2


@pytest.mark.parametrize("with_book", [False, True])
def test_a_full_alert_is_not_extended_the_next_finding_opens_another(
    db: sessionmaker[Session], with_book: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule firing every hour in one room: the alert stops at ALERT_MESSAGES messages and the findings
    after it go to a new alert of the same room and rule, itself bounded; none is lost."""
    monkeypatch.setattr(service, "ALERT_MESSAGES", 3)
    finding = [F("abuse", 1, "abuse.insult")]
    with db() as s:
        room, emp, _ = _setup(s)
        book = service.AlertBook(s, [room.id], T0) if with_book else None
        for i in range(8):
            service.record_findings(s, _origin(room, emp, f"m{i}", timedelta(hours=i)), finding, book)
        if book is not None:
            book.write(s)
        # a conversation window's finding with two messages may take an alert one past the bound
        service.record_findings(
            s, service.Origin(room.id, emp.id, None, ("m8", "m9"), T0 + timedelta(hours=8)), finding
        )
        s.commit()
    with db() as s:
        alerts = s.execute(select(Alert).order_by(Alert.window_start)).scalars().all()
        assert [(a.message_ids, a.hits) for a in alerts] == [
            (["m0", "m1", "m2"], 3),
            (["m3", "m4", "m5"], 3),
            (["m6", "m7", "m8", "m9"], 3),
        ]
        assert [aware(a.window_end) - T0 for a in alerts] == [timedelta(hours=h) for h in (2, 5, 8)]


@pytest.mark.parametrize("with_book", [False, True])
def test_two_categories_of_one_rule_in_one_message_make_one_alert(
    db: sessionmaker[Session], with_book: bool
) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        book = service.AlertBook(s, [room.id], T0) if with_book else None
        found = service.record_findings(
            s, _origin(room, emp, "m1"), [F("complaint", 1, "shared"), F("abuse", 2, "shared")], book
        )
        if book is not None:
            book.write(s)
        s.commit()
        assert len(found) == 2 and found[0] is found[1]
        assert (found[0].category, found[0].tier, found[0].message_ids, found[0].hits) == (
            "abuse",
            2,
            ["m1"],
            1,
        )
        assert s.scalar(select(func.count()).select_from(Alert)) == 1


def test_tier0_findings_make_no_alert(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        assert service.record_findings(s, _origin(room, emp, "m1"), [F("pii_leak", 0, "x")]) == []


def test_tier2_notifies_supervisor(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        service.record_findings(s, _origin(room, emp, "m1"), [F("guaranteed_return", 2, "gr.sure_profit")])
        s.commit()
        events = s.execute(select(OutboxEvent).where(OutboxEvent.topic == "notify")).scalars().all()
        assert [(e.payload["audience"], e.payload["recipient"]) for e in events] == [("supervisor", "boss")]
        assert s.get(Employee, emp.id).status == "active"  # type: ignore[union-attr]


def test_tier3_freezes_employee_and_blocks_login(db: sessionmaker[Session]) -> None:
    settings = Settings(jwt_secret="x" * 40)
    with db() as s:
        room, emp, _ = _setup(s)
        create_account(s, "seller", "seller-password-1", ["employee"], employee_id=emp.id)
        s.commit()
        token, _ = login(s, settings, "seller", "seller-password-1")
        from audit.accounts import authenticate

        assert authenticate(s, settings, token).username == "seller"
        service.record_findings(s, _origin(room, emp, "m1"), [F("side_dealing", 3, "sd.private_transfer")])
        s.commit()
        assert s.get(Employee, emp.id).status == "frozen"  # type: ignore[union-attr]
        with pytest.raises(Unauthorized):
            authenticate(s, settings, token)  # the live session ends
        with pytest.raises(Unauthorized):
            login(s, settings, "seller", "seller-password-1")  # and no new one starts
        audiences = [e.payload["audience"] for e in s.execute(select(OutboxEvent)).scalars()]
        assert audiences == ["compliance"]


def test_workflow_transitions(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        (alert,) = service.record_findings(s, _origin(room, emp, "m1"), [F("abuse", 1, "abuse.insult")])
        s.commit()
        with pytest.raises(Conflict):
            service.transition(s, reviewer(), alert.id, "resolved")
        service.transition(s, reviewer(), alert.id, "claimed", "looking")
        with pytest.raises(Conflict):
            service.transition(s, reviewer("other"), alert.id, "resolved")  # claimed by someone else
        service.transition(s, reviewer(), alert.id, "escalated", "needs legal")
        service.transition(s, reviewer("legal"), alert.id, "resolved", "warned employee")
        with pytest.raises(Conflict):
            service.transition(s, reviewer(), alert.id, "open")
        s.commit()
        hist = service.history(s, reviewer(), alert.id)
        assert [(h.from_status, h.to_status) for h in hist] == [
            (None, "open"),
            ("open", "claimed"),
            ("claimed", "escalated"),
            ("escalated", "resolved"),
        ]
        assert hist[1].actor == "officer" and hist[3].note == "warned employee"


def test_queue_order_and_permissions(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        service.record_findings(s, _origin(room, emp, "m1"), [F("abuse", 1, "r1")])
        service.record_findings(s, _origin(room, emp, "m2"), [F("guaranteed_return", 2, "r2")])
        service.record_findings(s, _origin(room, emp, "m3"), [F("complaint", 1, "r3")])
        s.commit()
        q = service.queue(s, reviewer())
        assert [a.rule for a in q] == ["r2", "r1", "r3"]
        assert [a.rule for a in service.queue(s, reviewer(), complaint_only=True)] == ["r3"]
        with pytest.raises(Forbidden):
            service.queue(s, Principal(username="aud", roles=frozenset({Role.AUDITOR})))


def test_precision_report(db: sessionmaker[Session]) -> None:
    with db() as s:
        _room, emp, _ = _setup(s)
        ids = []
        for i in range(4):
            r = Room(source="wecom", source_room_id=f"g{i}", kind="group")
            s.add(r)
            s.flush()
            ids.append(service.record_findings(s, _origin(r, emp, f"m{i}"), [F("abuse", 1, "abuse.x")])[0].id)
        s.commit()
        for i, aid in enumerate(ids):
            service.transition(s, reviewer(), aid, "claimed")
            service.transition(s, reviewer(), aid, "false_positive" if i == 0 else "resolved")
        s.commit()
        (row,) = service.precision_report(s, reviewer())
        assert (row.rule, row.confirmed, row.false_positive, row.precision) == ("abuse.x", 3, 1, 0.75)


def test_sampling_only_takes_unflagged_rooms(db: sessionmaker[Session]) -> None:
    with db() as s:
        room, emp, _ = _setup(s)
        quiet = Room(source="wecom", source_room_id="quiet", kind="single")
        s.add(quiet)
        s.flush()
        for r, mid in ((room, "a"), (quiet, "b")):
            s.add(
                Message(
                    source="wecom",
                    source_msgid=mid,
                    room_id=r.id,
                    sender="seller",
                    msgtime=T0,
                    msgtype="text",
                    blob_key="k",
                    blob_offset=0,
                    blob_length=1,
                    key_id="k1",
                    content_sha256="0",
                )
            )
        service.record_findings(s, _origin(room, emp, "a"), [F("abuse", 1, "abuse.x")])
        s.flush()
        sampled = service.sample_unflagged(s, rate=1.0, since=T0 - timedelta(days=1), rng=random.Random(1))
        assert [a.room_id for a in sampled] == [quiet.id] and sampled[0].tier == 0 and sampled[0].sampled
        assert service.sample_unflagged(s, rate=0.0, since=T0 - timedelta(days=1)) == []
        s.commit()
        assert s.execute(select(Alert).where(Alert.sampled.is_(True))).scalars().all()
