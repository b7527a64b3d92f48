"""Text normalisation for the risk analyser, with a map back to original character offsets.

The normal form is NFKC (full-width → half-width, circled numerals → digits), a translate table
(Traditional → Simplified, dingbat numerals, and deletion of spaces, inserted symbols and emoji), case
folding, then runs of five or more Chinese/capital numerals → digits.

Fast path (`compact`): the first three steps are folded into one per-character table, applied by a single
`str.translate` (about 1 µs for a chat message). That is exact because, for text without characters that
can combine with their neighbour under NFKC (combining marks, Hangul jamo, a few Indic vowel signs),
NFKC of a string is NFKC of each character in turn, and the translate table and case folding work per
character anyway. Such characters are mapped to a sentinel, and text containing one takes the reference
path (`_compact_slow`). `normalize` adds the map back to the original offsets, only for messages with a
finding."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from archive.kit.textnorm import FAST_LIMIT, inert_below_limit, may_join_previous, t2s_table

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


@lru_cache(maxsize=1)
def table() -> dict[int, str | None]:
    t: dict[int, str | None] = dict(t2s_table())
    for ch in INSERTED + ZERO_WIDTH:
        t[ord(ch)] = None
    for cp in list(range(0x2600, 0x27C0)) + list(range(0x1F000, 0x1FB00)) + list(range(0x2B00, 0x2C00)):
        t[cp] = None
    t.update(DINGBAT_DIGITS)
    return t


def _char_class_runs(cps: list[int]) -> re.Pattern[str]:
    """Runs of the given characters (for building the offset map without a Python loop)."""
    ranges: list[str] = []
    start = prev = cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
        start = prev = cp
    return re.compile("[" + "".join(ranges) + "]+")


@lru_cache(maxsize=1)
def _deleted() -> re.Pattern[str]:
    """Runs of the characters the table deletes (after NFKC)."""
    return _char_class_runs(sorted(cp for cp, v in table().items() if v is None))


# A character class reaching past U+FFFF is tested range by range by the regex engine (one bitmap lookup
# when it stays in the BMP: ~3 µs → ~0.4 µs for a chat message), so text without such characters is
# searched with the BMP part of each class alone; that finds the same runs in it.
_PAST_BMP = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=2)
def _fast_risky(bmp_only: bool = False) -> re.Pattern[str]:
    """The characters the fast table sends to the reference path (`bmp_only`: those below U+10000)."""
    limit = 0x10000 if bmp_only else _FAST_LIMIT
    return _char_class_runs([cp for cp, v in enumerate(fast_table()) if v == _SENTINEL and cp < limit])


@lru_cache(maxsize=2)
def _fast_deleted(bmp_only: bool = False) -> re.Pattern[str]:
    """Runs of the original characters the fast table deletes (`bmp_only`: those below U+10000)."""
    limit = 0x10000 if bmp_only else _FAST_LIMIT
    return _char_class_runs([cp for cp, v in enumerate(fast_table()) if v is None and cp < limit])


_NUM_TABLE = str.maketrans(NUMERALS)


def _run_to_digits(m: re.Match[str]) -> str:
    return m.group().translate(_NUM_TABLE)


def _numerals(s: str) -> str:
    return _NUM_RUN.sub(_run_to_digits, s)


def _compact_slow(text: str) -> str:
    """The reference definition of the normal form (and the path for text the fast table cannot take)."""
    return _numerals(unicodedata.normalize("NFKC", text).translate(table()).casefold())


# Marks text the per-character table cannot normalise alone. U+FFFF is a noncharacter; if a message
# contains it anyway, it maps to itself as a sentinel too and the message takes the reference path.
_SENTINEL = "\uffff"
# Code points past the end of the list (FAST_LIMIT) are left as they are by `str.translate` (IndexError =
# no mapping); a unit test checks none of them changes.
_FAST_LIMIT = FAST_LIMIT


@lru_cache(maxsize=1)
def fast_table() -> list[int | str | None]:
    """Index = code point; value = what `compact` makes of that character before the numeral step
    (None: deleted), or the sentinel for a character that may combine with its neighbour under NFKC."""
    tab = table()
    out: list[int | str | None] = list(range(_FAST_LIMIT))
    # Inert characters map to themselves unless the table maps them; lone surrogates are left alone by
    # NFKC and case folding, and the table has none.
    todo = set(range(_FAST_LIMIT)) - inert_below_limit() - set(range(0xD800, 0xE000)) | set(tab)
    todo.add(ord(_SENTINEL))
    for cp in sorted(todo):
        ch = chr(cp)
        if may_join_previous(ch) or ch == _SENTINEL:
            out[cp] = _SENTINEL
            continue
        got = unicodedata.normalize("NFKC", ch).translate(tab).casefold()
        if got != ch:
            out[cp] = got if got else None
    if max(tab) >= _FAST_LIMIT:
        raise RuntimeError("normalisation table reaches past the fast table")
    return out


def preload_tables() -> None:
    """Build now the tables a scan builds on first use (the fast table, and the runs of deleted characters
    that offsets and spans are found with). The importer calls it before forking its workers: they then
    share one copy instead of each building its own, which in a fork also copies every page of the fast
    table it reads (measured: 35 ms of CPU and 3 200 page faults a worker, against 1.4 ms and 29)."""
    fast_table()
    _deleted()
    for bmp_only in (True, False):
        _fast_deleted(bmp_only)


def compact_with_path(text: str) -> tuple[str, bool]:
    """The normalised form, without offsets (fast path; same result as `_compact_slow`), and whether it
    took the fast path; `normalize(text, c, fast)` then need not search the text for the characters
    that decide it."""
    folded = text.translate(fast_table())
    if _SENTINEL in folded:
        return _compact_slow(text), False
    return _numerals(folded), True


def compact(text: str) -> str:
    """The normalised form, without offsets."""
    return compact_with_path(text)[0]


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    offsets: tuple[int, ...]  # offsets[i]: index in the original of text[i]
    original: str

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering normalised [start, end)."""
        offsets = self.offsets
        if not offsets:
            return (0, 0)
        first, stop = identity_span(len(offsets), start, end)
        return offsets[first], offsets[stop - 1] + 1


_CHAR: dict[str, str] = {}


def _char(ch: str) -> str:
    """What one original character becomes (possibly nothing, possibly several characters)."""
    got = _CHAR.get(ch)
    if got is None:
        got = unicodedata.normalize("NFKC", ch).translate(table()).casefold()
        if len(_CHAR) < 200_000:
            _CHAR[ch] = got
    return got


def is_identity_map(text: str, compacted: str, fast: bool) -> bool:
    """`normalize(text, compacted, fast)` would map every character to itself (fast path, nothing
    deleted, nothing expanded): a caller can then take spans as they are, without building the map."""
    return (
        fast
        and len(compacted) == len(text)
        and _fast_deleted(_PAST_BMP.search(text) is None).search(text) is None
    )


def identity_span(length: int, start: int, end: int) -> tuple[int, int]:
    """`Normalized.span` for the identity map of a text of `length` (> 0) characters: [start, end - 1]
    clamped into the text (comparisons: cheaper than min/max)."""
    top = length - 1
    start = 0 if start < 0 else top if start > top else start
    last = end - 1 if end - 1 > start else start
    return start, (top if last > top else last) + 1


def normalize(text: str, compacted: str | None = None, fast: bool | None = None) -> Normalized:
    """Same result as `compact`, with the offset map (only for messages with a finding). A caller that
    already has `compact(text)` passes it as `compacted`, and this then costs two C searches (one when
    it passes `fast` from `compact_with_path` too)."""
    bmp_only = _PAST_BMP.search(text) is None
    if fast is None:
        fast = _fast_risky(bmp_only).search(text) is None
    if fast:  # `compact` took its fast path
        folded = compacted if compacted is not None else compact(text)
        deleted = _fast_deleted(bmp_only)
        if deleted.search(text) is None:
            if len(folded) == len(text):  # nothing deleted, nothing expanded: the identity map
                return Normalized(folded, tuple(range(len(text))), text)
        else:
            kept: list[int] = []
            prev = 0
            for m in deleted.finditer(text):
                kept.extend(range(prev, m.start()))
                prev = m.end()
            kept.extend(range(prev, len(text)))
            if len(kept) == len(folded):  # no kept character became several: the usual case
                return Normalized(folded, tuple(kept), text)
    return _normalize_slow(text)


def _normalize_slow(text: str) -> Normalized:
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
# The last stop of a prefix: greedy `.*` backtracks from the end, so one C call finds it.
_LAST_STOP = re.compile(r".*[，。！？；,!?;\n]", re.DOTALL)


def clause_bounds(text: str, pos: int) -> tuple[int, int]:
    """The clause (between sentence punctuation) of normalised `text` that contains `pos`."""
    before = _LAST_STOP.match(text, 0, pos)
    after = _STOPS.search(text, pos)
    return (before.end() if before else 0), (after.start() if after else len(text))
