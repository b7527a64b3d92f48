"""Risk analyser throughput with all normalisations on, as a ratio to plain `jieba.lcut` over the same
texts measured in the same run (target >= 5x), plus chars/s.

usage: python benchmarks/risk_speed.py [--n 1000000]   (the dev texts repeated to n messages)"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "risk_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dev", type=Path, default=DEV)
    a = ap.parse_args()
    base = [json.loads(line) for line in a.dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [(r["text"], r.get("sender_role")) for r in base]
    reps = -(-a.n // len(texts))
    corpus = (texts * reps)[: a.n]
    chars = sum(len(t) for t, _ in corpus)

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    from archive.risk.analyzer import Analyzer

    analyzer = Analyzer.default()
    analyzer.scan_message("预热 warm up 支付宝", "employee")

    t = time.perf_counter()
    for text, _ in corpus:
        jieba.lcut(text)
    jieba_s = time.perf_counter() - t

    t = time.perf_counter()
    flagged = 0
    for text, role in corpus:
        flagged += bool(analyzer.scan_message(text, role).findings)
    ours_s = time.perf_counter() - t

    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
        f"python={platform.python_version()} n={a.n} messages, {chars} chars, single process"
    )
    print(f"jieba.lcut baseline : {a.n / jieba_s:12,.0f} msg/s {chars / jieba_s:14,.0f} chars/s")
    print(
        f"risk analyser       : {a.n / ours_s:12,.0f} msg/s {chars / ours_s:14,.0f} chars/s  flagged={flagged}"
    )
    print(f"ratio analyser / jieba.lcut = {jieba_s / ours_s:.2f}x (target >= 5x)")


if __name__ == "__main__":
    main()
