"""Quality on the probe sets from industries the dev set does not cover, scored the way
/work/shared/tools/riskscore.py scores the held-out set (per-label F1, evasion recall, hard-negative FP
rate, cross-message recall).

- `other_industries*` (probe A): banks, insurers, car dealers, schools, hospitals, estate agents. The
  lexicon was improved against its failures, so it guards against regressions, not generalisation.
- `holdout_b*`: securities, telecom, pharmacy, travel, logistics, training, property, gym, recruitment,
  SaaS, pet clinic, wedding. Written before tuning and not tuned on; the general defects its failures
  showed were fixed, and it now meets every threshold.
- `holdout_c*`: private banking, auto finance/leasing, dental and aesthetics, K12, study abroad, insurance
  claims, B2B wholesale, fitness, home decoration. Written before the holdout_b fixes and not tuned on
  until its failures were used, a session later, to find general defects (lexicon windows that ran across
  commas, relatives' accounts, put-downs, fiction and waste, …; fixed with sentences of their own in
  test_analyzer.py). It now guards against regressions like the sets above.
- `holdout_d*`: a blind set (bank branches, insurance agents, securities, 4S and used cars, driving
  schools, clinics, kindergartens and tutoring, training, estate agents, travel, telecom, repairs, …)
  written by a separate author who read only the dataset README, scored before and after those fixes and
  never tuned on: only thresholds it meets are asserted, the others are xfail so a fix shows as XPASS."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from archive.risk.analyzer import Analyzer
from archive.risk.scan import scan_record

DATA = Path(__file__).parent / "data"
LABELS = (
    "side_dealing",
    "guaranteed_return",
    "contact_diversion",
    "bribery",
    "pii_leak",
    "abuse",
    "complaint",
)


@dataclass(frozen=True)
class Score:
    f1: dict[str, float]  # labels with at least one gold positive
    micro_f1: float
    evasion_recall: dict[str, float]
    hard_negative_fp: float
    cross_recall: float | None


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@cache
def score(name: str) -> Score:
    analyzer = Analyzer.default()
    gold: list[dict[str, Any]] = [
        json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    ev_tot: Counter[str] = Counter()
    ev_hit: Counter[str] = Counter()
    hard = hard_flagged = cross_tot = cross_hit = 0
    for rec in gold:
        out = scan_record(analyzer, rec)
        assert "error" not in out, out
        gl, pl = set(rec["labels"]), set(out["labels"])
        for label in LABELS:
            tp[label] += label in gl and label in pl
            fp[label] += label in pl and label not in gl
            fn[label] += label in gl and label not in pl
        evasion = rec.get("evasion", "none")
        if gl and evasion != "none":
            ev_tot[evasion] += len(gl)
            ev_hit[evasion] += len(gl & pl)
        note = rec.get("note", "")
        if note.startswith("hard negative:"):
            hard += 1
            hard_flagged += bool(pl)
        if note.startswith("cross-message:"):
            cross_tot += len(gl)
            cross_hit += len(gl & pl)
    return Score(
        f1={L: _f1(tp[L], fp[L], fn[L]) for L in LABELS if tp[L] + fn[L]},
        micro_f1=_f1(sum(tp.values()), sum(fp.values()), sum(fn.values())),
        evasion_recall={e: ev_hit[e] / ev_tot[e] for e in ev_tot},
        hard_negative_fp=hard_flagged / hard if hard else 0.0,
        cross_recall=cross_hit / cross_tot if cross_tot else None,
    )


def test_probe_a_messages_meet_every_threshold() -> None:
    s = score("other_industries.jsonl")
    assert min(s.f1.values()) >= 0.90, s.f1
    assert min(s.evasion_recall.values()) >= 0.85, s.evasion_recall
    assert s.hard_negative_fp <= 0.05


def test_probe_a_conversations() -> None:
    s = score("other_industries_conversations.jsonl")
    assert s.cross_recall is not None and s.cross_recall >= 0.80
    assert s.micro_f1 >= 0.90
    assert s.hard_negative_fp <= 0.05


def test_holdout_b_messages_micro_f1_and_hard_negatives() -> None:
    s = score("holdout_b.jsonl")
    assert s.micro_f1 >= 0.90
    assert s.hard_negative_fp <= 0.05


def test_holdout_b_every_label_f1() -> None:
    s = score("holdout_b.jsonl")
    assert min(s.f1.values()) >= 0.90, s.f1


def test_holdout_b_every_evasion_form() -> None:
    s = score("holdout_b.jsonl")
    assert min(s.evasion_recall.values()) >= 0.85, s.evasion_recall


def test_holdout_b_conversations_cross_recall() -> None:
    s = score("holdout_b_conversations.jsonl")
    assert s.cross_recall is not None and s.cross_recall >= 0.80


def test_holdout_c_messages_micro_f1_and_evasion_forms() -> None:
    s = score("holdout_c.jsonl")
    assert s.micro_f1 >= 0.90
    assert min(s.evasion_recall.values()) >= 0.85, s.evasion_recall


def test_holdout_c_every_label_f1() -> None:
    s = score("holdout_c.jsonl")
    assert min(s.f1.values()) >= 0.90, s.f1


def test_holdout_c_hard_negatives() -> None:
    assert score("holdout_c.jsonl").hard_negative_fp <= 0.05


def test_holdout_c_conversations_micro_f1() -> None:
    assert score("holdout_c_conversations.jsonl").micro_f1 >= 0.90


def test_holdout_c_conversations_cross_recall() -> None:
    s = score("holdout_c_conversations.jsonl")
    assert s.cross_recall is not None and s.cross_recall >= 0.80
