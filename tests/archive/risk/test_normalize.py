"""Each normaliser, and the offset map back to the original text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.risk.normalize import clause_bounds, compact, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("轉賬到我個人賬戶", "转账到我个人账户"),  # Traditional → Simplified
        ("ＶＸ：ｍｅｉ＿９９６", "vxmei996"),  # full-width → half-width, case, inserted symbols
        ("微 - 信", "微信"),  # spacing / symbols inside a word
        ("回💰扣", "回扣"),  # emoji inside a word
        ("稳😎赚😎不😎赔", "稳赚不赔"),
        ("一三九 五七二八 六六一零", "13957286610"),  # Chinese numerals in a digit run
        ("幺二三幺五", "12315"),
        ("壹贰叁肆伍陆", "123456"),  # capital numerals
        ("③⑦⓪②⓪②", "370202"),  # circled numerals
        ("❶❷❸❹❺", "12345"),
        ("一问三不知", "一问三不知"),  # numerals in words are not digit runs
        ("100％有效", "100%有效"),
        ("你好，世界！", "你好,世界!"),  # sentence punctuation stays (clause boundaries)
    ],
)
def test_forms(raw: str, expected: str) -> None:
    assert compact(raw) == expected
    assert normalize(raw).text == expected


@given(st.text(max_size=60))
def test_slow_path_agrees_and_offsets_point_inside(text: str) -> None:
    n = normalize(text)
    assert len(n.offsets) == len(n.text)
    assert all(0 <= o < len(text) for o in n.offsets)
    assert list(n.offsets) == sorted(n.offsets)
    if n.text:
        start, end = n.span(0, len(n.text))
        assert 0 <= start < end <= len(text)


@given(st.text(alphabet=st.sampled_from("微信支付宝转账私下 -_😎①二ＡＢ,"), max_size=30))
def test_idempotent(text: str) -> None:
    once = compact(text)
    assert compact(once) == once


def test_span_maps_back_to_the_evasive_original() -> None:
    raw = "加我 微 - 信 吧"
    n = normalize(raw)
    i = n.text.index("微信")
    start, end = n.span(i, i + 2)
    assert raw[start:end] == "微 - 信"


def test_clause_bounds() -> None:
    text = "不能私下收款，转我支付宝"
    assert text[slice(*clause_bounds(text, text.index("转")))] == "转我支付宝"
    assert text[slice(*clause_bounds(text, 0))] == "不能私下收款"


def test_fast_table_covers_every_character_that_changes() -> None:
    """Past the fast table's end, `str.translate` leaves characters alone: none of them may decompose,
    case-fold, combine, or be in the Traditional/deletion table."""
    import unicodedata

    from archive.risk.normalize import fast_table, table

    limit = len(fast_table())
    assert max(table()) < limit
    for cp in range(limit, 0x110000):
        ch = chr(cp)
        assert not unicodedata.decomposition(ch), hex(cp)
        assert not unicodedata.combining(ch), hex(cp)
        assert ch.casefold() == ch, hex(cp)


_EDGE = "微信支付宝转账私下 -_😎①二ＡＢ,ß İﬁ㈠⑩❶¼ǅ가각\u1161\u11a8\u0301\u0327e\u09c7\u09be\u0b47\u0b3e\uffff\u3000，。"


@given(st.text(alphabet=st.one_of(st.sampled_from(_EDGE), st.characters()), max_size=40))
def test_fast_path_is_the_reference_normal_form(text: str) -> None:
    from archive.risk.normalize import _compact_slow, _normalize_slow, compact_with_path

    assert compact(text) == _compact_slow(text)
    assert normalize(text) == _normalize_slow(text)
    assert normalize(text, compact(text)) == _normalize_slow(text)
    c, fast = compact_with_path(text)
    assert c == compact(text)
    assert normalize(text, c, fast) == _normalize_slow(text)


@given(st.text(alphabet=st.one_of(st.sampled_from(_EDGE), st.characters()), max_size=20), st.integers(-2, 22))
def test_identity_spans_are_the_map_spans(text: str, start: int) -> None:
    from archive.risk.normalize import compact_with_path, identity_span, is_identity_map

    c, fast = compact_with_path(text)
    n = normalize(text, c, fast)
    if c and is_identity_map(text, c, fast):
        assert n.offsets == tuple(range(len(text)))
        for end in range(start - 1, start + 4):
            assert identity_span(len(c), start, end) == n.span(start, end)
