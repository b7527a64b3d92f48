"""The auditor's service: only `read_audit` reads or verifies the log, filters combine, bad input is a
clear error, and every look at the log is logged (SQLite and real PostgreSQL)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.errors import Forbidden, InvalidInput
from archive.kit.timeutil import utcnow
from archive.store.blobs import LocalBlobStore
from audit import log, review
from audit.anchors import anchor_key, write_anchor
from audit.principal import Principal, Role

AUDITOR = Principal(username="aud", roles=frozenset({Role.AUDITOR}))
COMPLIANCE = Principal(username="officer", roles=frozenset({Role.COMPLIANCE}))


def _seed(s: Session) -> None:
    log.append(s, actor="officer", action="content.search", target_ids=["m1", "m_2"], query="q")
    log.append(s, actor="officer", action="content.read", target_ids=["m1"])
    log.append(s, actor="boss", action="content.read", target_ids=["m%"])
    s.commit()


def test_filters_combine_and_the_reading_is_logged(db: sessionmaker[Session]) -> None:
    with db() as s:
        _seed(s)
        f = review.EntryFilters
        assert [e.action for e in review.entries(s, AUDITOR, f(actor="officer"))] == [
            "content.read",
            "content.search",
        ]
        assert [e.actor for e in review.entries(s, AUDITOR, f(target_id="m1", action="content.read"))] == [
            "officer"
        ]
        # an id's % and _ are literal, not wildcards
        assert [e.actor for e in review.entries(s, AUDITOR, f(target_id="m%"))] == ["boss"]
        assert review.entries(s, AUDITOR, f(target_id="m_")) == []
        later = utcnow() + timedelta(hours=1)
        assert review.entries(s, AUDITOR, f(since=later)) == []
        s.commit()
        reads = review.entries(s, AUDITOR, f(actor="aud", action="audit.read"))
        assert len(reads) == 5 and reads[-1].detail["filters"] == {"actor": "officer"}


def test_only_read_audit_and_bad_input(db: sessionmaker[Session], tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.ensure_ready()
    key = anchor_key(secrets.token_bytes(32))
    with db() as s:
        _seed(s)
        with pytest.raises(Forbidden):
            review.entries(s, COMPLIANCE, review.EntryFilters())
        with pytest.raises(Forbidden):
            review.verify(s, COMPLIANCE, blobs, key)
        with pytest.raises(InvalidInput):
            review.entries(s, AUDITOR, review.EntryFilters(), limit=review.MAX_PAGE + 1)
        now = utcnow()
        with pytest.raises(InvalidInput):
            review.entries(s, AUDITOR, review.EntryFilters(since=now, until=now))
        write_anchor(s, blobs, key)
        v = review.verify(s, AUDITOR, blobs, key)
        assert v.ok and (v.entries, v.anchors) == (3, 1)
        s.commit()
        assert [e.action for e in review.entries(s, AUDITOR, review.EntryFilters(actor="aud"))] == [
            "audit.verify"
        ]
