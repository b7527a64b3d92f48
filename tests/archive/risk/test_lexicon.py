"""The lexicon as data: JSON round trip, validation errors, variants."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.kit.errors import InvalidInput
from archive.risk.lexicon import Lexicon, compile_scanning, first_chars, gate_literals, variants


def test_default_round_trips() -> None:
    lex = Lexicon.default()
    again = Lexicon.from_json(lex.to_json())
    assert again.to_json() == lex.to_json()
    assert {r.category for r in lex.data.rules} == {
        "side_dealing",
        "bribery",
        "guaranteed_return",
        "contact_diversion",
        "pii_leak",
        "abuse",
        "complaint",
    }


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        {"rules": []},
        {"version": "1", "rules": [{"id": "x", "category": "nope", "terms": ["a"]}]},
        {"version": "1", "rules": [{"id": "x", "category": "abuse", "terms": []}]},
        {
            "version": "1",
            "rules": [{"id": "x", "category": "abuse", "match": "regex", "terms": ["(unclosed"]}],
        },
        {"version": "1", "rules": [{"id": "x", "category": "abuse", "terms": ["a"]}] * 2},
        {"version": "1", "rules": [{"id": "x", "category": "abuse", "terms": ["a"], "tier": 9}]},
        {"version": "1", "rules": [{"id": "x", "category": "abuse", "terms": ["a"], "surprise": 1}]},
    ],
)
def test_invalid_lexicons_are_refused_clearly(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        Lexicon.from_json(bad)
    assert "lexicon" in err.value.detail


def test_variants_cover_evasions() -> None:
    v = variants("验证码")
    assert {"验证码", "yanzhengma", "yzm", "yanzheng码"} <= v


def test_first_chars() -> None:
    assert first_chars("(?:转|打)我") == frozenset("转打")
    assert first_chars("a?b") == frozenset("ab")
    assert first_chars(".*x") is None


@pytest.mark.parametrize(
    ("pattern", "gate"),
    [
        ("(?:转|打)我", ("打我", "转我")),
        ("包(?=你|您)", ("包",)),  # lookarounds consume nothing
        ("(?<![您你])私人的?卡", ("私人",)),
        ("滚(?:吧|开)?(?:什么|$|，)", ("滚",)),  # an alternative that can be empty gives no gate
        ("找我[，,]?比[^，。]{0,8}便宜", ("便宜",)),
        ("别走(?:公司|平台)|公司不知道", ("公司不知道", "别走公司", "别走平台")),
        ("x|y+", None),  # a branch without literals: always run
        ("(?i)ab", None),  # case-insensitive literals are not literals
        ("[0-9]{15,19}", None),
    ],
)
def test_gate_literals(pattern: str, gate: tuple[str, ...] | None) -> None:
    assert gate_literals(pattern) == gate


_GATED = [
    "(?:转|打|付)(?:钱|款)?(?:给|到)?(?:我|本人)(?:个人|私人)?",
    "(?:保证|包(?=你|能))(?:能|会)",
    "(?:我|我们)(?:自己|私人)(?:开)?的(?:小)?(?:店|厂)",
    "(?:发|写)[^，。]{0,3}(?:微博|网上)",
    "(?<![你他])(?:私人|个人)的?(?:卡|号)",
    "滚(?:吧|开)?(?:你)?(?:什么|$|，)",
]


@given(
    st.text(
        alphabet=st.sampled_from(
            "转打付钱款给到我本人个私保证包你能会们自己开的小店厂发写微博网上，。卡号他滚吧什么"
        ),
        max_size=16,
    )
)
def test_every_match_contains_a_gate_literal(text: str) -> None:
    for pattern in _GATED:
        gate = gate_literals(pattern)
        assert gate is not None
        for m in re.finditer(pattern, text):
            assert any(lit in m.group() for lit in gate), (pattern, m.group())


_SCANNED = [
    "(?<!是)不是(?!说)|(?:不|非|无|没有)$|不能|禁止",
    "(?<![您你])(?:私人|个人)的?(?:卡|号)",
    "(?:我)?(?:朋友|老婆)(?:那|那边)(?:有|买)",
    "(?<![0-9])(?:123|456)(?![0-9])|投诉",
    "(?i)ab|c",  # flags: left alone
]


@given(
    st.text(
        alphabet=st.sampled_from("是不说非无没有能禁止您你私人个的卡号我朋友老婆那边买0123456投诉abcAB，"),
        max_size=20,
    )
)
def test_compile_scanning_keeps_every_match(text: str) -> None:
    for pattern in _SCANNED:
        plain, scanning = re.compile(pattern), compile_scanning(pattern)
        assert [m.span() for m in plain.finditer(text)] == [m.span() for m in scanning.finditer(text)]
        half = len(text) // 2
        assert [m.span() for m in plain.finditer(text, 0, half)] == [
            m.span() for m in scanning.finditer(text, 0, half)
        ]


def test_compile_scanning_adds_the_lookahead_only_where_the_engine_needs_it() -> None:
    assert compile_scanning("(?<!是)不是|不能").pattern != "(?<!是)不是|不能"
    assert compile_scanning("不能|禁止").pattern == "不能|禁止"  # the engine has its own first-character set
    assert compile_scanning("(?i)ab").pattern == "(?i)ab"


@given(
    st.lists(
        st.text(alphabet="ab微信\U00020001", min_size=1, max_size=4), min_size=1, max_size=12, unique=True
    ),
    st.text(alphabet="ab微信\U00020001x", max_size=30),
)
def test_automaton_reports_every_occurrence_by_end_then_longest_first(keys: list[str], text: str) -> None:
    """The order the analyser relies on (the first kept hit of a rule gives the finding's span)."""
    import ahocorasick_rs

    got = ahocorasick_rs.AhoCorasick(keys).find_matches_as_indexes(text, overlapping=True)
    expected = sorted(
        ((i, s, s + len(k)) for i, k in enumerate(keys) for s in range(len(text)) if text.startswith(k, s)),
        key=lambda m: (m[2], m[1]),
    )
    assert got == expected


def test_character_pinyin_equals_pypinyin_over_the_whole_cjk_block() -> None:
    """The table read from pypinyin's data file gives what pypinyin's own API gives, character by
    character, without loading pypinyin's phrase dictionary into the scanning processes."""
    from pypinyin import Style, lazy_pinyin

    from archive.risk.lexicon import _pinyin

    differ = []
    for cp in range(0x4E00, 0xA000):
        ch = chr(cp)
        expected = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore") or [ch]
        if _pinyin(ch) != expected[0]:
            differ.append((ch, _pinyin(ch), expected[0]))
    assert differ == []
    assert (_pinyin("绿"), _pinyin("银"), _pinyin("a"), _pinyin("，")) == ("lv", "yin", "a", "，")
