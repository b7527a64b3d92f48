"""Cross-message risks, found only when the window is read together, pointing at every contributor."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.risk.analyzer import Analyzer
from archive.risk.conversation import (
    ANIMAL_EMOJI,
    SIGNALS,
    ConversationState,
    MessageSignals,
    _cross,
    advance,
    score_conversation,
    signals_of,
)
from archive.risk.detectors import luhn_ok, phones
from archive.risk.normalize import compact

A = Analyzer.default()


def _card19() -> str:
    body = "621483021234567"
    for tail in range(10000):
        c = f"{body}{tail:04d}"
        if luhn_ok(c):
            return c
    raise AssertionError


def labels(msgs: list[tuple[str, str]]) -> set[str]:
    return {f.category for f in score_conversation(A, msgs)}


def test_split_card_number() -> None:
    card = _card19()
    msgs = [
        ("employee", "退款需要您的收款信息"),
        ("customer", card[:6]),
        ("customer", card[6:12]),
        ("customer", card[12:] + " 农行"),
    ]
    found = score_conversation(A, [(t, r) for r, t in msgs])
    split = [f for f in found if f.rule == "conversation.split_number"]
    assert {f.message_index for f in split} == {1, 2, 3}
    assert all(not score_conversation(A, [(t, r)]) for r, t in msgs)  # no message is risky alone


def test_bare_code_after_request() -> None:
    msgs = [
        ("您马上会收到一条短信", "employee"),
        ("收到了", "customer"),
        ("发这里就行", "employee"),
        ("527193", "customer"),
    ]
    assert "pii_leak" in labels(msgs)
    assert "pii_leak" not in labels([("您的取件码", "employee"), ("527193", "customer")][1:])


def test_personal_qr_without_invoice() -> None:
    msgs = [
        ("店里下单要等，扫我发的这个码就行", "employee"),
        ("那能开发票吗", "customer"),
        ("这个开不了，给你便宜点", "employee"),
    ]
    assert "side_dealing" in labels(msgs)
    benign = [("扫店里收银台的码", "employee"), ("能开发票吗", "customer"), ("可以开，电子发票", "employee")]
    assert "side_dealing" not in labels(benign)


def test_understood_rebate() -> None:
    msgs = [
        ("您个人这边我们懂规矩的", "employee"),
        ("怎么说", "customer"),
        ("每单5个点，打到您说的那个账户", "employee"),
    ]
    assert "bribery" in labels(msgs)


def test_payback_promise_answering_a_question() -> None:
    msgs = [("要是一年还没回本怎么办", "customer"), ("差多少总部补多少", "employee")]
    assert "guaranteed_return" in labels(msgs)


def test_state_serialises_signals_only() -> None:
    state = ConversationState()
    card = _card19()
    advance(state, signals_of(card[:8], "customer", 0))
    data = state.to_json()
    assert card[:8] not in str(data)
    again = ConversationState.from_json(data)
    assert [m.index for m in again.window] == [0] and again.window[0].digits is None


def test_window_slides() -> None:
    state = ConversationState()
    for i in range(20):
        advance(state, signals_of("好的", "customer", i))
    assert len(state.window) == 8 and state.window[0].index == 12


def test_pay_me_without_paperwork() -> None:
    msgs = [
        ("这套灯具我可以帮你从厂里直接拿", "employee"),
        ("钱怎么给", "customer"),
        ("发给我就行", "employee"),
        ("有收据吗", "customer"),
        ("这种就不开单了", "employee"),
    ]
    assert "side_dealing" in labels(msgs)


def test_someone_elses_own_business_paid_directly() -> None:
    msgs = [
        ("这里的私教课太贵", "customer"),
        ("我以前的搭档自己出来开了个工作室", "employee"),
        ("学费直接转给他，便宜不少", "employee"),
    ]
    assert "side_dealing" in labels(msgs)
    handover = [("这单后续由我同事负责", "employee"), ("您有问题直接找她，款还是付到公司账户", "employee")]
    assert "side_dealing" not in labels(handover)


def test_appreciation_then_a_cut_per_unit() -> None:
    msgs = [
        ("王科长，这次的帮忙我们都记在心里", "employee"),
        ("客气", "customer"),
        ("以后每拉一车，给您留三百", "employee"),
    ]
    assert "bribery" in labels(msgs)
    price = [("感谢您一直以来的支持，我们都记着", "employee"), ("这批货每吨报价3200元", "employee")]
    assert "bribery" not in labels(price)


def _advance_always(state: ConversationState, signals: MessageSignals) -> list[tuple[str, str, list[int]]]:
    """`advance` without its shortcuts: every window evaluated in full (the reference)."""
    state.window.append(signals)
    fresh = []
    for category, rule, idxs in _cross(list(state.window)):
        key = f"{rule}:{min(idxs)}"
        if key not in state.fired:
            state.fired.add(key)
            fresh.append((category, rule, idxs))
    live = {m.index for m in state.window}
    state.fired = {k for k in state.fired if int(k.rsplit(":", 1)[1]) in live}
    return fresh


_SIGNAL = st.sampled_from([*sorted(SIGNALS), "animal", "bare_code", "phone"])
_MESSAGE = st.tuples(
    st.sampled_from(["employee", "customer", None]),
    st.one_of(st.just(frozenset()), st.frozensets(_SIGNAL, max_size=3)),
    st.sampled_from([None, None, None, "6222", "0212", "34567890", "1234567890123", "110105194912310021"]),
)


@settings(max_examples=400, deadline=None)
@given(messages=st.lists(_MESSAGE, max_size=40), restore_at=st.integers(0, 40))
def test_advance_shortcuts_change_nothing(
    messages: list[tuple[str | None, frozenset[str], str | None]], restore_at: int
) -> None:
    """Skipping windows whose signal-bearing messages are unchanged (a silent message in, a silent one
    out) gives the same findings and fired keys as evaluating every window, also across a reload from
    the stored form (which drops digit fragments)."""
    fast, full = ConversationState(), ConversationState()
    for i, (role, sigs, digits) in enumerate(messages):
        if i == restore_at:
            fast = ConversationState.from_json(fast.to_json())
            full = ConversationState.from_json(full.to_json())
        assert advance(fast, MessageSignals(i, role, sigs, digits)) == _advance_always(
            full, MessageSignals(i, role, sigs, digits)
        )
        assert fast.fired == full.fired


_SIGNAL_TEXT = "扫码转我就是我的发票合同朋友私下红包点块每车辆回本亏补给你兜底搜一下号ab_x9 wo1234_abc 13812345678 你好🐶那种，。0123456789一二三四五"


@settings(max_examples=500)
@given(
    st.text(alphabet=st.one_of(st.sampled_from(_SIGNAL_TEXT), st.characters(codec="utf-8")), max_size=40),
    st.sampled_from(["employee", "customer", None]),
)
def test_signals_are_every_pattern_that_matches(text: str, role: str | None) -> None:
    """The gate automaton and the cheaper pre-searches select patterns without changing the answer: each
    signal is there exactly when its pattern matches the normal form."""
    c = compact(text)
    want = {name for name, rx in SIGNALS.items() if rx.search(c)}
    want |= {"animal"} if ANIMAL_EMOJI.search(text) else set()
    want |= {"bare_code"} if re.match(r"^[0-9]{4,8}$", c) else set()
    want |= {"phone"} if role == "employee" and any(phones(c)) else set()
    got = signals_of(text, role, 3)
    assert (got.signals, got.index, got.role) == (frozenset(want), 3, role)
    assert signals_of(text, role, 3, compacted=c) == got
