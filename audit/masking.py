"""Field masking for roles that must not see PII in clear (outsourced staff): phones, ID and card numbers."""

from __future__ import annotations

import re

_ID = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
_CARD = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_pii(text: str) -> str:
    """138****1234 for phones; first 6 and last 4 of an ID; first and last 4 of a card."""
    text = _ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-4:].rjust(4, "*")[-4:], text)
    text = _CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
