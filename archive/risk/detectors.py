"""Detectors beyond words, run on the normalised text (numerals already turned into digits):
mainland ID numbers (GB 11643 check digit, plausible birth date), bank cards (Luhn, length, issuer
prefix, context), phone numbers handed out as a private contact. Verification codes and passwords in
context are lexicon rules; their cross-message forms are in conversation.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10x98765432"
_DIGITS = re.compile(r"(?<![0-9])[0-9]{15,19}x?(?![0-9])")
_PHONE = re.compile(r"(?<![0-9*])1[3-9][0-9]{9}(?![0-9*])")
# Every detection above needs at least 11 digits in a row; most messages have none and stop at this test.
# (Spelt with a leading character class, which the regex engine scans for directly: "[0-9]{11}" is the
# same pattern but is tried at every position, at twice the cost.)
_ELEVEN_DIGITS = re.compile(r"[0-9][0-9]{10}")
# Words that say a long number is not a bank card (order, tracking, membership, batch, corporate account…)
NOT_A_CARD = re.compile(
    r"订单|单号|运单|快递|物流|取件|会员|积分|批号|编号|授权|流水|对公|公司账|开户行|合同号|发票号|工单|条码|sku|货号|型号|券码|卡券|序列号|sn"
)
PHONE_DIVERSION = re.compile(
    r"打我|我的?(?:私人)?(?:手机|电话|号)|私人|微信同号|vx同号|联系我|找我|加我|搜(?:这个|一下)?号?|存(?:一下)?(?:这个|我)|我(?:的)?号码"
)
PHONE_OFFICIAL = re.compile(
    r"400|座机|热线|客服电话|门店电话|前台|系统|自动|收货|快递|配送|驿站|会员手机号|尾号"
)


def id_check_ok(num: str) -> bool:
    """GB 11643-1999: 17 digits, then a check character from the weighted sum mod 11 (X for 10)."""
    if len(num) != 18 or not num[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(num[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK[total % 11] != num[17].lower():
        return False
    try:
        born = date(int(num[6:10]), int(num[10:12]), int(num[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def luhn_ok(num: str) -> bool:
    if not num.isdigit():
        return False
    total = 0
    for i, d in enumerate(reversed(num)):
        n = int(d)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def card_like(num: str) -> bool:
    """Length 16–19, Luhn, and an issuer prefix used in mainland China (UnionPay 62, Visa 4, Mastercard
    51–55/2221–2720, Amex 34/37, JCB 35, domestic debit 60/9)."""
    if not 16 <= len(num) <= 19 or not luhn_ok(num):
        return False
    return num.startswith(("62", "4", "51", "52", "53", "54", "55", "34", "37", "35", "60", "9")) or (
        2221 <= int(num[:4]) <= 2720
    )


@dataclass(frozen=True, slots=True)
class Detection:
    category: str
    rule: str
    start: int
    end: int


def detect(text: str, sender_role: str | None) -> list[Detection]:
    """Detections over normalised text."""
    out: list[Detection] = []
    if _ELEVEN_DIGITS.search(text) is None:
        return out
    for m in _DIGITS.finditer(text):
        num = m.group()
        if len(num) == 18 and id_check_ok(num):
            out.append(Detection("pii_leak", "detector.id_number", m.start(), m.end()))
        elif num.isdigit() and card_like(num):
            cstart = max((text.rfind(ch, 0, m.start()) for ch in "，。！？；,!?;"), default=-1) + 1
            before = text[max(cstart, m.start() - 12) : m.start()]
            after = text[m.end() : m.end() + 4]
            if not NOT_A_CARD.search(before) and not NOT_A_CARD.search(after) and "对公" not in text:
                out.append(Detection("pii_leak", "detector.bank_card", m.start(), m.end()))
    if sender_role != "customer":
        for m in _PHONE.finditer(text):
            around = text[max(0, m.start() - 16) : m.end() + 12]
            if PHONE_DIVERSION.search(around) and not PHONE_OFFICIAL.search(around):
                out.append(Detection("contact_diversion", "detector.private_phone", m.start(), m.end()))
    return out


def phones(text: str) -> list[str]:
    return [m.group() for m in _PHONE.finditer(text)]


def has_phone(text: str) -> bool:
    """`any(phones(text))`, cheaper: a phone number is 11 digits in a row, which most messages lack."""
    return _ELEVEN_DIGITS.search(text) is not None and _PHONE.search(text) is not None
