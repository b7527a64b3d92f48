"""Text normalisation for the risk analyser, with a map back to original character offsets.

Fast path (`compact`): NFKC (full-width → half-width, circled numerals → digits), a translate table
(Traditional → Simplified, dingbat numerals, and deletion of spaces, inserted symbols and emoji), case
folding, then runs of five or more Chinese/capital numerals → digits. All of it runs in C, so most messages
(which match nothing) cost a few microseconds. When something matches, `normalize` redoes the same steps
character by character to map spans back to the original text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from archive.kit.textnorm import t2s_table

# Characters people insert inside words to dodge filters. Sentence punctuation (，。！？；,!?;) is kept:
# it marks clause boundaries for the context rules.
INSERTED = " \t\u3000\u00a0-_.·•*~|/\\'\"`^+=#<>()[]{}【】（）「」『』《》〈〉“”‘’…—－～﹏、:：@&"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f"
DINGBAT_DIGITS = {
    **{0x2776 + i: str(i + 1) for i in range(9)},  # ❶-❾
    **{0x2780 + i: str(i + 1) for i in range(9)},  # ➀-➈
    **{0x278A + i: str(i + 1) for i in range(9)},  # ➊-➒
    0x24FF: "0",  # ⓿
    0x24EA: "0",  # ⓪
}
NUMERALS = {
    "零": "0", "〇": "0", "○": "0", "洞": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7", "拐": "7", "八": "8", "捌": "8", "九": "9", "玖": "9", "勾": "9",
}  # fmt: skip
_NUM_RUN = re.compile("[0-9" + "".join(k for k in NUMERALS if k not in "洞拐勾") + "]{5,}")


def _is_emoji(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or 0x1F900 <= cp <= 0x1F9FF
        or 0xE000 <= cp <= 0xF8FF  # private use (custom emoji fonts)
    )


@lru_cache(maxsize=1)
def table() -> dict[int, str | None]:
    t: dict[int, str | None] = dict(t2s_table())
    for ch in INSERTED + ZERO_WIDTH:
        t[ord(ch)] = None
    for cp in list(range(0x2600, 0x27C0)) + list(range(0x1F000, 0x1FB00)) + list(range(0x2B00, 0x2C00)):
        t[cp] = None
    t.update(DINGBAT_DIGITS)
    return t


@lru_cache(maxsize=1)
def _deleted() -> re.Pattern[str]:
    """Runs of the characters the table deletes (for building the offset map without a Python loop)."""
    cps = sorted(cp for cp, v in table().items() if v is None)
    ranges: list[str] = []
    start = prev = cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
        start = prev = cp
    return re.compile("[" + "".join(ranges) + "]+")


def _numerals(s: str) -> str:
    return _NUM_RUN.sub(lambda m: "".join(NUMERALS.get(c, c) for c in m.group()), s)


def compact(text: str) -> str:
    """The normalised form, without offsets (fast path)."""
    return _numerals(unicodedata.normalize("NFKC", text).translate(table()).casefold())


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    offsets: tuple[int, ...]  # offsets[i]: index in the original of text[i]
    original: str

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering normalised [start, end)."""
        if not self.offsets:
            return (0, 0)
        start = min(max(start, 0), len(self.offsets) - 1)
        last = min(max(end - 1, start), len(self.offsets) - 1)
        return self.offsets[start], self.offsets[last] + 1


_CHAR: dict[str, str] = {}


def _char(ch: str) -> str:
    """What one original character becomes (possibly nothing, possibly several characters)."""
    got = _CHAR.get(ch)
    if got is None:
        got = unicodedata.normalize("NFKC", ch).translate(table()).casefold()
        if len(_CHAR) < 200_000:
            _CHAR[ch] = got
    return got


def normalize(text: str) -> Normalized:
    """Same result as `compact`, with the offset map (slow path: only for messages with a finding)."""
    nf = unicodedata.normalize("NFKC", text)
    if len(nf) == len(text):
        # Usual case: NFKC changed no lengths, the table maps one character to at most one, and case
        # folding expanded nothing, so the kept characters are exactly those the table does not delete.
        folded = nf.translate(table()).casefold()
        kept: list[int] = []
        prev = 0
        for m in _deleted().finditer(nf):
            kept.extend(range(prev, m.start()))
            prev = m.end()
        kept.extend(range(prev, len(nf)))
        if len(kept) == len(folded):
            return Normalized(_numerals(folded), tuple(kept), text)
    parts = [_char(ch) for ch in text]
    joined = "".join(parts)
    if len(joined) == sum(1 for p in parts if p):  # every kept character maps to exactly one: the usual case
        offs = tuple(i for i, p in enumerate(parts) if p)
    else:
        offs = tuple(i for i, p in enumerate(parts) for _ in p)
    return Normalized(_numerals(joined), offs, text)


_STOPS = re.compile(r"[，。！？；,!?;\n]")


def clause_bounds(text: str, pos: int) -> tuple[int, int]:
    """The clause (between sentence punctuation) of normalised `text` that contains `pos`."""
    start = 0
    for m in _STOPS.finditer(text):
        if m.start() >= pos:
            return start, m.start()
        start = m.end()
    return start, len(text)
