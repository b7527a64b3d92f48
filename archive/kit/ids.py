"""Record ids: time-ordered, random, URL-safe (they are also the AEAD associated data)."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 32-hex-char id: 48-bit millisecond time then 80 random bits (sorts by creation time)."""
    ms = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{ms:012x}{os.urandom(10).hex()}"
