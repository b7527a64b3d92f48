"""Length-preserving Traditional→Simplified conversion by character table (OpenCC's TSCharacters
dictionary), plus NFKC and case folding helpers. A table lookup (`str.translate`) is ~100x faster than
OpenCC's phrase segmentation and keeps character offsets, which the risk analyser's span map and the blind
index both rely on. Phrase-level variants (e.g. 瞭解→了解) are covered character by character."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def t2s_table() -> dict[int, str]:
    import opencc

    path = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        src, _, dst = line.partition("\t")
        target = dst.split(" ")[0] if dst else ""
        if len(src) == 1 and len(target) == 1 and src != target:
            table[ord(src)] = target
    return table


# Planes 0-2 hold every character that NFKC, case folding or the Traditional table change, and every
# character that can combine with a neighbour under NFKC (archive.risk.normalize and archive.search.blind
# build per-character tables up to here; unit tests check the whole range).
FAST_LIMIT = 0x30000


@lru_cache(maxsize=1)
def joins_previous() -> frozenset[int]:
    """Starters NFKC may merge into the character before them: second halves of canonical pairs (e.g.
    Indic two-part vowels) and Hangul medial/final jamo. (Non-starters are checked separately.)"""
    second: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for cp in range(FAST_LIMIT):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                second.add(int(parts[1], 16))
    return frozenset(second)


def may_join_previous(text: str) -> bool:
    """Whether NFKC may change `text` at its start when it follows other text: its decomposition starts
    with a combining mark or with a starter that composes with the character before it. A string of
    pieces none of which may join the previous one normalises piece by piece."""
    decomposed = unicodedata.normalize("NFKD", text)
    first = ord(decomposed[0]) if decomposed else 0
    return bool(unicodedata.combining(chr(first))) or first in joins_previous()


def t2s(text: str) -> str:
    """Traditional → Simplified, one character at a time (same length as the input)."""
    return text.translate(t2s_table())


def fold(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms), Traditional → Simplified, case folding."""
    return t2s(unicodedata.normalize("NFKC", text)).casefold()
