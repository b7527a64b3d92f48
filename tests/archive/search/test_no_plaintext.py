"""Dump the whole OpenSearch index after importing the sample: no message text — not even a two-character
fragment of it — appears in documents, stored fields or the mapping."""

from __future__ import annotations

import json

import orjson
from sqlalchemy import select

from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.search.opensearch_backend import OpenSearchBackend
from archive.store.models import Message
from archive.store.records import RecordReader
from audit.access import record_text
from tests.helpers import SAMPLE


def test_index_holds_no_plaintext(production_runtime: Runtime) -> None:
    rt = production_runtime
    Importer(rt).import_file(SAMPLE)
    rt.search.refresh()
    backend = rt.search
    assert isinstance(backend, OpenSearchBackend)
    client, index = backend.client, backend.index_name
    dump = client.search(
        index=index,
        body={"query": {"match_all": {}}, "size": 1000, "_source": True, "stored_fields": ["*"]},
    )
    assert len(dump["hits"]["hits"]) == 159
    blob = json.dumps(dump, ensure_ascii=False) + json.dumps(
        client.indices.get(index=index), ensure_ascii=False
    )
    reader = RecordReader(rt.blobs, rt.envelope)
    with rt.sessions() as s:
        senders = set(s.execute(select(Message.sender)).scalars())  # metadata is plain by design
        texts = [
            record_text(m.source, orjson.loads(p))
            for m, p in reader.open_many(s.execute(select(Message)).scalars().all())
        ]
    checked = 0
    for text in texts:
        cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
        for i in range(len(cjk) - 1):
            assert cjk[i] + cjk[i + 1] not in blob
            checked += 1
        for word in text.split():
            if len(word) >= 6 and not word.isdigit() and word not in senders:
                assert word not in blob, word
    assert checked > 1000
    tok = rt.blind.query_tokens("支付宝")[0]
    assert client.count(index=index, body={"query": {"term": {"tokens": tok}}})["count"] >= 1
    assert "tokens" not in dump["hits"]["hits"][0]["_source"]  # blind tokens are searchable, not retrievable
