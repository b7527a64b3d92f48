"""Blind index: every substring query's tokens are among the document's, tokens are keyed hex (never
plaintext), documents and queries share one normalisation (NFKC, Traditional→Simplified, case)."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.kit.errors import InvalidInput
from archive.search.blind import TOKEN_HEX, BlindIndex, normalize

KEY = b"0123456789abcdef0123456789abcdef"
BI = BlindIndex(KEY)
HEX = re.compile(r"[0-9a-f]{16}")

# Chinese chat with the variants normalisation must fold: Traditional, full-width, case, spaces,
# combining marks and characters whose case folding expands (ß, ΐ, ﬁ).
TRICKY = "支付宝转账私下發票退款預約薴苧苎的了 ABCabc123，。！Ｖｘ\u3000\t\nßΐﬁİΣς\u0301e㍿①"
chat = st.text(alphabet=st.sampled_from(TRICKY), min_size=1, max_size=40)
texts = st.one_of(chat, st.text(min_size=1, max_size=40))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.data())
def test_tokens_of_any_substring_query_are_among_the_documents(text: str, data: st.DataObject) -> None:
    norm = normalize(text)
    if not norm:
        return
    i = data.draw(st.integers(0, len(norm) - 1), label="start")
    j = data.draw(st.integers(i + 1, len(norm)), label="end")
    q = norm[i:j]
    if not q.strip():
        return
    assert set(BI.query_tokens(q)) <= set(BI.doc_tokens(text))
    assert BI.matches(q, text)


@settings(max_examples=300)
@given(texts)
def test_normalising_is_idempotent(text: str) -> None:
    norm = normalize(text)
    assert normalize(norm) == norm
    assert norm == norm.strip() and "  " not in norm


def test_every_code_point_normalises_to_a_fixed_point() -> None:
    """Exhaustive over Unicode: normalising is idempotent on each character and on every piece of its
    normal form, so a query cut from a normalised text finds that text."""
    bad = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        norm = normalize(chr(cp))
        if normalize(norm) != norm:
            bad.append(cp)
        for i in range(len(norm)):
            for j in range(i + 1, len(norm) + 1):
                piece = norm[i:j]
                if piece.strip() and normalize(piece) not in norm:
                    bad.append(cp)
    assert bad == []


@settings(max_examples=300)
@given(texts)
def test_tokens_are_keyed_hex_never_plaintext(text: str) -> None:
    toks = BI.doc_tokens(text)
    assert len(toks) == len(set(toks)) and toks == sorted(toks)
    assert all(HEX.fullmatch(t) for t in toks)
    norm = normalize(text)
    grams = set(norm) | {norm[i : i + 2] for i in range(len(norm) - 1)}
    assert not grams & set(toks)  # no gram passes through unblinded


def test_tokens_are_unigrams_and_bigrams_under_the_key() -> None:
    toks = BI.doc_tokens("转我个人支付宝")
    assert len(toks) == 7 + 6 and all(len(t) == TOKEN_HEX for t in toks)
    assert not any(ch in "".join(toks) for ch in "转我个人支付宝")
    assert BI.doc_tokens("支付宝") == BlindIndex(KEY).doc_tokens("支付宝")  # deterministic per key
    other = BlindIndex(b"f" * 32)
    assert set(BI.doc_tokens("支付宝")).isdisjoint(other.doc_tokens("支付宝"))
    # A long key is hashed first (RFC 2104); the result is still deterministic and keyed.
    long_key = BlindIndex(b"k" * 100)
    assert long_key.doc_tokens("支付宝") == BlindIndex(b"k" * 100).doc_tokens("支付宝")
    assert set(long_key.doc_tokens("支付宝")).isdisjoint(BI.doc_tokens("支付宝"))


def test_hmac_matches_the_standard_library() -> None:
    import hmac
    from hashlib import sha256

    for key in (KEY, b"k" * 64, b"k" * 100):
        want = hmac.new(key, "付宝".encode(), sha256).hexdigest()[:TOKEN_HEX]
        assert BlindIndex(key).query_tokens("付宝") == [want]


def test_query_tokens() -> None:
    doc = set(BI.doc_tokens("的支付宝"))
    assert BI.query_tokens("的") == BI.query_tokens(" 的 ")  # one character: its unigram
    assert set(BI.query_tokens("的")) <= doc
    assert len(BI.query_tokens("支付宝")) == 2  # bigrams 支付, 付宝 (no unigrams)
    assert len(BI.query_tokens("哈哈哈哈")) == 1  # deduplicated
    assert BI.query_tokens("宝") != BI.query_tokens("宝宝")
    assert BI.doc_tokens("") == [] and BI.doc_tokens("   ") == []


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("支付宝", "支付寶"),  # Traditional
        ("發票", "发票"),
        ("vx", "加ＶＸ"),  # full-width and case
        ("ABC", "abc"),
        ("私下 转", "私下   转"),  # whitespace runs
        ("私下 转", "私下\u3000\n转"),
        ("９折", "打9折"),
        ("苎", "薴麻"),  # a chain in the character table (薴→苧→苎) is followed to its end
        ("STRASSE", "straße"),
    ],
)
def test_documents_and_queries_share_one_normalisation(query: str, text: str) -> None:
    assert BI.matches(query, text)
    assert set(BI.query_tokens(query)) <= set(BI.doc_tokens(text))


@pytest.mark.parametrize(("query", "text"), [("支付宝", "支付 宝"), ("私下转", "私下 转"), ("abd", "abc")])
def test_matches_is_an_exact_substring_check(query: str, text: str) -> None:
    assert not BI.matches(query, text)


@pytest.mark.parametrize("query", ["", "   ", "\u3000", "\t\n"])
def test_blank_query_is_refused(query: str) -> None:
    with pytest.raises(InvalidInput):
        BI.query_tokens(query)
    with pytest.raises(InvalidInput):
        BI.matches(query, "任何内容")


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="short"):
        BlindIndex(b"short")
