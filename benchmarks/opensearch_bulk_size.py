"""OpenSearch's CPU a document for raw _bulk requests of 500, 1000 and 2000 documents (the same 20 k
synthetic documents with the importer's mapping: 45 blind tokens and the metadata fields), rounds
alternated, for archive.ingest.pipeline.PUSH_DOCS.

usage: python benchmarks/opensearch_bulk_size.py [--rounds 3] [--n 20000]
reads CHATVAULT_TEST_OPENSEARCH_URL from .services/env (scripts/services.sh start opensearch)."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ingest_bench import _env_file  # noqa: E402


def _java_cpu() -> float:
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] == "java" and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


def _docs(n: int) -> list[dict[str, object]]:
    rng = random.Random(1)
    vocab = [f"{rng.getrandbits(64):016x}" for _ in range(30000)]
    out: list[dict[str, object]] = []
    for i in range(n):
        tokens = sorted(set(rng.choices(vocab[:3000], k=20) + rng.choices(vocab, k=25)))  # Zipf-ish
        out.append(
            {
                "id": f"{i:032x}",
                "msgtime_ms": 1_700_000_000_000 + i * 50,
                "room_id": rng.randrange(2000),
                "sender": f"emp{rng.randrange(200)}",
                "msgtype": "text",
                "employee_id": rng.randrange(200),
                "customer_id": rng.randrange(5000),
                "department_id": rng.randrange(20),
                "risk_labels": [],
                "recalled": False,
                "tokens": tokens,
            }
        )
    return out


def main() -> None:
    from opensearchpy import OpenSearch

    from archive.search.opensearch_backend import OpenSearchBackend

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=20000)
    a = ap.parse_args()
    _env_file()
    url = os.environ["CHATVAULT_TEST_OPENSEARCH_URL"]
    client = OpenSearch(url, timeout=120)
    docs = _docs(a.n)
    for rnd in range(a.rounds):
        for size in (500, 1000, 2000):
            name = f"bulk-size-{size}-{rnd}"
            OpenSearchBackend(url, name).ensure_ready()  # the importer's mapping and settings
            cpu, t = _java_cpu(), time.perf_counter()
            for i in range(0, a.n, size):
                lines = []
                for d in docs[i : i + size]:
                    lines.append(orjson.dumps({"index": {"_index": name, "_id": d["id"]}}))
                    lines.append(orjson.dumps(d))
                resp = client.bulk(body=b"\n".join(lines) + b"\n", filter_path="errors")
                assert not resp["errors"]
            dt, dc = time.perf_counter() - t, _java_cpu() - cpu
            print(
                f"round {rnd} bulk {size}: {a.n / dt:,.0f} docs/s, OpenSearch {dc / a.n * 1e6:.0f} µs CPU a doc"
            )
            client.indices.delete(index=name)


if __name__ == "__main__":
    main()
