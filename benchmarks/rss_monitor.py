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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", type=Path)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--limit-seconds", type=float, default=0)
    a = ap.parse_args()
    size = a.file.stat().st_size
    data = Path(tempfile.mkdtemp(prefix="cv-rss-"))
    env = {**os.environ, "CHATVAULT_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "import", str(a.file), "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    p = psutil.Process(proc.pid)
    start = time.time()
    peak = peak_tree = peak_pss = 0.0
    read = 0
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
            read = next((f.position for f in p.open_files() if f.path == str(a.file.resolve())), read)
        except psutil.Error:
            break
        peak, peak_tree, peak_pss = max(peak, rss), max(peak_tree, tree), max(peak_pss, pss)
        print(
            f"{time.time() - start:8.0f}s rss={rss:7.1f} MB tree rss={tree:7.1f} MB tree pss={pss:7.1f} MB "
            f"read={read / 2**30:6.2f} GiB",
            flush=True,
        )
        if a.limit_seconds and time.time() - start > a.limit_seconds:
            proc.terminate()
            break
        time.sleep(a.interval)
    out = proc.communicate()[0].decode()
    print(
        f"peak RSS {peak:.0f} MB, tree RSS {peak_tree:.0f} MB, tree PSS {peak_pss:.0f} MB (target <= 300 MB); read {read / 2**30:.2f} of {size / 2**30:.2f} GiB "
        f"in {time.time() - start:.0f}s; exit={proc.returncode}"
    )
    if out.strip():
        print(out.strip()[:2000])


if __name__ == "__main__":
    main()
