"""The SearchBackend protocol and its factory. A backend stores blind tokens and plain metadata only: it
never sees message text, and it returns candidate ids that the query service decrypts and checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import Engine

from archive.kit.errors import ChatVaultError, ConfigurationError, ServiceUnavailable
from archive.kit.settings import Settings

Cursor = tuple[int, str]  # (msgtime_ms, id) of the last hit of the previous page


class SearchUnavailable(ServiceUnavailable):
    """The search service is down, overloaded or unreachable: retry later (the outbox does)."""

    code = "search_unavailable"


class SearchRejected(ChatVaultError):
    """The search service refused a document or request (a mapping or programming error): retrying the
    same input will not help until the cause is fixed."""

    code = "search_rejected"


@dataclass(slots=True)  # not frozen: built for every imported message, and a frozen init costs 3x
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
    tokens: tuple[str, ...]  # BlindIndex.doc_tokens of the text (empty when token_text is given)
    # Or the tokens as the sql backend stores them (sql_backend.token_text: canonical, sorted, spaced),
    # when the caller computed that already: the importer's workers do, so its writing process neither
    # sorts and checks them nor splits them for the embedded index.
    token_text: str | None = None

    def token_list(self) -> list[str]:
        return self.token_text.split() if self.token_text is not None else list(self.tokens)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Every filter that is set must hold. A tuple admits any of its values (an empty tuple admits
    nothing); `since_ms` is inclusive, `until_ms` exclusive."""

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

    def ensure_ready(self) -> None:
        """Create the tables / the index and its mapping if missing (idempotent)."""

    def index(self, docs: Sequence[SearchDoc]) -> None:
        """Bulk upsert by id (idempotent): a re-indexed document replaces its tokens and metadata."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]:
        """(msgtime_ms, id) of documents having ALL tokens (no tokens: filters only) and matching the
        filters, ordered by msgtime desc then id desc, strictly after `after` in that order, at most
        `limit` (fewer only when there are no more)."""

    def count(self) -> int:
        """Documents in the index."""

    def ping(self) -> bool:
        """Whether the backend answers; never raises."""

    def clear(self) -> None:
        """Drop every document (before a reindex); ensure_ready() makes it usable again."""

    def refresh(self) -> None:
        """Make completed writes visible to candidates() (a no-op for sql)."""


def make_backend(settings: Settings, engine: Engine) -> SearchBackend:
    """The backend chosen by settings.search_backend; `engine` is the archive's database (sql backend)."""
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
            refresh_interval=settings.opensearch_refresh_interval,
        )
    raise ConfigurationError(f"unknown search backend {settings.search_backend}")
