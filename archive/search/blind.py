"""The blind index: message text reaches the search backend only as keyed hashes of its character
unigrams and bigrams, HMAC-SHA256(index_key, token) truncated to 64 bits.

Bigrams make every query of two or more characters answerable (jieba words alone would miss substrings
that cross word boundaries); unigrams answer one-character queries. Candidates are decrypted and checked
with `matches`, so results equal a substring scan of the normalised plaintext."""

from __future__ import annotations

import hmac
from hashlib import sha256

from archive.kit.errors import InvalidInput
from archive.kit.textnorm import fold

TOKEN_HEX = 16


def normalize(text: str) -> str:
    """NFKC, Traditional→Simplified, casefold, whitespace runs collapsed to one space."""
    return " ".join(fold(text).split())


class BlindIndex:
    def __init__(self, index_key: bytes) -> None:
        if len(index_key) < 16:
            raise ValueError("index key too short")
        self._mac = hmac.new(index_key, digestmod=sha256)

    def _blind(self, token: str) -> str:
        mac = self._mac.copy()
        mac.update(token.encode("utf-8"))
        return mac.hexdigest()[:TOKEN_HEX]

    def doc_tokens(self, text: str) -> list[str]:
        norm = normalize(text)
        grams = set(norm)
        grams.update(norm[i : i + 2] for i in range(len(norm) - 1))
        grams.discard(" ")
        return [self._blind(g) for g in sorted(grams)]

    def query_tokens(self, query: str) -> list[str]:
        norm = normalize(query)
        if not norm:
            raise InvalidInput("query must contain at least one non-space character")
        if len(norm) == 1:
            return [self._blind(norm)]
        grams = {norm[i : i + 2] for i in range(len(norm) - 1)}
        return [self._blind(g) for g in sorted(grams)]

    @staticmethod
    def matches(query: str, text: str) -> bool:
        return normalize(query) in normalize(text)
