"""The blind index: message text reaches the search backend only as keyed hashes of its character
unigrams and bigrams, HMAC-SHA256(index_key, gram) truncated to 64 bits (16 hex characters).

Bigrams make every query of two or more characters answerable (jieba words alone would miss substrings
that cross word boundaries); unigrams answer one-character queries. Candidates are decrypted and checked
with `matches`, so results equal a substring scan of the normalised plaintext."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from hashlib import sha256
from operator import concat
from typing import cast

from archive.kit.errors import InvalidInput
from archive.kit.textnorm import FAST_LIMIT, inert_below_limit, may_join_previous, t2s_table

TOKEN_HEX = 16
# Chat vocabulary is Zipfian: a few tens of thousands of grams cover almost every occurrence, and a cache
# hit costs ~0.1 µs against ~1 µs for an HMAC. 2**16 entries hold ~15 MB.
GRAM_CACHE = 1 << 16
_SHA256_BLOCK = 64


@lru_cache(maxsize=1)
def _t2s() -> dict[int, str]:
    """archive.kit.textnorm's Traditional→Simplified character table with chains followed to their end
    (薴→苧→苎), so that normalising is idempotent."""
    table = t2s_table()
    closed: dict[int, str] = {}
    for src, dst in table.items():
        seen = {chr(src), dst}
        while ord(dst) in table and table[ord(dst)] not in seen:
            dst = table[ord(dst)]
            seen.add(dst)
        closed[src] = dst
    return closed


def normalize(text: str) -> str:
    """NFKC, Traditional→Simplified (OpenCC's character table), casefold, whitespace runs → one space.

    Character-by-character conversion keeps a substring's conversion a substring of the whole's
    conversion, which phrase-level OpenCC does not (瞭解→了解 but 瞭 alone stays 瞭), and is ~15x faster.

    Fast path: one `str.translate` by a per-character table (`_fast_table`), exact for text in which no
    character can combine with its neighbour under NFKC, before or after the conversion (the others map
    to a sentinel and take `_normalize_reference`). Every whitespace character becomes a space there, so
    the runs left to collapse are runs of spaces, and most texts have none."""
    folded = text.translate(_fast_table())
    if _SENTINEL in folded:
        return _normalize_reference(text)
    if "  " in folded or folded.startswith(" ") or folded.endswith(" "):
        return " ".join(folded.split())
    return folded


def _normalize_reference(text: str) -> str:
    """The definition of the normal form (and the path for text the fast table cannot take)."""
    folded = unicodedata.normalize("NFKC", text).translate(_t2s()).casefold()
    # Case folding can leave decomposed sequences (ΐ → ΐ); NFKC again so that every substring of a
    # normalised text normalises to itself, and so its grams are among the text's grams.
    if not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
    return " ".join(folded.split())


# Marks text the fast table cannot normalise alone (U+FFFF, a noncharacter, maps to itself as one too).
_SENTINEL = "\uffff"


@lru_cache(maxsize=1)
def _fast_table() -> list[int | str]:
    """Index = code point; value = the character's normal form with whitespace as spaces, or the sentinel
    for one that may combine with its neighbour: its own start, or the start of its normal form (NFKC
    runs again after case folding). Text without such characters then normalises character by character:
    NFKC of it is NFKC of each character in turn, the conversion and case folding work per character, and
    NFKC of the folded pieces is again piece by piece. Code points past FAST_LIMIT are left as they are
    by `str.translate` (IndexError = no mapping); a unit test checks that none of them changes."""
    out: list[int | str] = list(range(FAST_LIMIT))
    t2s = _t2s()
    # Inert characters map to themselves unless converted or whitespace; lone surrogates are left alone
    # by NFKC and case folding, and the conversion table has none.
    spaces = {cp for cp in range(0x3000 + 1) if chr(cp).isspace()}  # (no whitespace lies past U+3000)
    todo = set(range(FAST_LIMIT)) - inert_below_limit() - set(range(0xD800, 0xE000)) | set(t2s) | spaces
    todo.add(ord(_SENTINEL))
    for cp in sorted(todo):
        ch = chr(cp)
        if ch == _SENTINEL or may_join_previous(ch):
            out[cp] = _SENTINEL
            continue
        got = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", ch).translate(t2s).casefold())
        if may_join_previous(got):
            out[cp] = _SENTINEL
        elif got != ch:
            out[cp] = "".join(" " if c.isspace() else c for c in got)
        elif ch.isspace():
            out[cp] = " "
    return out


# Two strings' concatenation: operator.concat is a cheaper call than str.__add__ (~30% less for the
# bigrams of a message).
_pair = cast("Callable[[str, str], str]", concat)


def _grams(norm: str) -> set[str]:
    grams = set(norm)
    grams.discard(" ")
    grams.update(map(_pair, norm, norm[1:]))
    return grams


class BlindIndex:
    """Turns normalised text into blind tokens with one index key (see archive.store.keyring)."""

    def __init__(self, index_key: bytes) -> None:
        if len(index_key) < 16:
            raise ValueError("index key too short")
        # HMAC with the key's inner and outer pad states computed once (RFC 2104); copying a hash state
        # is cheaper than hmac.new/hmac.copy for ~45 short grams per message.
        if len(index_key) > _SHA256_BLOCK:
            index_key = sha256(index_key).digest()
        padded = index_key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = sha256(bytes(b ^ 0x5C for b in padded))
        # gram → token, at most GRAM_CACHE entries. A plain dict rather than an LRU: a document's grams
        # are all looked up by one C call (`map(dict.__getitem__, …)`), cheaper a gram than lru_cache.
        self._tokens: dict[str, str] = {}
        _fast_table()  # built once, before the importer forks its workers (shared copy-on-write)

    def _blind(self, gram: str) -> str:
        tokens = self._tokens
        token = tokens.get(gram)
        if token is None:
            i = self._inner.copy()
            i.update(gram.encode("utf-8"))
            o = self._outer.copy()
            o.update(i.digest())
            token = o.hexdigest()[:TOKEN_HEX]
            if len(tokens) >= GRAM_CACHE:
                # keep the newer half (insertion order; the grams still in use come back at once), in a
                # new dict, so a thread looking up in the old one meanwhile is not disturbed
                self._tokens = tokens = dict(itertools.islice(tokens.items(), GRAM_CACHE // 2, None))
            tokens[gram] = token
        return token

    def doc_tokens(self, text: str) -> list[str]:
        """The set of blind unigrams and bigrams of the normalised text, sorted by token (so the order
        says nothing about the text)."""
        grams = _grams(normalize(text))
        try:
            tokens = list(map(self._tokens.__getitem__, grams))
        except KeyError:  # a gram not seen yet
            tokens = list(map(self._blind, grams))
        tokens.sort()
        return tokens

    def doc_token_text(self, text: str) -> str:
        """`doc_tokens` as the search backends store them (`sql_backend.token_text`): canonical, sorted,
        separated by single spaces. The tokens are that already (16 lowercase hex characters from
        `hexdigest`, sorted), so this is their join, without `token_text`'s sort and check of the whole
        string (≈ 7 µs of an ingest worker's ~100 µs a message)."""
        return " ".join(self.doc_tokens(text))

    def query_tokens(self, query: str) -> list[str]:
        """One character → its unigram; longer → its distinct bigrams. A document containing the
        normalised query has all of them."""
        norm = normalize(query)
        if not norm:
            raise InvalidInput("query must contain at least one non-space character")
        if len(norm) == 1:
            return [self._blind(norm)]
        return sorted({self._blind(a + b) for a, b in itertools.pairwise(norm)})

    @staticmethod
    def matches(query: str, text: str) -> bool:
        """The exact check on a decrypted candidate."""
        norm = normalize(query)
        if not norm:
            raise InvalidInput("query must contain at least one non-space character")
        return norm in normalize(text)
