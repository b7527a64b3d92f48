"""Alerts and the review workflow. Findings above tier 0 become alerts, deduplicated per room, rule and
time window, each listing at most ALERT_MESSAGES messages. Tier 2 notifies the employee's supervisor; tier 3 freezes the employee (their sessions end)
and notifies compliance. Notifications go through the outbox (topic "notify")."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from archive.kit.errors import Conflict, InvalidInput, NotFound
from archive.kit.ids import new_id
from archive.kit.timeutil import aware, utcnow
from archive.risk.analyzer import Analyzer
from archive.risk.lexicon import Lexicon, Rule
from archive.risk.models import Alert, AlertEvent, LexiconVersion
from archive.store.models import Employee, Message, OutboxEvent, UserAccount
from audit import log
from audit.access import department_subtree, require
from audit.principal import Action, Principal

DEDUPE_WINDOW = timedelta(hours=24)
# An alert lists at most about this many messages (a finding of a conversation window may add its few
# messages past it); the next finding of its room and rule opens a new alert. Without a bound, a room where
# a rule keeps firing at least once a day kept one alert whose list grew without end, was loaded by every
# import batch touching the room and rewritten whole on each extension (quadratic in the room's findings).
# Each flagged message also carries its labels, so a search of the room and window finds them all anyway.
ALERT_MESSAGES = 200
ACTIVE = ("open", "claimed", "escalated")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"claimed", "escalated", "false_positive"}),
    "claimed": frozenset({"open", "escalated", "resolved", "false_positive"}),
    "escalated": frozenset({"claimed", "resolved", "false_positive"}),
    "resolved": frozenset(),
    "false_positive": frozenset(),
}


class FindingLike(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def tier(self) -> int: ...
    @property
    def rule(self) -> str: ...


@dataclass(frozen=True)
class Origin:
    """Where findings came from: the room, the employee on our side, and the contributing messages."""

    room_id: int
    employee_id: int | None
    department_id: int | None
    message_ids: tuple[str, ...]
    msgtime: datetime


_ALERTS = cast(Table, Alert.__table__)
_SUPERVISOR = aliased(Employee)
# statements built once: built per call, they and their cache keys showed in the import's profile
_ACTIVE_IN_ROOMS = select(Alert).where(
    Alert.room_id.in_(bindparam("rooms", expanding=True)), Alert.status.in_(ACTIVE)
)
_RECENT_IN_ROOMS = _ACTIVE_IN_ROOMS.where(Alert.window_end >= bindparam("since"))
_STAFF = (
    select(Employee.id, Employee.userid, Employee.status, _SUPERVISOR.userid)
    .outerjoin(_SUPERVISOR, _SUPERVISOR.id == Employee.supervisor_id)
    .where(Employee.id.in_(bindparam("ids", expanding=True)))
)
_INSERT_ALERTS = insert(_ALERTS)
_INSERT_EVENTS = insert(cast(Table, AlertEvent.__table__))
_INSERT_OUTBOX = insert(cast(Table, OutboxEvent.__table__))
_EXTEND = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("b_id"))
    .values(
        message_ids=bindparam("b_message_ids", type_=_ALERTS.c.message_ids.type),
        hits=bindparam("b_hits"),
        window_end=bindparam("b_window_end", type_=_ALERTS.c.window_end.type),
        updated_at=bindparam("b_updated_at", type_=_ALERTS.c.updated_at.type),
    )
)
_ALERT_COLUMNS = tuple(c.key for c in _ALERTS.columns)


@dataclass
class _Staff:
    """What the tier actions need to know of an employee."""

    id: int
    userid: str
    status: str
    supervisor: str | None  # the supervisor's userid


class AlertBook:
    """The latest active alert per (room, rule) of a set of rooms, loaded with one query, so that a batch
    of findings costs one SELECT instead of one per finding; and what the findings change (new alerts,
    extended ones), kept until `write` stores it all with one statement per table instead of an ORM flush
    and a few lookups per alert.

    `earliest`: the time of the batch's earliest finding. Alerts whose window ended more than
    DEDUPE_WINDOW before it cannot be extended by any finding of the batch, so they are not loaded (an
    import's batches would otherwise load and carry every active alert of a busy room, message ids and
    all, again and again)."""

    def __init__(self, session: Session, room_ids: Iterable[int], earliest: datetime | None = None) -> None:
        self._latest: dict[tuple[int, str], Alert] = {}
        self._created: list[Alert] = []
        self._extended: dict[str, Alert] = {}
        self._staff: dict[int, _Staff | None] = {}
        rooms = sorted(set(room_ids))
        if earliest is None:
            query, params = _ACTIVE_IN_ROOMS, {}
        else:
            query, params = _RECENT_IN_ROOMS, {"since": aware(earliest) - DEDUPE_WINDOW}
        for i in range(0, len(rooms), 500):
            for alert in session.execute(query, {"rooms": rooms[i : i + 500], **params}).scalars():
                self.put(alert)

    def get(self, room_id: int, rule: str) -> Alert | None:
        return self._latest.get((room_id, rule))

    def put(self, alert: Alert) -> None:
        key = (alert.room_id, alert.rule)
        held = self._latest.get(key)
        if held is None or aware(held.window_end) <= aware(alert.window_end):
            self._latest[key] = alert

    def create(self, alert: Alert) -> None:
        """A new alert, every column set (id included): `get` finds it at once, `write` stores it."""
        self._created.append(alert)
        self.put(alert)

    def extend(self, alert: Alert, message_ids: Iterable[str], at: datetime) -> None:
        """Add a finding's messages (if any is new: one more hit) and time to an alert. The change is made
        past the ORM's change tracking (no flush of its own): `write` stores it."""
        new_ids = [m for m in message_ids if m not in alert.message_ids]
        end = max(aware(alert.window_end), at)
        if not new_ids and end == aware(alert.window_end):
            return
        if new_ids:
            set_committed_value(alert, "message_ids", [*alert.message_ids, *new_ids])
            set_committed_value(alert, "hits", alert.hits + 1)
        set_committed_value(alert, "window_end", end)
        set_committed_value(alert, "updated_at", utcnow())
        self._extended[alert.id] = alert

    def write(self, session: Session) -> None:
        """Store the changes made since the last write: one UPDATE for the extended alerts, one INSERT for
        the new ones (in creation order) and one for their opening events; then each new alert's tier
        actions and one INSERT of their notifications. New alerts join the session as persistent objects."""
        created, self._created = self._created, []
        extended, self._extended = self._extended, {}
        for alert in created:
            extended.pop(alert.id, None)  # inserted as it is now
        conn = session.connection()  # plain Core statements: the session's ORM layer adds only cost
        if extended:
            conn.execute(
                _EXTEND,
                [
                    {
                        "b_id": a.id,
                        "b_message_ids": a.message_ids,
                        "b_hits": a.hits,
                        "b_window_end": a.window_end,
                        "b_updated_at": a.updated_at,
                    }
                    for a in extended.values()
                ],
            )
        if not created:
            return
        conn.execute(_INSERT_ALERTS, [{c: getattr(a, c) for c in _ALERT_COLUMNS} for a in created])
        conn.execute(
            _INSERT_EVENTS,
            [{"alert_id": a.id, "at": a.created_at, "actor": "system", "to_status": "open"} for a in created],
        )
        for alert in created:
            make_transient_to_detached(alert)
            session.add(alert)
        self._load_staff(
            session, [a.employee_id for a in created if a.tier >= 2 and a.employee_id is not None]
        )
        notices: list[dict[str, Any]] = []
        for alert in created:
            _tier_actions(session, alert, self._staff, notices)
        if notices:
            conn.execute(_INSERT_OUTBOX, notices)

    def _load_staff(self, session: Session, employee_ids: Iterable[int]) -> None:
        """One query for the employees (and their supervisors' userids) not yet known to this book."""
        missing = sorted({i for i in employee_ids if i not in self._staff})
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            for employee_id in chunk:
                self._staff[employee_id] = None
            for employee_id, userid, status, supervisor in session.execute(_STAFF, {"ids": chunk}):
                self._staff[employee_id] = _Staff(employee_id, userid, status, supervisor)


def _latest_active(session: Session, room_id: int, rule: str) -> Alert | None:
    return session.execute(
        select(Alert)
        .where(Alert.room_id == room_id, Alert.rule == rule, Alert.status.in_(ACTIVE))
        .order_by(Alert.window_end.desc())
        .limit(1)
    ).scalar_one_or_none()


def record_findings(
    session: Session, origin: Origin, findings: Iterable[FindingLike], book: AlertBook | None = None
) -> list[Alert]:
    """Create or extend alerts for the findings of one message (or one conversation window). `book`
    (covering origin.room_id) replaces the per-finding lookup of the active alert and keeps the changes
    until `book.write(session)`, which the caller must call before the transaction ends; without a book
    they are written before this returns."""
    touched: list[Alert] = []
    seen: set[str] = set()
    at = aware(origin.msgtime)  # SQLite hands back naive datetimes
    changes = book if book is not None else AlertBook(session, ())
    for f in sorted(findings, key=lambda f: -f.tier):
        # one alert per category per message: several rules agreeing is one event for a reviewer
        if f.tier <= 0 or f.category in seen:
            continue
        seen.add(f.category)
        # without a book, `changes` holds only the alerts created by this call: one of them is the latest
        # for its rule (a new alert's window ends after that of the alert it did not extend)
        alert = changes.get(origin.room_id, f.rule)
        if alert is None and book is None:
            alert = _latest_active(session, origin.room_id, f.rule)
        if (
            alert is not None
            and aware(alert.window_end) >= at - DEDUPE_WINDOW
            and len(alert.message_ids) < ALERT_MESSAGES
        ):
            changes.extend(alert, origin.message_ids, at)
            touched.append(alert)
            continue
        now = utcnow()
        alert = Alert(
            id=new_id(),
            room_id=origin.room_id,
            employee_id=origin.employee_id,
            department_id=origin.department_id,
            category=f.category,
            rule=f.rule,
            tier=f.tier,
            status="open",
            assignee=None,
            message_ids=list(origin.message_ids),
            hits=1,
            window_start=at,
            window_end=at,
            complaint=f.category == "complaint",
            sampled=False,
            created_at=now,
            updated_at=now,
        )
        changes.create(alert)
        touched.append(alert)
    if book is None:
        changes.write(session)
    return touched


def _notice(alert: Alert, audience: str, recipient: str | None) -> dict[str, Any]:
    return {
        "topic": "notify",
        "payload": {
            "audience": audience,
            "recipient": recipient,
            "alert_id": alert.id,
            "category": alert.category,
            "tier": alert.tier,
            "rule": alert.rule,
            "room_id": alert.room_id,
            "employee_id": alert.employee_id,
        },
    }


def _tier_actions(
    session: Session, alert: Alert, staff: dict[int, _Staff | None], notices: list[dict[str, Any]]
) -> None:
    employee = staff.get(alert.employee_id) if alert.employee_id is not None else None
    if alert.tier >= 3:
        if employee is not None and employee.status != "frozen":
            employee.status = "frozen"
            _freeze(session, employee, alert)
        notices.append(_notice(alert, "compliance", None))
    elif alert.tier == 2:
        notices.append(_notice(alert, "supervisor", employee.supervisor if employee else None))


def _freeze(session: Session, employee: _Staff, alert: Alert) -> None:
    """Freeze the employee (through the ORM: the session may hold them) and end their sessions."""
    record = session.get(Employee, employee.id)
    if record is not None:
        record.status = "frozen"
    session.execute(
        update(UserAccount)
        .where(UserAccount.employee_id == employee.id)
        .values(token_version=UserAccount.token_version + 1)
    )
    log.append(
        session,
        actor="system",
        action="employee.freeze",
        target_ids=[employee.userid],
        detail={"alert_id": alert.id, "rule": alert.rule},
    )


def _visible(session: Session, caller: Principal) -> Any:
    if caller.sees_all:
        return None
    if caller.scope_department_ids is not None:
        return Alert.department_id.in_(department_subtree(session, caller.scope_department_ids))
    return Alert.employee_id == caller.employee_id if caller.employee_id is not None else Alert.id.is_(None)


def queue(
    session: Session,
    caller: Principal,
    *,
    statuses: Sequence[str] = ACTIVE,
    complaint_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Alert]:
    """The review queue: highest tier first, then oldest first."""
    require(caller, Action.REVIEW_ALERTS)
    bad = [s for s in statuses if s not in TRANSITIONS]
    if bad:
        raise InvalidInput(f"unknown status {bad[0]!r}")
    q = select(Alert).where(Alert.status.in_(list(statuses)))
    scope = _visible(session, caller)
    if scope is not None:
        q = q.where(scope)
    if complaint_only:
        q = q.where(Alert.complaint.is_(True))
    q = q.order_by(Alert.tier.desc(), Alert.created_at.asc(), Alert.id).limit(limit).offset(offset)
    return list(session.execute(q).scalars())


def get_alert(session: Session, caller: Principal, alert_id: str) -> Alert:
    require(caller, Action.REVIEW_ALERTS)
    alert = session.get(Alert, alert_id)
    scope = _visible(session, caller)
    if alert is None or (
        scope is not None
        and not session.execute(select(Alert.id).where(Alert.id == alert_id, scope)).scalar_one_or_none()
    ):
        raise NotFound(f"alert {alert_id} not found")
    return alert


def transition(
    session: Session, caller: Principal, alert_id: str, to_status: str, note: str | None = None
) -> Alert:
    alert = get_alert(session, caller, alert_id)
    if to_status not in TRANSITIONS:
        raise InvalidInput(f"unknown status {to_status!r}")
    if to_status not in TRANSITIONS[alert.status]:
        raise Conflict(f"an alert that is {alert.status} cannot become {to_status}")
    if (
        alert.status == "claimed"
        and alert.assignee not in (None, caller.username)
        and to_status != "escalated"
    ):
        raise Conflict(f"alert is claimed by {alert.assignee}")
    session.add(
        AlertEvent(
            alert_id=alert.id, actor=caller.username, from_status=alert.status, to_status=to_status, note=note
        )
    )
    alert.assignee = (
        caller.username if to_status == "claimed" else (None if to_status == "open" else alert.assignee)
    )
    alert.status = to_status
    alert.updated_at = utcnow()
    log.append(session, actor=caller.username, action=f"alert.{to_status}", target_ids=[alert.id])
    session.flush()
    return alert


def history(session: Session, caller: Principal, alert_id: str) -> list[AlertEvent]:
    get_alert(session, caller, alert_id)
    return list(
        session.execute(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        ).scalars()
    )


@dataclass(frozen=True)
class RulePrecision:
    rule: str
    confirmed: int
    false_positive: int

    @property
    def precision(self) -> float | None:
        n = self.confirmed + self.false_positive
        return self.confirmed / n if n else None


def precision_report(session: Session, caller: Principal) -> list[RulePrecision]:
    """Per-rule precision from reviewers' decisions (resolved = confirmed, false_positive = not)."""
    require(caller, Action.REVIEW_ALERTS)
    rows = session.execute(
        select(Alert.rule, Alert.status, func.count())
        .where(Alert.status.in_(["resolved", "false_positive"]), Alert.sampled.is_(False))
        .group_by(Alert.rule, Alert.status)
    ).all()
    counts: dict[str, Counter[str]] = {}
    for rule, status, n in rows:
        counts.setdefault(rule, Counter())[status] += n
    report = [RulePrecision(r, c["resolved"], c["false_positive"]) for r, c in counts.items()]
    return sorted(report, key=lambda r: (r.precision if r.precision is not None else 2.0, r.rule))


def sample_unflagged(
    session: Session, *, rate: float, since: datetime, rng: random.Random | None = None
) -> list[Alert]:
    """Put a random share of rooms with messages since `since` but no alert in that period into the queue
    (tier 0, rule "sampling"), so reviewers also see what the analyser did not flag."""
    if not 0.0 <= rate <= 1.0:
        raise InvalidInput("sampling rate must be between 0 and 1")
    rng = rng or random.Random()
    active = session.execute(
        select(
            Message.room_id,
            func.min(Message.employee_id),
            func.min(Message.department_id),
            func.max(Message.msgtime),
        )
        .where(Message.msgtime >= since)
        .group_by(Message.room_id)
    ).all()
    flagged = set(session.execute(select(Alert.room_id).where(Alert.window_end >= since)).scalars())
    created = []
    for room_id, employee_id, department_id, last in active:
        if room_id in flagged or rng.random() >= rate:
            continue
        ids = list(
            session.execute(
                select(Message.id)
                .where(Message.room_id == room_id, Message.msgtime >= since)
                .order_by(Message.msgtime)
                .limit(200)
            ).scalars()
        )
        alert = Alert(
            room_id=room_id,
            employee_id=employee_id,
            department_id=department_id,
            category="sample",
            rule="sampling",
            tier=0,
            message_ids=ids,
            window_start=since,
            window_end=aware(last),
            sampled=True,
        )
        session.add(alert)
        session.flush()
        session.add(
            AlertEvent(
                alert_id=alert.id, actor="system", from_status=None, to_status="open", note="random sample"
            )
        )
        created.append(alert)
    return created


# ----------------------------------------------------------------------------------------------- lexicon


def latest_lexicon(session: Session) -> LexiconVersion | None:
    return session.execute(
        select(LexiconVersion).order_by(LexiconVersion.id.desc()).limit(1)
    ).scalar_one_or_none()


def lexicon_state(session: Session) -> int:
    """Id of the active lexicon version (0: the built-in default). One cheap query: checked per batch."""
    return int(session.execute(select(func.coalesce(func.max(LexiconVersion.id), 0))).scalar_one())


def active_lexicon(session: Session) -> tuple[int, Lexicon]:
    row = latest_lexicon(session)
    if row is None:
        return 0, Lexicon.default()
    return row.id, Lexicon.from_json(row.data)


def refresh_analyzer(session: Session, analyzer: Analyzer, loaded: int) -> int:
    """Hot reload: if an admin saved a newer version (in any process), swap it in. Returns its id."""
    current = lexicon_state(session)
    if current != loaded:
        current, lex = active_lexicon(session)
        analyzer.holder.swap(lex)
    return current


def save_lexicon(session: Session, caller: Principal, data: Any, note: str) -> LexiconVersion:
    """Validate and store a whole lexicon as the new active version; who and what is recorded."""
    require(caller, Action.ADMIN_LEXICON)
    lex = Lexicon.from_json(data)  # raises InvalidInput with the first problem
    _, before = active_lexicon(session)
    old = {r.id: r for r in before.data.rules}
    new = {r.id: r for r in lex.data.rules}
    diff = {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(new) & set(old) if new[k] != old[k]),
    }
    row = LexiconVersion(actor=caller.username, change=note[:256], data=lex.to_json())
    session.add(row)
    session.flush()
    log.append(
        session,
        actor=caller.username,
        action="lexicon.update",
        target_ids=[str(row.id)],
        detail={"version": lex.version, "note": note[:256], **diff},
    )
    return row


def upsert_rule(session: Session, caller: Principal, rule: Any, note: str = "") -> LexiconVersion:
    require(caller, Action.ADMIN_LEXICON)
    _, lex = active_lexicon(session)
    try:
        parsed = Rule.model_validate(rule)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"rule is invalid at {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        ) from None
    rules = [r for r in lex.data.rules if r.id != parsed.id] + [parsed]
    data = {
        **lex.to_json(),
        "rules": [r.model_dump(mode="json") for r in rules],
        "version": _bump(lex.version),
    }
    return save_lexicon(session, caller, data, note or f"rule {parsed.id} saved")


def delete_rule(session: Session, caller: Principal, rule_id: str, note: str = "") -> LexiconVersion:
    require(caller, Action.ADMIN_LEXICON)
    _, lex = active_lexicon(session)
    if rule_id not in {r.id for r in lex.data.rules}:
        raise NotFound(f"rule {rule_id} not found")
    rules = [r.model_dump(mode="json") for r in lex.data.rules if r.id != rule_id]
    return save_lexicon(
        session,
        caller,
        {**lex.to_json(), "rules": rules, "version": _bump(lex.version)},
        note or f"rule {rule_id} deleted",
    )


def lexicon_history(session: Session, caller: Principal, limit: int = 50) -> list[LexiconVersion]:
    require(caller, Action.ADMIN_LEXICON)
    return list(
        session.execute(select(LexiconVersion).order_by(LexiconVersion.id.desc()).limit(limit)).scalars()
    )


def _bump(version: str) -> str:
    head, sep, tail = version.rpartition("-")
    return f"{head}-{int(tail) + 1}" if sep and tail.isdigit() else f"{version}-1"
