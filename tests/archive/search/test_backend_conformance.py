"""One conformance suite for every search backend: sql on SQLite, sql on real PostgreSQL, and real
OpenSearch. Candidates must be a superset of the exact matches (the query service's exact check then
makes results equal a brute-force scan), filters and keyset paging must agree everywhere."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from archive.migrate import upgrade
from archive.search.backend import SearchBackend, SearchDoc, SearchFilters, SearchUnavailable
from archive.search.blind import BlindIndex
from archive.search.opensearch_backend import OpenSearchBackend
from archive.search.sql_backend import SqlBackend
from archive.store.db import make_engine

BLIND = BlindIndex(b"k" * 32)
WORDS = [
    "支付宝",
    "转账",
    "发票",
    "退款",
    "预约",
    "水光",
    "保本",
    "理财",
    "客户",
    "门店",
    "Alipay",
    "VX",
    "12315",
    "的",
    "了",
]


def corpus(n: int = 300, seed: int = 5) -> dict[str, tuple[SearchDoc, str]]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        text = "".join(
            rng.choice(WORDS) + rng.choice(["", "，", " ", "。"]) for _ in range(rng.randint(1, 8))
        )
        doc = SearchDoc(
            id=f"{i:032x}",
            msgtime_ms=1_700_000_000_000 + rng.randint(0, 50) * 1000,  # many equal times: ties broken by id
            room_id=rng.randint(1, 5),
            sender=rng.choice(["zhoumin", "lina", "wmCUSTOMER"]),
            msgtype=rng.choice(["text", "text", "file"]),
            employee_id=rng.choice([1, 2, None]),
            customer_id=rng.choice([10, None]),
            department_id=rng.choice([100, 200]),
            risk_labels=tuple(rng.sample(["side_dealing", "complaint"], rng.randint(0, 2))),
            recalled=rng.random() < 0.1,
            tokens=tuple(BLIND.doc_tokens(text)),
        )
        out[doc.id] = (doc, text)
    return out


@pytest.fixture(params=["sql-sqlite", "sql-postgres", "opensearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    engine: Engine | None = None
    if request.param == "opensearch":
        b: SearchBackend = OpenSearchBackend(
            request.getfixturevalue("opensearch_url"), request.getfixturevalue("os_index")
        )
    else:
        url = (
            f"sqlite:///{tmp_path / 's.db'}"
            if request.param == "sql-sqlite"
            else request.getfixturevalue("fresh_pg_url")
        )
        engine = make_engine(url)
        upgrade(engine)
        b = SqlBackend(engine)
    b.ensure_ready()
    yield b
    b.clear()
    if engine is not None:
        engine.dispose()


def _all(b: SearchBackend, tokens: list[str], f: SearchFilters, page: int = 37) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    after = None
    while True:
        got = b.candidates(tokens, f, page, after)
        out.extend(got)
        if len(got) < page:
            return out
        after = got[-1]


def _expected(docs: dict[str, tuple[SearchDoc, str]], ids: set[str]) -> list[tuple[int, str]]:
    return sorted(((docs[i][0].msgtime_ms, i) for i in ids), reverse=True)


def test_candidates_cover_exact_matches_and_page_in_order(backend: SearchBackend) -> None:
    docs = corpus()
    backend.index([d for d, _ in docs.values()])
    backend.refresh()
    assert backend.count() == len(docs)
    rng = random.Random(9)
    queries = ["支付宝", "的", "宝转", "VX", "vx", "12315", "发票。", "保本理财", "不存在"]
    for _, text in rng.sample(list(docs.values()), 20):
        if len(text) > 3:
            start = rng.randrange(len(text) - 2)
            queries.append(text[start : start + rng.randint(1, 3)])
    for q in queries:
        if not q.strip():
            continue
        got = _all(backend, BLIND.query_tokens(q), SearchFilters())
        assert len(got) == len(set(got)), "pages overlap"
        assert got == sorted(got, reverse=True), "not ordered by time then id, descending"
        exact = {i for i, (_, t) in docs.items() if BLIND.matches(q, t)}
        assert exact <= {i for _, i in got}, q
        if len(q.strip()) <= 2:  # one bigram or unigram: candidates are exactly the matches
            assert {i for _, i in got} == exact, q


def test_filters(backend: SearchBackend) -> None:
    docs = corpus(120, seed=3)
    backend.index([d for d, _ in docs.values()])
    backend.refresh()
    cases = [
        (SearchFilters(room_ids=(1, 2)), lambda d: d.room_id in (1, 2)),
        (SearchFilters(senders=("lina",)), lambda d: d.sender == "lina"),
        (SearchFilters(employee_ids=(1,)), lambda d: d.employee_id == 1),
        (SearchFilters(customer_ids=(10,)), lambda d: d.customer_id == 10),
        (SearchFilters(department_ids=(200,)), lambda d: d.department_id == 200),
        (SearchFilters(msgtypes=("file",)), lambda d: d.msgtype == "file"),
        (SearchFilters(risk_labels=("complaint",)), lambda d: "complaint" in d.risk_labels),
        (
            SearchFilters(since_ms=1_700_000_010_000, until_ms=1_700_000_030_000),
            lambda d: 1_700_000_010_000 <= d.msgtime_ms < 1_700_000_030_000,
        ),
        (SearchFilters(department_ids=()), lambda d: False),
    ]
    for f, pred in cases:
        got = _all(backend, [], f)
        assert got == _expected(docs, {i for i, (d, _) in docs.items() if pred(d)}), f


def test_reindex_is_idempotent_and_delete_and_clear(backend: SearchBackend) -> None:
    docs = corpus(50)
    items = [d for d, _ in docs.values()]
    backend.index(items)
    backend.index(items[:20])
    backend.refresh()
    assert backend.count() == 50
    gone = [d.id for d in items[:10]]
    backend.delete(gone)
    backend.refresh()
    assert backend.count() == 40
    assert not set(gone) & {i for _, i in _all(backend, [], SearchFilters())}
    backend.clear()
    backend.ensure_ready()
    backend.refresh()
    assert backend.count() == 0


def test_updated_document_replaces_tokens(backend: SearchBackend) -> None:
    doc = corpus(1)["0" * 32][0]
    backend.index([doc])
    from dataclasses import replace

    backend.index(
        [replace(doc, tokens=tuple(BLIND.doc_tokens("完全不同的内容")), risk_labels=("complaint",))]
    )
    backend.refresh()
    assert _all(backend, BLIND.query_tokens("不同"), SearchFilters()) == [(doc.msgtime_ms, doc.id)]
    assert _all(backend, BLIND.query_tokens("支付宝转账"), SearchFilters()) == []
    assert _all(backend, [], SearchFilters(risk_labels=("complaint",))) == [(doc.msgtime_ms, doc.id)]


def test_dead_opensearch_is_unavailable_not_a_crash() -> None:
    dead = OpenSearchBackend("http://127.0.0.1:1", "nope", timeout=2)
    assert dead.ping() is False
    with pytest.raises(SearchUnavailable):
        dead.index(list(x for x, _ in corpus(2).values()))
    with pytest.raises(SearchUnavailable):
        dead.candidates(["x"], SearchFilters(), 10)
