"""Lexicon versions in the database: admins edit, changes are recorded and picked up without restart;
a rescan applies them to the archive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from archive.ingest.pipeline import Importer
from archive.kit.errors import Forbidden, InvalidInput
from archive.kit.timeutil import utcnow
from archive.risk import service
from archive.risk.models import Alert
from archive.risk.rescan import rescan
from archive.runtime import Runtime
from archive.store.models import AccessAudit, Message
from audit.principal import Principal, Role, operator
from tests.helpers import SAMPLE

RULE = {"category": "complaint", "match": "exact", "terms": ["质量问题"], "sender": "customer", "tier": 1}


def test_edit_is_versioned_audited_and_hot_reloaded(runtime: Runtime) -> None:
    rt = runtime
    assert rt.analyzer.scan_message("都是质量问题", "customer").labels == []
    with rt.sessions.begin() as s:
        row = service.upsert_rule(s, operator(), {"id": "cp.quality", **RULE}, "quality complaints")
        assert row.change == "quality complaints" and row.actor == "local-operator"
    rt.refresh_lexicon()  # what the pipeline does before each batch
    assert rt.analyzer.scan_message("都是质量问题", "customer").labels == ["complaint"]
    with rt.sessions() as s:
        entry = s.execute(select(AccessAudit).where(AccessAudit.action == "lexicon.update")).scalar_one()
        assert entry.detail["added"] == ["cp.quality"] and entry.actor == "local-operator"
    with rt.sessions.begin() as s:
        service.delete_rule(s, operator(), "cp.quality")
    rt.refresh_lexicon()
    assert rt.analyzer.scan_message("都是质量问题", "customer").labels == []


def test_bad_edits_change_nothing(runtime: Runtime) -> None:
    with runtime.sessions() as s:
        before = service.lexicon_state(s)
        with pytest.raises(InvalidInput):
            service.upsert_rule(s, operator(), {"id": "x", "category": "nope", "terms": ["a"]})
        with pytest.raises(Forbidden):
            service.save_lexicon(
                s, Principal("c", frozenset({Role.COMPLIANCE})), {"version": "1", "rules": []}, "x"
            )
        s.rollback()
        assert service.lexicon_state(s) == before


def test_rescan_applies_a_new_rule_to_the_archive(runtime: Runtime) -> None:
    rt = runtime
    Importer(rt).import_file(SAMPLE)
    with rt.sessions.begin() as s:
        service.upsert_rule(s, operator(), {"id": "cp.quality", **RULE, "terms": ["排班表"], "sender": "any"})
    summary = rescan(rt, utcnow() - timedelta(days=365 * 5), batch=40)
    assert summary.scanned == 159 and summary.changed >= 1
    with rt.sessions() as s:
        flagged = s.execute(select(Message).where(Message.msgtype == "file")).scalars().all()
        assert any("complaint" in m.risk_labels for m in flagged)
        assert s.execute(select(Alert).where(Alert.rule == "cp.quality")).scalars().first() is not None
