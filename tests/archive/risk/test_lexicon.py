"""The lexicon as data: JSON round trip, validation errors, variants."""

from __future__ import annotations

import pytest

from archive.kit.errors import InvalidInput
from archive.risk.lexicon import Lexicon, first_chars, variants


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
