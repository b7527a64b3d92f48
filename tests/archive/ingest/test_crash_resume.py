"""kill -9 at random moments, then rerun: every valid message is stored exactly once and every bad line
is quarantined exactly once (real PostgreSQL + MinIO)."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from archive.ingest.models import QuarantineEntry
from archive.kit.settings import Settings
from archive.migrate import upgrade
from archive.runtime import Runtime
from archive.store.keyring import Keyring
from archive.store.models import Message
from archive.store.verify import verify
from tests.helpers import ROOT, dispose_runtime

sys.path.insert(0, str(ROOT))
from benchmarks.gen_wecom import generate


def _file(tmp_path: Path, n: int, bad_every: int) -> tuple[Path, set[str], int]:
    raw = tmp_path / "gen.jsonl"
    with raw.open("wb") as fh:
        generate(fh, n, seed=11)
    lines = raw.read_bytes().splitlines()
    out, bad, ids = [], 0, set()
    for i, line in enumerate(lines):
        out.append(line)
        ids.add(json.loads(line).get("msgid", ""))
        if i % bad_every == 0:
            out.append(line[: len(line) // 2])  # truncated JSON
            bad += 1
    ids.discard("")
    path = tmp_path / "crashy.jsonl"
    path.write_bytes(b"\n".join(out) + b"\n")
    return path, ids, bad


def _orphans_gone(marker: str, timeout: float = 10.0) -> bool:
    """No process left whose command line names the file (the importer's forked workers share it)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path("/proc", pid, "cmdline").read_bytes()
                zombie = Path("/proc", pid, "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            except (OSError, IndexError):
                continue
            if marker.encode() in cmdline and not zombie:
                alive.append(pid)
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_kill_dash_nine_then_resume(fresh_pg_url: str, minio_conf: dict[str, str], tmp_path: Path) -> None:
    path, ids, bad = _file(tmp_path, 6000, 97)
    keyring = tmp_path / "keyring.json"
    Keyring.generate(keyring).save()
    env = {
        **os.environ,
        "CHATVAULT_PROFILE": "production",
        "CHATVAULT_DATABASE_URL": fresh_pg_url,
        "CHATVAULT_BLOB_BACKEND": "minio",
        "CHATVAULT_MINIO_ENDPOINT": minio_conf["endpoint"],
        "CHATVAULT_MINIO_ACCESS_KEY": minio_conf["access_key"],
        "CHATVAULT_MINIO_SECRET_KEY": minio_conf["secret_key"],
        "CHATVAULT_MINIO_BUCKET": minio_conf["bucket"],
        "CHATVAULT_SEARCH_BACKEND": "sql",
        "CHATVAULT_JWT_SECRET": secrets.token_urlsafe(40),
        "CHATVAULT_KEYRING_PATH": str(keyring),
        "CHATVAULT_INGEST_BATCH_SIZE": "40",
        "CHATVAULT_INGEST_COMMIT_LINES": "120",  # three batches a transaction: killed inside one too
        "CHATVAULT_INGEST_WORKERS": "2",  # the prepare stage in worker processes, which die with it
        "CHATVAULT_DATA_DIR": str(tmp_path / "data"),
    }
    cmd = [sys.executable, "-m", "api.cli", "import", str(path), "--json"]
    rng = random.Random(20261123)
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.0, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        assert _orphans_gone(str(path)), "worker processes outlived a killed importer"
    final = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    assert kills >= 3  # the file is big enough that most runs were really interrupted
    rt = Runtime.from_settings(
        Settings(**{k[len("CHATVAULT_") :].lower(): v for k, v in env.items() if k.startswith("CHATVAULT_")})
    )
    upgrade(rt.engine)
    try:
        with rt.sessions() as s:
            stored = list(s.execute(select(Message.source_msgid)).scalars())
            assert len(stored) == len(set(stored)) == len(ids)
            assert set(stored) == ids
            assert s.execute(select(func.count()).select_from(QuarantineEntry)).scalar_one() == bad
        report = verify(rt.sessions, rt.blobs, rt.envelope, sample=200)
        assert report.ok, report.problems[:5]
    finally:
        dispose_runtime(rt)
