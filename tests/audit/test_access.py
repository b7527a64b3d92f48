"""The one access path: roles, data scopes (own / department subtree / all), masking for outsourced
staff, watermark, and an audit row for every read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.customers.service import import_directory, parse_directory
from archive.ingest.pipeline import Importer
from archive.kit.errors import Forbidden
from archive.runtime import Runtime
from archive.search.service import search
from archive.store.models import AccessAudit, Department, Employee, Message
from archive.store.records import RecordReader
from audit.access import read_one
from audit.masking import mask_pii
from audit.principal import Principal, Role, operator

MSGS = [
    {
        "source": "crm",
        "msgid": "a1",
        "from": "alice",
        "time": 1715000000000,
        "text": "客户电话13805712266已登记",
    },
    {
        "source": "crm",
        "msgid": "b1",
        "from": "bob",
        "time": 1715000001000,
        "text": "客户电话13917265503已登记",
    },
]


@pytest.fixture
def rt(runtime: Runtime, tmp_path: Path) -> Runtime:
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(m, ensure_ascii=False) for m in MSGS) + "\n")
    with runtime.sessions.begin() as s:
        import_directory(
            s,
            operator(),
            parse_directory(
                {
                    "departments": [
                        {"id": "1", "name": "总部"},
                        {"id": "2", "name": "一部", "parent": "1"},
                        {"id": "3", "name": "二部", "parent": "1"},
                    ],
                    "employees": [
                        {"userid": "alice", "department": "2"},
                        {"userid": "bob", "department": "3"},
                    ],
                }
            ),
        )
    summary = Importer(runtime).import_file(path, fmt="generic")
    assert summary.imported == 2, summary.as_dict()
    runtime.search.refresh()
    return runtime


def _ids(rt: Runtime, who: Principal) -> set[str]:
    with rt.sessions() as s:
        hits = search(s, rt, who, "客户电话", limit=0).hits
        s.commit()
    return {h.msgid for h in hits}


def _emp(rt: Runtime, userid: str) -> int:
    with rt.sessions() as s:
        return s.execute(select(Employee.id).where(Employee.userid == userid)).scalar_one()


def _dept(rt: Runtime, wecom_id: str) -> int:
    with rt.sessions() as s:
        return s.execute(select(Department.id).where(Department.wecom_id == wecom_id)).scalar_one()


def test_scopes(rt: Runtime) -> None:
    assert _ids(rt, Principal("c", frozenset({Role.COMPLIANCE}))) == {"a1", "b1"}
    assert _ids(rt, Principal("m", frozenset({Role.MANAGER}), scope_department_ids=(_dept(rt, "2"),))) == {
        "a1"
    }
    assert _ids(rt, Principal("head", frozenset({Role.MANAGER}), scope_department_ids=(_dept(rt, "1"),))) == {
        "a1",
        "b1",
    }
    assert _ids(rt, Principal("alice", frozenset({Role.EMPLOYEE}), employee_id=_emp(rt, "alice"))) == {"a1"}
    with pytest.raises(Forbidden):
        _ids(rt, Principal("aud", frozenset({Role.AUDITOR})))
    with pytest.raises(Forbidden):
        _ids(rt, Principal("adm", frozenset({Role.ADMIN})))  # separation of duties


def test_outsourced_see_masked_pii_and_reads_are_audited(rt: Runtime) -> None:
    outsider = Principal("o1", frozenset({Role.OUTSOURCED}), employee_id=_emp(rt, "alice"))
    with rt.sessions() as s:
        (hit,) = search(s, rt, outsider, "客户电话", limit=0).hits
        assert "138****2266" in hit.text and "13805712266" not in hit.text
        assert "13805712266" not in json.dumps(hit.record, ensure_ascii=False)
        assert hit.watermark.startswith("o1 ")
        bob_msg = s.execute(select(Message).where(Message.source_msgid == "b1")).scalar_one()
        with pytest.raises(Forbidden):
            read_one(s, RecordReader(rt.blobs, rt.envelope), outsider, bob_msg.id)
        s.commit()
        rows = s.execute(select(AccessAudit).where(AccessAudit.actor == "o1")).scalars().all()
        assert rows and rows[0].detail["masked"] is True and rows[0].query == "客户电话"


def test_mask_pii() -> None:
    assert mask_pii("电话13805712266") == "电话138****2266"
    assert mask_pii("卡6222021001123456789") == "卡6222***********6789"
