"""The `chatvault` command line on embedded defaults, as a user types it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, SAMPLE


def run(data: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATVAULT_DATA_DIR": str(data)}
    for k in list(env):
        if (
            k.startswith("CHATVAULT_")
            and k not in ("CHATVAULT_DATA_DIR",)
            and not k.startswith("CHATVAULT_TEST_")
        ):
            del env[k]
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_import_search_verify_rotate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = json.loads(
        run(data, "import", str(SAMPLE), "--json", "--media", str(SAMPLE.parent / "media")).stdout
    )
    assert {"imported", "duplicates", "quarantined", "by_msgtype"} <= set(summary)
    assert (summary["imported"], summary["duplicates"], summary["quarantined"]) == (159, 2, 0)
    assert summary["media"] == {"ok": 21}

    hits = [
        json.loads(line)
        for line in run(data, "search", "支付宝", "--json", "--limit", "0").stdout.splitlines()
    ]
    assert hits and all({"msgid", "msgtime", "text"} <= set(h) for h in hits)
    assert any("转我个人支付宝" in h["text"] for h in hits)
    one = run(data, "search", "的", "--json", "--limit", "3").stdout.splitlines()
    assert len(one) == 3

    assert run(data, "verify", "--json").returncode == 0
    rotated = run(data, "keys", "rotate").stdout
    assert "re-wrapped 159 data keys" in rotated
    assert json.loads(run(data, "verify", "--json").stdout)["ok"] is True

    assert run(data, "search", "   ", ok=False).returncode == 2  # a clear error, not a traceback
    bad = run(data, "import", str(tmp_path / "missing.jsonl"), ok=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr

    assert "scanned=159" in run(data, "risk", "rescan", "--since", "2024-01-01").stdout
    lex = json.loads(run(data, "risk", "lexicon", "export").stdout)
    lex["rules"] = [r for r in lex["rules"] if r["category"] != "abuse"]
    lex["version"] = "no-abuse-1"
    path = tmp_path / "lex.json"
    path.write_text(json.dumps(lex, ensure_ascii=False))
    assert "no-abuse-1" in run(data, "risk", "lexicon", "import", str(path)).stdout
    assert "no-abuse-1" in run(data, "risk", "lexicon", "list").stdout
    path.write_text("{not json")
    assert run(data, "risk", "lexicon", "import", str(path), ok=False).returncode == 2


def test_audit_anchor_and_verify_find_a_cut_log(tmp_path: Path) -> None:
    """`audit anchor` (and `jobs`) anchor the access log in the blob directory; `audit verify` then finds
    entries deleted from the end of the log, which the hash chain alone cannot show."""
    import sqlite3

    data = tmp_path / "data"
    run(data, "import", str(SAMPLE))
    run(data, "search", "支付宝")  # audited reads
    run(data, "search", "微信")
    assert "anchored=1" in run(data, "jobs").stdout
    assert "nothing to anchor" in run(data, "audit", "anchor").stdout
    run(data, "search", "保证")
    assert "anchored entry" in run(data, "audit", "anchor").stdout
    assert "held against 2 anchors" in run(data, "audit", "verify").stdout

    with sqlite3.connect(data / "chatvault.db") as db:
        db.execute("DELETE FROM access_audit WHERE id = (SELECT max(id) FROM access_audit)")
    cut = run(data, "audit", "verify", ok=False)
    assert cut.returncode == 1 and "removed from its end" in cut.stderr and "Traceback" not in cut.stderr
