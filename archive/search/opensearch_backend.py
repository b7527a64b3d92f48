"""The `opensearch` backend: blind tokens as a `keyword` field that is searchable but neither stored in
`_source` nor kept as doc values; metadata as plain fields. Bulk writes and deletes by id through `_bulk`
(the integ-test build has no _delete_by_query), `search_after` paging. Only core features are used, so the
full image used by docker-compose behaves the same."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    ConnectionError as OSConnectionError,
)
from opensearchpy.exceptions import (
    NotFoundError,
    RequestError,
    TransportError,
)

from archive.search.backend import Cursor, SearchDoc, SearchFilters, SearchRejected, SearchUnavailable

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_source": {"excludes": ["tokens"]},
    "properties": {
        "id": {"type": "keyword"},  # also the tie-break of the sort (ids compare as bytes)
        "msgtime_ms": {"type": "long"},
        "room_id": {"type": "long"},
        "sender": {"type": "keyword"},
        "msgtype": {"type": "keyword"},
        "employee_id": {"type": "long"},
        "customer_id": {"type": "long"},
        "department_id": {"type": "long"},
        "risk_labels": {"type": "keyword"},
        "recalled": {"type": "boolean"},
        "tokens": {"type": "keyword", "doc_values": False, "norms": False, "index_options": "docs"},
    },
}
BULK_DOCS = 2000  # ~2 MB per _bulk request
_BULK_FIELDS = "errors,items.*.status,items.*.error.type"
MAX_WINDOW = 10_000  # index.max_result_window: larger pages are read in several requests

R = TypeVar("R")


class OpenSearchBackend:
    name = "opensearch"

    def __init__(
        self,
        url: str,
        index: str,
        *,
        user: str = "",
        password: str = "",
        timeout: float = 30.0,
        shards: int = 1,
        replicas: int = 0,
        refresh_interval: str = "5s",
    ) -> None:
        auth = (user, password) if user else None
        # No client retries: a failed write stays in the outbox and is retried with backoff there.
        self.client = OpenSearch(url, http_auth=auth, timeout=timeout, max_retries=0, retry_on_timeout=False)
        self.index_name = index
        self.shards = shards
        self.replicas = replicas
        self.refresh_interval = refresh_interval
        self._ready = False

    def _call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run a client call; an unreachable, overloaded or failing cluster is SearchUnavailable."""
        try:
            return fn(*args, **kwargs)
        except OSConnectionError as exc:  # includes ConnectionTimeout
            raise SearchUnavailable(f"OpenSearch unreachable: {type(exc).__name__}") from None
        except TransportError as exc:
            status = exc.status_code
            if not isinstance(status, int) or status >= 500 or status == 429:
                raise SearchUnavailable(f"OpenSearch error {status}") from None
            raise

    # -- schema ---------------------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Create the index with its strict mapping if it does not exist, and give it the configured
        refresh interval (an existing index too, so a changed setting applies). Idempotent."""
        if not self._call(self.client.indices.exists, index=self.index_name):
            body = {
                "settings": {
                    "number_of_shards": self.shards,
                    "number_of_replicas": self.replicas,
                    "refresh_interval": self.refresh_interval,
                },
                "mappings": MAPPING,
            }
            try:
                self._call(self.client.indices.create, index=self.index_name, body=body)
            except RequestError as exc:  # created concurrently by another worker
                if "resource_already_exists" not in str(exc.error):
                    raise
        elif self._refresh_setting() != self.refresh_interval:
            self._call(
                self.client.indices.put_settings,
                index=self.index_name,
                body={"index": {"refresh_interval": self.refresh_interval}},
            )
        self._ready = True

    def _refresh_setting(self) -> str | None:
        got = self._call(
            self.client.indices.get_settings, index=self.index_name, name="index.refresh_interval"
        )
        value = got.get(self.index_name, {}).get("settings", {}).get("index", {}).get("refresh_interval")
        return value if isinstance(value, str) else None

    # -- writes ---------------------------------------------------------------------------------------

    @staticmethod
    def _body(d: SearchDoc) -> dict[str, Any]:
        return {
            "id": d.id,
            "msgtime_ms": d.msgtime_ms,
            "room_id": d.room_id,
            "sender": d.sender,
            "msgtype": d.msgtype,
            "employee_id": d.employee_id,
            "customer_id": d.customer_id,
            "department_id": d.department_id,
            "risk_labels": list(d.risk_labels),
            "recalled": d.recalled,
            # token_text is sorted already (archive.search.sql_backend.token_text)
            "tokens": d.token_text.split() if d.token_text is not None else sorted(set(d.tokens)),
        }

    def _bulk(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if not self._ready:
            # Never let _bulk auto-create the index with a dynamic mapping (after clear(), say).
            self.ensure_ready()
        # Only what the checks below read: the whole answer repeats index, id, version, shards and seq_no
        # for every item (≈ 230 bytes a document, 1.7 µs a document to parse; ≈ 28 bytes, 0.3 µs now).
        resp = self._call(self.client.bulk, body=b"\n".join(lines) + b"\n", filter_path=_BULK_FIELDS)
        if not resp.get("errors"):
            return
        failed = [
            result
            for item in resp["items"]
            for op, result in item.items()
            if result.get("status", 200) >= 300 and not (op == "delete" and result.get("status") == 404)
        ]
        if not failed:
            return
        statuses = {int(r.get("status", 0)) for r in failed}
        kinds = sorted({str(r.get("error", {}).get("type", "unknown")) for r in failed})
        # Error types and statuses only: a reason may quote a field value.
        detail = f"{len(failed)} of {len(resp['items'])} bulk items failed: {', '.join(kinds)}"
        if any(s == 429 or s >= 500 for s in statuses):
            raise SearchUnavailable(detail)
        raise SearchRejected(detail)

    def index(self, docs: Sequence[SearchDoc]) -> None:
        for i in range(0, len(docs), BULK_DOCS):
            lines: list[bytes] = []
            for d in docs[i : i + BULK_DOCS]:
                lines.append(orjson.dumps({"index": {"_index": self.index_name, "_id": d.id}}))
                lines.append(orjson.dumps(self._body(d)))
            self._bulk(lines)

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), BULK_DOCS):
            self._bulk(
                [
                    orjson.dumps({"delete": {"_index": self.index_name, "_id": x}})
                    for x in ids[i : i + BULK_DOCS]
                ]
            )

    def clear(self) -> None:
        with contextlib.suppress(NotFoundError):
            self._call(self.client.indices.delete, index=self.index_name)
        self._ready = False

    def refresh(self) -> None:
        with contextlib.suppress(NotFoundError):
            self._call(self.client.indices.refresh, index=self.index_name)

    # -- reads ----------------------------------------------------------------------------------------

    def count(self) -> int:
        try:
            return int(self._call(self.client.count, index=self.index_name)["count"])
        except NotFoundError:
            return 0

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:  # ping reports, never raises
            return False

    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]:
        query = _query(tokens, filters)
        if limit <= 0 or query is None:
            return []
        out: list[Cursor] = []
        while len(out) < limit:
            size = min(limit - len(out), MAX_WINDOW)
            body: dict[str, Any] = {
                "query": query,
                "sort": [{"msgtime_ms": "desc"}, {"id": "desc"}],
                "size": size,
                "_source": False,
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = [after[0], after[1]]
            try:
                resp = self._call(self.client.search, index=self.index_name, body=body)
            except NotFoundError:
                return out
            hits = [(int(h["sort"][0]), str(h["sort"][1])) for h in resp["hits"]["hits"]]
            out.extend(hits)
            if len(hits) < size:
                break
            after = hits[-1]
        return out


def _query(tokens: Sequence[str], f: SearchFilters) -> dict[str, Any] | None:
    """A non-scoring bool filter: every token, every filter. None when a filter admits nothing."""
    clauses: list[dict[str, Any]] = [{"term": {"tokens": t}} for t in sorted(set(tokens))]
    rng: dict[str, int] = {}
    if f.since_ms is not None:
        rng["gte"] = f.since_ms
    if f.until_ms is not None:
        rng["lt"] = f.until_ms
    if rng:
        clauses.append({"range": {"msgtime_ms": rng}})
    values: tuple[Any, ...] | None
    for field, values in (
        ("room_id", f.room_ids),
        ("sender", f.senders),
        ("employee_id", f.employee_ids),
        ("customer_id", f.customer_ids),
        ("department_id", f.department_ids),
        ("msgtype", f.msgtypes),
        ("risk_labels", f.risk_labels),
    ):
        if values is not None:
            if not values:
                return None
            clauses.append({"terms": {field: sorted(set(values))}})
    return {"bool": {"filter": clauses}}


__all__ = ["MAPPING", "OpenSearchBackend"]
