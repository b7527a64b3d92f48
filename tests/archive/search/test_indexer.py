"""`reindex` rebuilds the derived index from the archive alone."""

from __future__ import annotations

from archive.ingest.pipeline import Importer
from archive.runtime import Runtime
from archive.search.indexer import lag, reindex
from archive.search.service import search
from audit.principal import operator
from tests.helpers import SAMPLE


def test_reindex_from_scratch(runtime: Runtime) -> None:
    Importer(runtime).import_file(SAMPLE)
    runtime.search.refresh()
    with runtime.sessions() as s:
        before = [h.id for h in search(s, runtime, operator(), "退款", limit=0).hits]
        s.commit()
    runtime.search.clear()
    runtime.search.ensure_ready()
    runtime.search.refresh()
    assert runtime.search.count() == 0
    assert reindex(runtime, batch=37) == 159
    assert runtime.search.count() == 159
    with runtime.sessions() as s:
        after = [h.id for h in search(s, runtime, operator(), "退款", limit=0).hits]
        assert after == before and before
        assert lag(s) == 0
        s.commit()
