"""The `opensearch` backend: blind tokens as a `keyword` field, metadata as plain fields; bulk writes,
deletes by id through `_bulk` (the integ-test build has no _delete_by_query), `search_after` paging.
Only core features are used, so the full image used by docker-compose behaves the same."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import orjson

from archive.search.backend import Cursor, SearchDoc, SearchFilters, SearchUnavailable

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_source": {"excludes": ["tokens"]},
    "properties": {
        "id": {"type": "keyword"},
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
BULK_DOCS = 1000


class OpenSearchBackend:
    name = "opensearch"

    def __init__(
        self, url: str, index: str, *, user: str = "", password: str = "", timeout: float = 30.0
    ) -> None:
        from opensearchpy import OpenSearch

        auth = (user, password) if user else None
        self.client = OpenSearch(url, http_auth=auth, timeout=timeout, max_retries=0, retry_on_timeout=False)
        self.index_name = index

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from opensearchpy.exceptions import ConnectionError as OSConnectionError
        from opensearchpy.exceptions import ConnectionTimeout, TransportError

        try:
            return fn(*args, **kwargs)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise SearchUnavailable(f"OpenSearch unreachable: {type(exc).__name__}") from None
        except TransportError as exc:
            if (isinstance(exc.status_code, int) and exc.status_code >= 500) or exc.status_code == "N/A":
                raise SearchUnavailable(f"OpenSearch error {exc.status_code}") from None
            raise

    def ensure_ready(self) -> None:
        exists = self._call(self.client.indices.exists, index=self.index_name)
        if not exists:
            body = {
                "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
                "mappings": MAPPING,
            }
            from opensearchpy.exceptions import RequestError

            try:
                self._call(self.client.indices.create, index=self.index_name, body=body)
            except RequestError as exc:  # created concurrently
                if "resource_already_exists" not in str(exc.error):
                    raise

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
            "tokens": sorted(set(d.tokens)),
        }

    def _bulk(self, lines: list[bytes]) -> None:
        if not lines:
            return
        resp = self._call(self.client.bulk, body=b"\n".join(lines) + b"\n")
        if resp.get("errors"):
            bad = [
                it
                for it in resp["items"]
                for v in it.values()
                if v.get("status", 200) >= 300 and v.get("status") != 404
            ]
            if bad:
                first = next(iter(bad[0].values()))
                status = first.get("status", 0)
                if status >= 500 or status == 429:
                    raise SearchUnavailable(f"OpenSearch bulk rejected: {status}")
                raise RuntimeError(f"OpenSearch bulk item failed: {first.get('error', {}).get('type')}")

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

    def candidates(
        self, tokens: Sequence[str], filters: SearchFilters, limit: int, after: Cursor | None = None
    ) -> list[Cursor]:
        must: list[dict[str, Any]] = [{"term": {"tokens": t}} for t in sorted(set(tokens))]
        f = filters
        rng: dict[str, int] = {}
        if f.since_ms is not None:
            rng["gte"] = f.since_ms
        if f.until_ms is not None:
            rng["lt"] = f.until_ms
        if rng:
            must.append({"range": {"msgtime_ms": rng}})
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
                must.append({"terms": {field: list(values)}})
        body: dict[str, Any] = {
            "query": {"bool": {"filter": must}},
            "sort": [{"msgtime_ms": "desc"}, {"id": "desc"}],
            "size": limit,
            "_source": False,
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = [after[0], after[1]]
        resp = self._call(self.client.search, index=self.index_name, body=body)
        return [(int(h["sort"][0]), str(h["sort"][1])) for h in resp["hits"]["hits"]]

    def count(self) -> int:
        return int(self._call(self.client.count, index=self.index_name)["count"])

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except Exception:
            return False

    def clear(self) -> None:
        from opensearchpy.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError):
            self._call(self.client.indices.delete, index=self.index_name)

    def refresh(self) -> None:
        from opensearchpy.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError):
            self._call(self.client.indices.refresh, index=self.index_name)
