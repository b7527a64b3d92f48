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


# Characters around which the per-character fast path must hand over to the reference definition:
# combining marks, Hangul jamo, Indic two-part vowels, case foldings that decompose (ΐ), compatibility
# forms that start with a space (´ → " ́"), every kind of whitespace, and the sentinel itself.
_EDGE = (
    "支付宝發票薴苧 ABCabc，。Ｖｘß ΐİﬁΣς´¨㍿①ǅ가각\u1161\u11a8\u0301\u0327e\u09c7\u09be\u0b47\u0b3e"
    "\u3000\u00a0\t\n\r\x0b\x0c\x1c\x85\u2028\u200b\ufeff\uffff😎"
)


@settings(max_examples=1000)
@given(st.text(alphabet=st.one_of(st.sampled_from(_EDGE), st.characters()), max_size=40))
def test_fast_path_is_the_reference_normal_form(text: str) -> None:
    from archive.search.blind import _normalize_reference

    assert normalize(text) == _normalize_reference(text)


def test_fast_path_agrees_on_every_code_point() -> None:
    from archive.search.blind import _normalize_reference

    bad = [
        cp
        for cp in range(sys.maxunicode + 1)
        if normalize(chr(cp)) != _normalize_reference(chr(cp))
        or normalize(f"a{chr(cp)}支") != _normalize_reference(f"a{chr(cp)}支")
    ]
    assert bad == []


def test_fast_table_covers_every_character_that_changes() -> None:
    """Past the fast table's end, `str.translate` leaves characters alone: none of them may change,
    combine with a neighbour or be whitespace."""
    from archive.kit.textnorm import may_join_previous
    from archive.search.blind import _fast_table, _normalize_reference

    limit = len(_fast_table())
    for cp in range(limit, sys.maxunicode + 1):
        ch = chr(cp)
        assert _normalize_reference(ch) == ch and not ch.isspace(), hex(cp)
        assert not may_join_previous(ch), hex(cp)


def test_gram_cache_is_bounded_and_forgets_nothing_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac
    from hashlib import sha256

    from archive.search import blind

    monkeypatch.setattr(blind, "GRAM_CACHE", 8)
    bi = BlindIndex(KEY)
    for text in ["支付宝转账", "私下發票退款", "支付宝", "ABC abc 123", "转账支付宝私下"] * 3:
        grams = set(normalize(text)) - {" "}
        grams |= {normalize(text)[i : i + 2] for i in range(len(normalize(text)) - 1)}
        want = sorted(hmac.new(KEY, g.encode(), sha256).hexdigest()[:TOKEN_HEX] for g in grams)
        assert bi.doc_tokens(text) == want
        assert len(bi._tokens) <= 8


@settings(max_examples=400, deadline=None)  # (the first example imports the sql backend)
@given(st.one_of(texts, st.text(alphabet=st.sampled_from(_EDGE), max_size=40), st.text(max_size=200)))
def test_token_text_is_what_the_search_backends_store(text: str) -> None:
    """The importer stores `doc_token_text` as is: it must be the backends' own form of the tokens."""
    from archive.search.sql_backend import token_text

    assert BI.doc_token_text(text) == token_text(BI.doc_tokens(text))
