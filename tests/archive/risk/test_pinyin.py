"""Telling words typed in pinyin from English ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.risk.pinyin import is_pinyin_word, syllables


@pytest.mark.parametrize("word", ["wo", "yao", "nimen", "tousu", "zhuangshuang", "lve", "gei"])
def test_pinyin_words(word: str) -> None:
    assert is_pinyin_word(word)


@pytest.mark.parametrize("word", ["", "the", "usb", "service", "sb", "team", "x", "hello"])
def test_other_words(word: str) -> None:
    assert not is_pinyin_word(word)


@given(st.lists(st.sampled_from(sorted(syllables())), min_size=1, max_size=8))
def test_any_run_of_syllables_is_pinyin(parts: list[str]) -> None:
    assert is_pinyin_word("".join(parts))


def test_long_runs_are_cheap() -> None:
    assert not is_pinyin_word("an" * 20 + "x")  # a segmentation DP, not a backtracking regex
