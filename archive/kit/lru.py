"""A bounded mapping that forgets the least recently used entry: the importer's caches of rooms,
participants and conversation windows must not grow with the number of distinct entities in a file."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[K]:
        """Store the value; returns the keys evicted to make room (usually none)."""
        self._data[key] = value
        self._data.move_to_end(key)
        evicted = []
        while len(self._data) > self.maxsize:
            evicted.append(self._data.popitem(last=False)[0])
        return evicted

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def clear(self) -> None:
        self._data.clear()
