"""The `chatvault risk scan` contract: both input shapes, findings fields, bad lines never stop it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_scan_contract(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b"\n".join(
            [
                json.dumps(
                    {"id": "m1", "text": "加我私人微信聊", "sender_role": "employee"}, ensure_ascii=False
                ).encode(),
                b"{broken",
                json.dumps({"id": "m2", "text": 42}).encode(),
                json.dumps(
                    {"id": "c1", "messages": [{"sender_role": "customer", "text": "我要去消协投诉"}]},
                    ensure_ascii=False,
                ).encode(),
                b"[1,2]",
                json.dumps(
                    {"id": "m3", "text": "今天天气不错", "sender_role": "customer"}, ensure_ascii=False
                ).encode(),
            ]
        )
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "risk", "scan", str(src), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6
    assert rows[0]["id"] == "m1" and rows[0]["labels"] == ["contact_diversion"]
    f = rows[0]["findings"][0]
    assert set(f) == {"category", "tier", "rule", "span", "message_index"} and f["tier"] == 2
    assert rows[1] == {"id": None, "error": rows[1]["error"]} and "JSON" in rows[1]["error"]
    assert rows[2]["id"] == "m2" and "error" in rows[2]
    assert rows[3]["labels"] == ["complaint"] and rows[3]["findings"][0]["message_index"] == 0
    assert "error" in rows[4]
    assert rows[5] == {"id": "m3", "labels": [], "findings": []}
