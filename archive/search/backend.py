"""The SearchBackend protocol and its factory. Backends store blind tokens and plain metadata only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine

from archive.kit.errors import ConfigurationError, ServiceUnavailable
from archive.kit.settings import Settings

Cursor = tuple[int, str]  # (msgtime_ms, id) of the last hit of the previous page


class SearchUnavailable(ServiceUnavailable):
    code = "search_unavailable"


@dataclass(frozen=True, slots=True)
class SearchDoc:
    id: str
    msgtime_ms: int
    room_id: int
    sender: str
    msgtype: str
    employee_id: int | None
    customer_id: int | None
    department_id: int | None
    risk_labels: tuple[str, ...]
    recalled: bool
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since_ms: int | None = None
    until_ms: int | None = None
    room_ids: tuple[int, ...] | None = None
    senders: tuple[str, ...] | None = None
    employee_ids: tuple[int, ...] | None = None
    customer_ids: tuple[int, ...] | None = None
    department_ids: tuple[int, ...] | None = None  # data scope
    msgtypes: tuple[str, ...] | None = None
    risk_labels: tuple[str, ...] | None = None


class SearchBackend(Protocol):
    name: str

    def ensure_ready(self) -> None: ...
    def index(self, docs: Sequence[SearchDoc]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]: ...
    def count(self) -> int: ...
    def ping(self) -> bool: ...
    def clear(self) -> None: ...
    def refresh(self) -> None: ...


def make_backend(settings: Settings, engine: Engine) -> SearchBackend:
    if settings.search_backend == "sql":
        from archive.search.sql_backend import SqlBackend

        return SqlBackend(engine)
    if settings.search_backend == "opensearch":
        from archive.search.opensearch_backend import OpenSearchBackend

        return OpenSearchBackend(
            settings.opensearch_url,
            settings.opensearch_index,
            user=settings.opensearch_user,
            password=settings.opensearch_password,
        )
    raise ConfigurationError(f"unknown search backend {settings.search_backend}")
