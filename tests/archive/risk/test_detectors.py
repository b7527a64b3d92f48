"""ID numbers (GB 11643), bank cards (Luhn, prefix, context), private phones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.risk.detectors import card_like, detect, has_phone, id_check_ok, luhn_ok, phones


def _make_id(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def test_id_check_digit_including_x() -> None:
    ids = [_make_id(f"1101051985{m:02d}12{n:03d}") for m in (1, 6, 12) for n in range(0, 40)]
    assert all(id_check_ok(i) for i in ids)
    assert any(i.endswith("X") for i in ids)  # the X check character is exercised
    assert all(id_check_ok(i.lower()) for i in ids)


@pytest.mark.parametrize(
    "bad",
    [
        "110105198501120010",  # wrong check digit (unless by chance: asserted below)
        _make_id("11010519851312001")[:-1] + "0",
        _make_id("11010519850230001"),  # 30 February
        _make_id("11010520990101001"),  # born in the future
        "11010519850112001",  # 17 digits
        "11010519850112001A",
    ],
)
def test_id_rejects(bad: str) -> None:
    if bad == "110105198501120010":
        assert id_check_ok(bad) == (_make_id(bad[:17]) == bad)
    else:
        assert not id_check_ok(bad)


def test_luhn_and_card_prefix() -> None:
    assert luhn_ok("4111111111111111") and card_like("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert card_like("6222020200112233441") == luhn_ok("6222020200112233441")
    assert not card_like("1234567812345670")  # Luhn-valid but no issuer starts with 1
    assert not card_like("411111111111")  # too short


def _card(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def test_card_in_context() -> None:
    card = _card("621700", 19)
    assert [d.rule for d in detect(f"退款打这张卡{card}", "customer")] == ["detector.bank_card"]
    assert detect(f"订单号{card}已发货", "employee") == []  # an order number, however Luhn-valid
    assert detect(f"对公账户{card}，备注合同号", "employee") == []


def test_private_phone_only_when_handed_out() -> None:
    assert [d.rule for d in detect("有事打我手机13805712266", "employee")] == ["detector.private_phone"]
    assert detect("收货电话13917265503放驿站", "customer") == []  # the customer's own phone
    assert detect("我们的400热线4008206612", "employee") == []
    assert detect("尾号13805712266", "employee") == []
    assert detect("会员手机号138****6620", "employee") == []


@given(st.text(alphabet=st.sampled_from("0123456789*1 3x中"), max_size=30))
def test_has_phone_is_any_phone(text: str) -> None:
    assert has_phone(text) == any(phones(text))
