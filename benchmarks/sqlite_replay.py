"""SQLite's own CPU for an embedded import, by statement kind, under schema and setting variants.

Imports `--n` generated WeCom messages once (embedded profile, one worker) while recording every SQL
statement with its parameters and every commit, then replays that recording with the driver alone on a
fresh database per variant, variants alternated, `--rounds` times, and prints the minimum CPU
(`time.thread_time`) a message for each kind: the messages insert, the search rows, the FTS5 terms, the
commits (where FTS5 writes its segments and merges them, and WAL checkpoints happen) and the rest. The
replay holds the recording in memory (≈ 1.5 GB for 200 k messages).

usage: python benchmarks/sqlite_replay.py [--n 200000] [--rounds 2] [--variants current,automerge4,...]
variants: see VARIANTS below."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.gen_wecom import generate  # noqa: E402

Recording = list[tuple[str, Any, bool]]  # (statement, parameters, executemany); ("COMMIT", None, False)
_FTS_SET = "INSERT INTO search_index_fts(search_index_fts, rank) VALUES ('{}', {})"
# name -> (PRAGMAs run before the schema exists, statements run after it)
VARIANTS: dict[str, tuple[list[str], list[str]]] = {
    "current": ([], []),
    "automerge4": ([], [_FTS_SET.format("automerge", 4)]),
    "page16k": (["PRAGMA page_size=16384"], []),
    "no-checkpoints": ([], ["PRAGMA wal_autocheckpoint=0"]),
    # the import sets its connection's cache (IMPORT_SQLITE_CACHE_KIB): these replace that statement
    "cache2m": ([], ["PRAGMA cache_size=-2000"]),  # SQLite's default
    "mmap256m": ([], ["PRAGMA mmap_size=268435456"]),  # database pages read through a memory map
    "fts-pgsz4000": ([], [_FTS_SET.format("pgsz", 4000)]),  # FTS5 leaf pages (default 1000 bytes)
    "fts-crisismerge64": ([], [_FTS_SET.format("crisismerge", 64)]),  # (default 16)
    # search_index without its filter and time indexes (filters as FTS5 terms instead)
    "search-no-filter-indexes": (
        [],
        [
            f"DROP INDEX ix_search_index_{c}"
            for c in ("room_id", "sender", "employee_id", "customer_id", "department_id", "time")
        ],
    ),
    # the recall index over every row, as before migration 0004 made it partial
    "recall-index-0003": (
        [],
        [
            "DROP INDEX ix_messages_recall_of_msgid",
            "CREATE INDEX ix_messages_recall_of_msgid ON messages (recall_of_msgid)",
        ],
    ),
    "cache64m": ([], ["PRAGMA cache_size=-65536"]),
    "no-foreign-keys": ([], ["PRAGMA foreign_keys=OFF"]),
    # the indexes migration 0003 dropped, back
    "messages-indexes-0002": (
        [],
        [
            f"CREATE INDEX ix_messages_{c} ON messages ({c})"
            for c in ("sender", "customer_id", "department_id")
        ],
    ),
}
# variants that keep the statements and commit only every Nth recorded commit (bigger transactions)
COMMIT_STRIDE = {"commit-every-2": 2, "commit-every-4": 4, "commit-every-8": 8}
VARIANTS.update({name: ([], []) for name in COMMIT_STRIDE})
KINDS = ["messages", "search_index", "search_index_fts", "commit", "other"]


def _runtime(data_dir: Path, init: list[str]) -> Any:
    """A runtime on a fresh embedded database whose connections run `init` first."""
    from archive.kit.settings import Settings
    from archive.migrate import upgrade
    from archive.runtime import Runtime
    from archive.store import db

    if init:
        original = db._sqlite_pragmas

        def pragmas(conn: Any, record: Any) -> None:
            cur = conn.cursor()
            for stmt in init:
                cur.execute(stmt)
            cur.close()
            original(conn, record)

        db._sqlite_pragmas = pragmas
    try:
        rt = Runtime.from_settings(Settings(profile="embedded", data_dir=data_dir, ingest_workers=1))
        upgrade(rt.engine)
        rt.search.ensure_ready()
        rt.engine.dispose()
    finally:
        if init:
            db._sqlite_pragmas = original
    return rt


def record(path: Path) -> Recording:
    from sqlalchemy import event

    from archive.ingest.pipeline import Importer

    log: Recording = []

    def plain(row: Any) -> Any:
        if isinstance(row, tuple | list):
            return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        return row

    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp), [])

        @event.listens_for(rt.engine, "before_cursor_execute")
        def _statement(conn: Any, cursor: Any, stmt: str, params: Any, context: Any, many: bool) -> None:
            log.append((stmt, [plain(r) for r in params] if many else plain(params), many))

        @event.listens_for(rt.engine, "commit")
        def _commit(conn: Any) -> None:
            log.append(("COMMIT", None, False))

        Importer(rt).import_file(path)
        rt.close()
    return log


def _kind(stmt: str) -> str:
    if stmt == "COMMIT":
        return "commit"
    words = stmt.split()
    if words[0] == "INSERT" and words[2].split("(")[0] in KINDS:
        return words[2].split("(")[0]
    return "other"


def replay(log: Recording, init: list[str], after: list[str], stride: int = 1) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp), init)
        from archive.store.db import _sqlite_pragmas

        conn = sqlite3.connect(rt.settings.sqlalchemy_url.split("///", 1)[1], isolation_level=None)
        for stmt in init:
            conn.execute(stmt)
        _sqlite_pragmas(conn, None)  # the engine's own connection settings, not a copy of them
        for stmt in after:
            conn.execute(stmt)
        cur = conn.cursor()
        own_cache = any(stmt.startswith("PRAGMA cache_size") for stmt in after)
        spent: dict[str, float] = defaultdict(float)
        open_tx = False
        commits = 0
        clock: Callable[[], float] = time.thread_time
        for stmt, params, many in log:
            if own_cache and stmt.startswith("PRAGMA cache_size"):
                continue
            t = clock()
            if stmt == "COMMIT":
                commits += 1
                if open_tx and commits % stride == 0:
                    conn.execute("COMMIT")
                    open_tx = False
            else:
                if not open_tx:
                    conn.execute("BEGIN")
                    open_tx = True
                if many:
                    cur.executemany(stmt, params)
                else:
                    cur.execute(stmt, params)
            spent[_kind(stmt)] += clock() - t
        if open_tx:
            conn.execute("COMMIT")
        conn.close()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default="current,automerge4")
    a = ap.parse_args()
    names = a.variants.split(",")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traffic.jsonl"
        with path.open("wb") as fh:
            n = generate(fh, a.n, seed=7)
        log = record(path)
    best: dict[str, dict[str, float]] = {}
    for _ in range(a.rounds):
        for name in names:
            spent = replay(log, *VARIANTS[name], COMMIT_STRIDE.get(name, 1))
            spent["total"] = sum(spent.values())
            mins = best.setdefault(name, {})
            for k, v in spent.items():
                mins[k] = min(mins.get(k, v), v)
    print(f"SQLite CPU a message, µs (min of {a.rounds} rounds, {n} messages)")
    print(f"{'variant':26s}" + "".join(f"{k:>18s}" for k in ["total", *KINDS]))
    for name in names:
        print(f"{name:26s}" + "".join(f"{best[name].get(k, 0.0) / n * 1e6:18.1f}" for k in ["total", *KINDS]))


if __name__ == "__main__":
    main()
