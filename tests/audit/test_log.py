"""The hash-chained access log finds edits, deletions and reordering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from archive.migrate import upgrade
from archive.store.db import make_engine, make_sessionmaker
from archive.store.models import AccessAudit
from audit import log


@pytest.fixture(params=["sqlite", "postgres"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'a.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with factory() as s:
        s.execute(delete(AccessAudit))
        yield s
        s.rollback()
        s.execute(delete(AccessAudit))
        s.commit()
    engine.dispose()


def _fill(session: Session, n: int = 5) -> list[AccessAudit]:
    rows = [
        log.append(session, actor=f"u{i}", action="content.read", target_ids=[f"m{i}"], query="q")
        for i in range(n)
    ]
    session.commit()
    return rows


def test_intact_chain_verifies(session: Session) -> None:
    _fill(session)
    report = log.verify_chain(session)
    assert report.ok and report.entries == 5


def test_edited_entry_is_found(session: Session) -> None:
    rows = _fill(session)
    session.execute(update(AccessAudit).where(AccessAudit.id == rows[2].id).values(actor="someone-else"))
    session.commit()
    report = log.verify_chain(session)
    assert not report.ok and report.first_bad_id == rows[2].id


def test_deleted_entry_is_found(session: Session) -> None:
    rows = _fill(session)
    session.execute(delete(AccessAudit).where(AccessAudit.id == rows[1].id))
    session.commit()
    report = log.verify_chain(session)
    assert not report.ok and report.first_bad_id == rows[2].id


def test_reordered_entries_are_found(session: Session) -> None:
    rows = _fill(session)
    a, b = rows[1], rows[3]
    fields = ("actor", "target_ids", "prev_hash", "hash")
    va, vb = ({f: getattr(r, f) for f in fields} for r in (a, b))
    session.execute(update(AccessAudit).where(AccessAudit.id == a.id).values(**vb))
    session.execute(update(AccessAudit).where(AccessAudit.id == b.id).values(**va))
    session.commit()
    assert not log.verify_chain(session).ok
