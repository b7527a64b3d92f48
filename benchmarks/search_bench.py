"""Search backend throughput: blind tokenising, bulk indexing (docs/s) and query latency per backend.

Corpus: Chinese chat-like texts drawn from jieba's word frequencies (Zipfian, ~23 characters, ~43 blind
tokens per message), time-ordered ids as archive.kit.ids makes them, metadata spread over 2000 rooms and
40 departments. Indexing goes through SearchBackend.index in batches of --batch (the outbox worker's
unit); each backend starts empty.

usage: python benchmarks/search_bench.py [--n 100000] [--batch 500] [--backends sqlite,postgres,opensearch]
postgres/opensearch read CHATVAULT_TEST_* from .services/env (scripts/services.sh)."""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.search.backend import SearchBackend, SearchDoc, SearchFilters  # noqa: E402
from archive.search.blind import BlindIndex  # noqa: E402

QUERIES = ["的", "我们", "公司", "中国人民", "谢谢", "龘", "ok"]


def _env() -> None:
    env = ROOT / ".services" / "env"
    if env.exists():
        for line in env.read_text().splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            os.environ.setdefault(k.strip(), v.strip())


def texts(n: int, seed: int = 1) -> list[str]:
    import jieba

    words, freqs = [], []
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            w, f, *_ = line.split()
            words.append(w)
            freqs.append(int(f))
    cum = list(itertools.accumulate(freqs))
    rng = random.Random(seed)
    tails = ["", "，好的", "。谢谢 OK", " VX123"]
    return [
        "".join(rng.choices(words, cum_weights=cum, k=rng.randint(3, 20))) + rng.choice(tails)
        for _ in range(n)
    ]


def docs(blind: BlindIndex, corpus: list[str], seed: int = 1) -> list[SearchDoc]:
    rng = random.Random(seed)
    t0 = 1_700_000_000_000
    out = []
    for i, text in enumerate(corpus):
        ms = t0 + i * 1000 + rng.randint(0, 999)
        out.append(
            SearchDoc(
                id=f"{ms:012x}{rng.getrandbits(80):020x}",
                msgtime_ms=ms,
                room_id=rng.randint(1, 2000),
                sender=f"u{rng.randint(1, 500)}",
                msgtype=rng.choice(["text"] * 9 + ["file"]),
                employee_id=rng.choice([None, *range(1, 300)]),
                customer_id=rng.choice([None, *range(1, 5000)]),
                department_id=rng.randint(1, 40),
                risk_labels=tuple(
                    rng.sample(["side_dealing", "complaint", "pii"], rng.choice([0] * 18 + [1, 2]))
                ),
                recalled=rng.random() < 0.01,
                tokens=tuple(blind.doc_tokens(text)),
            )
        )
    return out


def run(
    name: str,
    b: SearchBackend,
    items: list[SearchDoc],
    batch: int,
    blind: BlindIndex,
    after_index: Callable[[], None] = lambda: None,
) -> None:
    b.ensure_ready()
    t = time.perf_counter()
    for i in range(0, len(items), batch):
        b.index(items[i : i + batch])
    b.refresh()
    dt = time.perf_counter() - t
    assert b.count() == len(items)
    print(f"{name:10s} index: {len(items) / dt:8,.0f} docs/s  ({len(items)} docs, batch {batch}, {dt:.1f} s)")
    after_index()
    for q in QUERIES:
        for label, f in (("all", SearchFilters()), ("3 depts", SearchFilters(department_ids=(3, 4, 5)))):
            tokens = blind.query_tokens(q)
            t = time.perf_counter()
            b.candidates(tokens, f, 100)
            first = time.perf_counter() - t
            t, n, after = time.perf_counter(), 0, None
            while n < 10_000:
                got = b.candidates(tokens, f, 200, after)
                n += len(got)
                if len(got) < 200:
                    break
                after = got[-1]
            print(
                f"{name:10s} {q!r:8s} {label:8s} first 100: {first * 1000:6.1f} ms   "
                f"{n:5d} hits in pages of 200: {(time.perf_counter() - t) * 1000:7.1f} ms"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--backends", default="sqlite,postgres,opensearch")
    a = ap.parse_args()
    _env()
    blind = BlindIndex(b"bench-index-key-0123456789abcdef")
    corpus = texts(a.n)
    t = time.perf_counter()
    items = docs(blind, corpus)
    dt = time.perf_counter() - t
    print(
        f"blind tokenising: {a.n / dt:,.0f} docs/s ({sum(len(d.tokens) for d in items) / a.n:.1f} tokens/doc)"
    )
    for name in a.backends.split(","):
        if name == "sqlite":
            from archive.search.sql_backend import SqlBackend
            from archive.store.db import make_engine

            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{tmp}/bench.db")
                run("sql/sqlite", SqlBackend(engine), items, a.batch, blind)
                engine.dispose()
                print(f"sql/sqlite size: {Path(tmp, 'bench.db').stat().st_size / len(items):,.0f} bytes/doc")
        elif name == "postgres":
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            from archive.search.sql_backend import SqlBackend
            from archive.store.db import make_engine

            base = os.environ["CHATVAULT_TEST_DATABASE_URL"]
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
            engine = make_engine(url.render_as_string(hide_password=False))
            try:

                def analyze() -> None:  # what autovacuum does in a running system
                    with engine.begin() as c:  # noqa: B023 - called inside this loop iteration only
                        c.execute(text("ANALYZE search_index"))

                run("sql/pg", SqlBackend(engine), items, a.batch, blind, analyze)
                with engine.begin() as c:
                    size = c.execute(text("SELECT pg_total_relation_size('search_index')")).scalar_one()
                print(f"sql/pg size: {size / len(items):,.0f} bytes/doc")
            finally:
                engine.dispose()
                with admin.connect() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        elif name == "opensearch":
            from archive.search.opensearch_backend import OpenSearchBackend

            b2 = OpenSearchBackend(
                os.environ["CHATVAULT_TEST_OPENSEARCH_URL"], f"bench-{uuid.uuid4().hex[:8]}"
            )
            try:
                run("opensearch", b2, items, a.batch, blind)
                stats = b2.client.indices.stats(index=b2.index_name)
                size = stats["_all"]["primaries"]["store"]["size_in_bytes"]
                print(f"opensearch size: {size / len(items):,.0f} bytes/doc (before merges)")
            finally:
                b2.clear()


if __name__ == "__main__":
    main()
