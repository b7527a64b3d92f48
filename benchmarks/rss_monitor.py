"""Peak memory of `chatvault import` on a large file, sampled every few seconds with bytes read so far.

usage: python benchmarks/rss_monitor.py FILE [--interval 5] [--limit-seconds N]
Prints one line per sample and the peaks; with --limit-seconds it stops the import after N seconds and
reports how much of the file it had read (the peak so far still counts). The importer's worker processes
(ingest_workers) count too: `tree rss` adds every process's RSS (pages shared copy-on-write counted once
per process, so an overcount), `tree pss` divides shared pages among their sharers (what the import
really costs the machine)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def monitor(file: Path, interval: float = 5.0, limit_seconds: float = 0) -> dict[str, float]:
    """Run `chatvault import FILE --json` on an empty embedded data dir, print a sample line every
    `interval` seconds and return the peaks (MB) and the exit code."""
    size = file.stat().st_size
    data = Path(tempfile.mkdtemp(prefix="cv-rss-"))
    env = {**os.environ, "CHATVAULT_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "import", str(file), "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    p = psutil.Process(proc.pid)
    start = time.time()
    peak = peak_tree = peak_pss = 0.0
    read = 0
    printed = -interval
    print(f"file {size / 2**30:.2f} GiB, data dir {data}", flush=True)
    while proc.poll() is None:
        try:
            rss = p.memory_info().rss / 2**20
            tree, pss = rss, p.memory_full_info().pss / 2**20
            for child in p.children(recursive=True):
                try:
                    tree += child.memory_info().rss / 2**20
                    pss += child.memory_full_info().pss / 2**20
                except psutil.Error:
                    continue  # a worker that just exited
            # how far into the input file the importer is (read_chars would count SQLite's page reads too)
            read = next((f.position for f in p.open_files() if f.path == str(file.resolve())), read)
        except psutil.Error:
            break
        peak, peak_tree, peak_pss = max(peak, rss), max(peak_tree, tree), max(peak_pss, pss)
        elapsed = time.time() - start
        if elapsed - printed >= interval:  # sampled every second at most, printed every `interval`
            printed = elapsed
            print(
                f"{elapsed:8.0f}s rss={rss:7.1f} MB tree rss={tree:7.1f} MB tree pss={pss:7.1f} MB "
                f"read={read / 2**30:6.2f} GiB",
                flush=True,
            )
        if limit_seconds and elapsed > limit_seconds:
            proc.terminate()
            break
        time.sleep(min(interval, 1.0))
    out = proc.communicate()[0].decode()
    print(
        f"peak RSS {peak:.0f} MB, tree RSS {peak_tree:.0f} MB, tree PSS {peak_pss:.0f} MB (target <= 300 MB); "
        f"read {read / 2**30:.2f} of {size / 2**30:.2f} GiB in {time.time() - start:.0f}s; exit={proc.returncode}"
    )
    if out.strip():
        print(out.strip()[:2000])
    return {"rss": peak, "tree_rss": peak_tree, "tree_pss": peak_pss, "exit": float(proc.returncode)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", type=Path)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--limit-seconds", type=float, default=0)
    a = ap.parse_args()
    monitor(a.file, a.interval, a.limit_seconds)


if __name__ == "__main__":
    main()
