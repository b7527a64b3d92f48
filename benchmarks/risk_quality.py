"""Risk quality on the dev sets with the product's scorer (../shared/tools/riskscore.py).

usage: python benchmarks/risk_quality.py"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def main() -> int:
    worst = 0
    for name, extra in (
        ("risk_dev.jsonl", ["--min-f1", "0.90", "--min-evasion", "0.85", "--max-hardfp", "0.05"]),
        ("risk_dev_conversations.jsonl", ["--min-cross", "0.80"]),
    ):
        gold = SHARED / "datasets" / name
        with tempfile.TemporaryDirectory() as tmp:
            pred = Path(tmp) / "pred.jsonl"
            subprocess.run(
                [sys.executable, "-m", "api.cli", "risk", "scan", str(gold), "-o", str(pred)],
                cwd=ROOT,
                check=True,
            )
            print(f"== {name}")
            res = subprocess.run(
                [sys.executable, str(SHARED / "tools" / "riskscore.py"), str(gold), str(pred), *extra]
            )
            worst = max(worst, res.returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
