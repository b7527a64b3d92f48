"""Blind index properties: every substring query's tokens are among the document's, no token is
plaintext, the key matters, normalisation is shared by documents and queries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.kit.errors import InvalidInput
from archive.search.blind import TOKEN_HEX, BlindIndex, normalize

BI = BlindIndex(b"0123456789abcdef0123456789abcdef")
chinese = st.text(
    alphabet=st.sampled_from("支付宝转账私下發票退款預約的了 ABCabc123，。！Ｖｘ"), min_size=1, max_size=40
)


@settings(max_examples=200)
@given(chinese, st.data())
def test_substring_tokens_are_a_subset(text: str, data: st.DataObject) -> None:
    norm = normalize(text)
    if not norm:
        return
    i = data.draw(st.integers(0, len(norm) - 1))
    j = data.draw(st.integers(i + 1, len(norm)))
    q = norm[i:j]
    if not q.strip():
        return
    assert set(BI.query_tokens(q)) <= set(BI.doc_tokens(text))
    assert BI.matches(q, text)


def test_tokens_are_fixed_width_hex_and_not_plaintext() -> None:
    toks = BI.doc_tokens("转我个人支付宝")
    assert all(len(t) == TOKEN_HEX and int(t, 16) >= 0 for t in toks)
    assert not any(ch in "".join(toks) for ch in "转我个人支付宝")


def test_different_keys_give_different_tokens() -> None:
    other = BlindIndex(b"f" * 32)
    assert set(BI.doc_tokens("支付宝")).isdisjoint(other.doc_tokens("支付宝"))


@pytest.mark.parametrize(
    ("query", "text"), [("支付宝", "支付寶"), ("vx", "加ＶＸ"), ("ABC", "abc"), ("私下 转", "私下   转")]
)
def test_normalisation_is_shared(query: str, text: str) -> None:
    assert BI.matches(query, text)
    assert set(BI.query_tokens(query)) <= set(BI.doc_tokens(text))


@pytest.mark.parametrize("query", ["", "   ", "\u3000"])
def test_blank_query_is_refused(query: str) -> None:
    with pytest.raises(InvalidInput):
        BI.query_tokens(query)


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        BlindIndex(b"short")
