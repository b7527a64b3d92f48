from __future__ import annotations

import pytest

from archive.kit.lru import LRU


def test_evicts_the_least_recently_used() -> None:
    cache: LRU[str, int] = LRU(2)
    assert cache.put("a", 1) == [] and cache.put("b", 2) == []
    assert cache.get("a") == 1  # "a" is now the most recent
    assert cache.put("c", 3) == ["b"]
    assert "b" not in cache and cache.get("b") is None
    assert list(cache) == ["a", "c"] and len(cache) == 2


def test_put_refreshes_an_existing_key() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.put("a", 10) == []
    assert cache.put("c", 3) == ["b"]
    assert cache.get("a") == 10


def test_clear_and_invalid_size() -> None:
    cache: LRU[int, int] = LRU(1)
    cache.put(1, 1)
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        LRU(0)
