"""One conformance suite for every search backend: sql on SQLite (also with tiny read batches, to exercise
its page edges), sql on real PostgreSQL, and real OpenSearch. Candidates must be a superset of the exact
substring matches (the query service's exact check then makes results equal a brute-force scan); filters,
ordering and keyset paging must agree everywhere."""

from __future__ import annotations

import json
import random
import re
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from archive.kit.errors import ConfigurationError
from archive.kit.settings import Settings
from archive.search.backend import (
    Cursor,
    SearchBackend,
    SearchDoc,
    SearchFilters,
    SearchRejected,
    SearchUnavailable,
    make_backend,
)
from archive.search.blind import BlindIndex, normalize
from archive.search.models import SearchDocRow
from archive.search.opensearch_backend import OpenSearchBackend
from archive.search.sql_backend import SLOT_MASK, SqlBackend
from archive.store.db import Base, make_engine

BLIND = BlindIndex(b"conformance-index-key-32-bytes!!")
T0 = 1_700_000_000_000
WORDS = [
    "支付宝", "转账", "發票", "退款", "预约", "水光", "保本", "理财", "客户", "门店", "私下", "加我",
    "微信", "返点", "投诉", "身份证", "银行卡", "谢谢", "好的", "的", "了", "吗", "Alipay", "VX",
    "USDT", "iPhone15", "12315", "ＶＸ", "９折",
]  # fmt: skip
PUNCT = ["", "", "，", " ", "。", "！", "~"]
Corpus = dict[str, tuple[SearchDoc, str]]


def make_doc(i: int, text: str, rng: random.Random, **over: object) -> SearchDoc:
    doc = SearchDoc(
        id=f"{T0 + i:012x}{rng.getrandbits(80):020x}",
        msgtime_ms=T0 + rng.randint(0, 60) * 1000,  # many equal times: ties are broken by id
        room_id=rng.randint(1, 5),
        sender=rng.choice(["zhoumin", "lina", "wmCUSTOMER01"]),
        msgtype=rng.choice(["text", "text", "file", "mixed"]),
        employee_id=rng.choice([1, 2, 3, None]),
        customer_id=rng.choice([10, 11, None]),
        department_id=rng.choice([100, 200, 300, None]),
        risk_labels=tuple(sorted(rng.sample(["side_dealing", "complaint", "pii"], rng.choice([0, 0, 1, 2])))),
        recalled=rng.random() < 0.1,
        tokens=tuple(BLIND.doc_tokens(text)),
    )
    return replace(doc, **over)  # type: ignore[arg-type]


def corpus(n: int = 300, seed: int = 5) -> Corpus:
    rng = random.Random(seed)
    out: Corpus = {}
    for i in range(n):
        text = "".join(rng.choice(WORDS) + rng.choice(PUNCT) for _ in range(rng.randint(1, 9)))
        doc = make_doc(i, text, rng)
        out[doc.id] = (doc, text)
    return out


def docs_of(c: Corpus) -> list[SearchDoc]:
    return [d for d, _ in c.values()]


def ordered(pairs: list[Cursor] | set[Cursor]) -> list[Cursor]:
    return sorted(pairs, reverse=True)


# -- backends ---------------------------------------------------------------------------------------


def _pg_engine(pg_url: str) -> tuple[Engine, Callable[[], None]]:
    """An engine whose search_path is a schema of its own in the session's PostgreSQL database."""
    schema = f"cvs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


BACKENDS = ["sql-sqlite", "sql-sqlite-tiny-batches", "sql-postgres", "opensearch"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    b: SearchBackend
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "opensearch":
        b = OpenSearchBackend(request.getfixturevalue("opensearch_url"), request.getfixturevalue("os_index"))
    else:
        if request.param == "sql-postgres":
            engine, cleanup = _pg_engine(request.getfixturevalue("pg_url"))
        else:
            engine = make_engine(f"sqlite:///{tmp_path / 'search.db'}")
            cleanup = engine.dispose
        # What the migration creates; ensure_ready must accept it (and adds the FTS5 table on SQLite).
        Base.metadata.create_all(engine, tables=[SearchDocRow.__table__])  # type: ignore[list-item]
        tiny = request.param == "sql-sqlite-tiny-batches"
        b = SqlBackend(engine, first_batch=1, max_batch=3) if tiny else SqlBackend(engine)
    b.ensure_ready()
    b.ensure_ready()  # idempotent
    try:
        yield b
    finally:
        if isinstance(b, OpenSearchBackend):
            b.clear()  # deletes the test's index
        cleanup()


def load(b: SearchBackend, c: Corpus) -> None:
    b.index(docs_of(c))
    b.refresh()


def everything(b: SearchBackend, tokens: list[str], f: SearchFilters, page: int = 37) -> list[Cursor]:
    """Every candidate, page by page with the keyset cursor."""
    out: list[Cursor] = []
    after: Cursor | None = None
    while True:
        got = b.candidates(tokens, f, page, after)
        assert len(got) <= page
        out.extend(got)
        if len(got) < page:
            return out
        after = got[-1]


def ids(pairs: list[Cursor]) -> set[str]:
    return {i for _, i in pairs}


# -- the key property -------------------------------------------------------------------------------


def queries_for(c: Corpus, rng: random.Random, n: int) -> list[str]:
    texts = [t for _, t in c.values()]
    qs = [
        "支付宝",
        "的",
        "宝转",
        "VX",
        "vx",
        "ＶＸ",
        "12315",
        "发票",
        "發票",
        "。",
        "9折",
        "iphone",
        "不存在的词",
    ]
    while len(qs) < n:
        t = rng.choice(texts)
        start = rng.randrange(len(t))
        q = t[start : start + rng.randint(1, 8)]
        if q.strip():
            qs.append(q)
    return qs


def test_candidates_cover_exact_matches_and_exact_check_makes_them_equal(backend: SearchBackend) -> None:
    c = corpus(400, seed=11)
    load(backend, c)
    assert backend.count() == 400
    rng = random.Random(3)
    for q in queries_for(c, rng, 250):
        page = rng.choice([1, 5, 50, 1000])
        got = everything(backend, BLIND.query_tokens(q), SearchFilters(), page=page)
        assert len(got) == len(set(got)), f"duplicate candidates for {q!r}"
        assert got == ordered(got), "not ordered by time then id, descending"
        brute = {i for i, (_, t) in c.items() if BLIND.matches(q, t)}
        cands = ids(got)
        assert brute <= cands, q
        assert {i for i in cands if BLIND.matches(q, c[i][1])} == brute, q
        if len(BLIND.query_tokens(q)) == 1 and len(q.strip()) <= 2:
            assert cands == brute, q  # one unigram or one bigram: candidates are exactly the matches


def test_all_tokens_are_required(backend: SearchBackend) -> None:
    rng = random.Random(1)
    a, b, c = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"
    docs = [
        make_doc(0, "", rng, tokens=(a,)),
        make_doc(1, "", rng, tokens=(a, b)),
        make_doc(2, "", rng, tokens=(a, b, c)),
        make_doc(3, "", rng, tokens=(b, c)),
        make_doc(4, "", rng, tokens=()),
    ]
    backend.index(docs)
    backend.refresh()
    by_tokens = {
        (a,): {0, 1, 2},
        (a, b): {1, 2},
        (b, a): {1, 2},
        (a, b, c): {2},
        (a, c): {2},
        (c, c): {2, 3},
        ("dddddddddddddddd",): set(),
        (a, "dddddddddddddddd"): set(),
    }
    for tokens, want in by_tokens.items():
        got = everything(backend, list(tokens), SearchFilters(), page=2)
        assert ids(got) == {docs[i].id for i in want}, tokens
    assert ids(everything(backend, [], SearchFilters())) == {d.id for d in docs}


def test_one_character_queries(backend: SearchBackend) -> None:
    c = corpus(200, seed=2)
    load(backend, c)
    for ch in ["的", "了", "吗", "宝", "v", "V", "Ｖ", "5", "。", "发", "發"]:
        got = everything(backend, BLIND.query_tokens(ch), SearchFilters())
        assert ids(got) == {i for i, (_, t) in c.items() if BLIND.matches(ch, t)}, ch


# -- filters ----------------------------------------------------------------------------------------

T10, T30 = T0 + 10_000, T0 + 30_000
FILTERS: list[tuple[str, SearchFilters, Callable[[SearchDoc], bool]]] = [
    ("none", SearchFilters(), lambda d: True),
    ("since", SearchFilters(since_ms=T30), lambda d: d.msgtime_ms >= T30),
    ("until", SearchFilters(until_ms=T30), lambda d: d.msgtime_ms < T30),
    ("window", SearchFilters(since_ms=T10, until_ms=T30), lambda d: T10 <= d.msgtime_ms < T30),
    ("empty-window", SearchFilters(since_ms=T30, until_ms=T30), lambda d: False),
    ("rooms", SearchFilters(room_ids=(1, 2)), lambda d: d.room_id in (1, 2)),
    ("senders", SearchFilters(senders=("lina",)), lambda d: d.sender == "lina"),
    ("employees", SearchFilters(employee_ids=(1, 3)), lambda d: d.employee_id in (1, 3)),
    ("customers", SearchFilters(customer_ids=(10,)), lambda d: d.customer_id == 10),
    ("departments", SearchFilters(department_ids=(200, 300)), lambda d: d.department_id in (200, 300)),
    ("no-departments", SearchFilters(department_ids=()), lambda d: False),
    ("msgtypes", SearchFilters(msgtypes=("file", "mixed")), lambda d: d.msgtype in ("file", "mixed")),
    (
        "risk-any-of",
        SearchFilters(risk_labels=("complaint", "pii")),
        lambda d: bool({"complaint", "pii"} & set(d.risk_labels)),
    ),
    ("risk-none-such", SearchFilters(risk_labels=("nothing",)), lambda d: False),
    ("no-risk", SearchFilters(risk_labels=()), lambda d: False),
    (
        "scope-and-more",
        SearchFilters(department_ids=(100,), employee_ids=(1, 2), msgtypes=("text",), since_ms=T10),
        lambda d: (
            d.department_id == 100 and d.employee_id in (1, 2) and d.msgtype == "text" and d.msgtime_ms >= T10
        ),
    ),
]


@pytest.mark.parametrize(("name", "filters", "pred"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(
    backend: SearchBackend, name: str, filters: SearchFilters, pred: Callable[[SearchDoc], bool]
) -> None:
    c = corpus(150, seed=3)
    load(backend, c)
    want = ordered({(d.msgtime_ms, d.id) for d, _ in c.values() if pred(d)})
    assert everything(backend, [], filters) == want, name
    q = "的"  # the same filters together with tokens
    with_q = ordered({(d.msgtime_ms, d.id) for d, t in c.values() if pred(d) and BLIND.matches(q, t)})
    assert everything(backend, BLIND.query_tokens(q), filters, page=4) == with_q, name


# -- ordering and keyset pagination -----------------------------------------------------------------


def test_keyset_pagination_over_many_pages(backend: SearchBackend) -> None:
    rng = random.Random(7)
    # 600 documents over 40 distinct milliseconds: long runs of equal times, ordered by id within them.
    docs = [make_doc(i, "支付宝转账", rng, msgtime_ms=T0 + rng.randint(0, 39)) for i in range(600)]
    backend.index(docs)
    backend.refresh()
    want = ordered([(d.msgtime_ms, d.id) for d in docs])
    tokens = BLIND.query_tokens("付宝")
    for page in (1, 7, 64, 599, 600, 601):
        if page == 1:  # 600 round trips: only over a prefix
            got = []
            after: Cursor | None = None
            for _ in range(80):
                got.extend(backend.candidates(tokens, SearchFilters(), 1, after))
                after = got[-1]
            assert got == want[:80]
            continue
        assert everything(backend, tokens, SearchFilters(), page=page) == want, page
        assert everything(backend, [], SearchFilters(), page=page) == want, page
    # A cursor that is not a document: strictly after it in (msgtime, id) order.
    mid = want[300]
    for cursor in [(mid[0], mid[1] + "~"), (mid[0], mid[1][:-1]), (mid[0], ""), (T0 + 1000, "x"), (0, "")]:
        got = backend.candidates(tokens, SearchFilters(), 1000, cursor)
        assert got == [p for p in want if p < cursor], cursor
    assert backend.candidates(tokens, SearchFilters(), 0) == []


# -- writes -----------------------------------------------------------------------------------------


def test_reindex_is_idempotent_and_replaces(backend: SearchBackend) -> None:
    c = corpus(60, seed=4)
    items = docs_of(c)
    backend.index(items)
    backend.index(items[:25])
    backend.index(items)
    backend.refresh()
    assert backend.count() == 60
    assert ids(everything(backend, [], SearchFilters())) == set(c)

    doc = items[0]
    moved = replace(
        doc,
        msgtime_ms=T0 + 999_000,
        tokens=tuple(BLIND.doc_tokens("完全不同的内容")),
        risk_labels=("complaint",),
        department_id=999,
        recalled=not doc.recalled,
    )
    # Within one batch the last version of an id wins.
    backend.index([replace(doc, department_id=998), moved])
    backend.refresh()
    assert backend.count() == 60
    assert everything(backend, BLIND.query_tokens("不同"), SearchFilters()) == [(moved.msgtime_ms, doc.id)]
    old_text = c[doc.id][1]
    old_hits = ids(everything(backend, BLIND.query_tokens(old_text), SearchFilters()))
    assert doc.id not in old_hits or BLIND.matches(old_text, "完全不同的内容")
    assert everything(backend, [], SearchFilters(department_ids=(999,))) == [(moved.msgtime_ms, doc.id)]
    assert everything(backend, [], SearchFilters(department_ids=(998,))) == []
    assert everything(backend, [], SearchFilters())[0] == (moved.msgtime_ms, doc.id)  # now the newest
    backend.index([])


def test_delete_count_and_clear(backend: SearchBackend) -> None:
    c = corpus(80, seed=6)
    items = docs_of(c)
    load(backend, c)
    assert backend.count() == 80
    gone = [d.id for d in items[:30]]
    backend.delete([*gone, "no-such-document"])
    backend.delete([])
    backend.refresh()
    assert backend.count() == 50
    left = everything(backend, [], SearchFilters())
    assert ids(left) == set(c) - set(gone)
    assert not set(gone) & ids(everything(backend, BLIND.query_tokens("的"), SearchFilters()))
    backend.delete(gone)  # again: nothing to do
    backend.index(items[:5])  # deleted documents can come back
    backend.refresh()
    assert backend.count() == 55

    backend.clear()
    backend.refresh()
    assert backend.count() == 0
    assert backend.candidates([], SearchFilters(), 10) == []
    backend.ensure_ready()
    load(backend, c)
    assert backend.count() == 80
    assert backend.ping()


# -- OpenSearch: what the index holds ---------------------------------------------------------------


def test_opensearch_index_holds_no_plaintext(opensearch_url: str, os_index: str) -> None:
    """Dump everything OpenSearch keeps for the index — every hit with _source and all stored fields,
    the mapping and settings — and look for the corpus' text in it."""
    b = OpenSearchBackend(opensearch_url, os_index)
    b.ensure_ready()
    try:
        c = corpus(300, seed=21)
        load(b, c)
        assert b.count() == 300
        hits = b.client.search(
            index=os_index,
            body={"query": {"match_all": {}}, "size": 1000, "_source": True, "stored_fields": ["*"]},
        )["hits"]["hits"]
        assert len(hits) == 300
        assert all("tokens" not in h["_source"] for h in hits)  # searchable, not retrievable
        dump = json.dumps(
            [hits, b.client.indices.get_mapping(index=os_index), b.client.indices.get(index=os_index)],
            ensure_ascii=False,
        )
        # The corpus is mostly Chinese, the metadata ASCII: not one character of the text may be there.
        assert dump.isascii(), "a non-ASCII character is in the index"
        # ASCII fragments of two or three letters occur in any JSON ("on", "id"); longer ones must not,
        # nor any whole message.
        checked = 0
        for _, raw in c.values():
            for t in {raw, normalize(raw)}:
                # (a whole message of two or three ASCII letters, such as "vx", is one of those fragments:
                # it once matched the index's random uuid in the settings)
                assert (len(t) < 4 and t.isascii()) or t not in dump
                for word in re.findall(r"[0-9A-Za-z]{4,}", t):
                    for i in range(len(word) - 3):
                        for j in range(i + 4, len(word) + 1):
                            if not re.fullmatch(r"[0-9a-f]+", word[i:j]):  # blind tokens are hex
                                checked += 1
                                assert word[i:j] not in dump, word[i:j]
        assert checked > 100
        # Stronger: what OpenSearch returns for a document does not depend on its text at all. The same
        # documents without tokens give the very same hits.
        blank = OpenSearchBackend(opensearch_url, os_index + "-blank")
        try:
            load(blank, {i: (replace(d, tokens=()), "") for i, (d, _) in c.items()})
            blank_hits = blank.client.search(
                index=blank.index_name,
                body={"query": {"match_all": {}}, "size": 1000, "_source": True, "stored_fields": ["*"]},
            )["hits"]["hits"]
        finally:
            blank.clear()

        def comparable(hs: list[dict[str, object]]) -> list[dict[str, object]]:
            return sorted(
                ({k: v for k, v in h.items() if k != "_index"} for h in hs), key=lambda h: str(h["_id"])
            )

        assert comparable(hits) == comparable(blank_hits)
        # The blind tokens are there, and they work.
        assert ids(everything(b, BLIND.query_tokens("支付宝"), SearchFilters())) == {
            i for i, (_, t) in c.items() if BLIND.matches("支付宝", t)
        }
    finally:
        b.clear()


# -- outages and configuration ----------------------------------------------------------------------


def test_dead_opensearch_is_unavailable_not_a_crash() -> None:
    dead = OpenSearchBackend("http://127.0.0.1:1", "cvt-nowhere", timeout=2)
    assert dead.ping() is False
    doc = docs_of(corpus(2))
    for call in (
        dead.ensure_ready,
        lambda: dead.index(doc),
        lambda: dead.delete([doc[0].id]),
        lambda: dead.candidates(["aaaaaaaaaaaaaaaa"], SearchFilters(), 10),
        dead.count,
        dead.refresh,
        dead.clear,
    ):
        with pytest.raises(SearchUnavailable):
            call()


def test_dead_database_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    for url in (
        "postgresql+psycopg://nobody:nothing@127.0.0.1:1/none?connect_timeout=2",
        f"sqlite:///{tmp_path / 'missing-dir' / 'search.db'}",
    ):
        dead = SqlBackend(make_engine(url))
        assert dead.ping() is False
        with pytest.raises(SearchUnavailable):
            dead.candidates(["aaaaaaaaaaaaaaaa"], SearchFilters(), 10)
        with pytest.raises(SearchUnavailable):
            dead.index(docs_of(corpus(2)))
        dead.engine.dispose()


def test_make_backend_follows_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    assert isinstance(make_backend(Settings(search_backend="sql"), engine), SqlBackend)
    os_backend = make_backend(
        Settings(search_backend="opensearch", opensearch_url="http://127.0.0.1:1", opensearch_index="cv-x"),
        engine,
    )
    assert isinstance(os_backend, OpenSearchBackend) and os_backend.index_name == "cv-x"
    with pytest.raises(ConfigurationError):
        make_backend(Settings.model_construct(search_backend="elastic"), engine)  # type: ignore[arg-type]
    engine.dispose()


@pytest.mark.parametrize("backend", ["sql-postgres", "opensearch"], indirect=True)  # SQLite stores anything
def test_rejected_document_is_reported_without_its_values(backend: SearchBackend) -> None:
    doc = docs_of(corpus(1, seed=8))[0]
    bad = replace(doc, room_id="not-a-number")  # type: ignore[arg-type]
    with pytest.raises(SearchRejected) as err:
        backend.index([bad])
    message = str(err.value)
    assert not any(t in message for t in doc.tokens) and "not-a-number" not in message
    if isinstance(backend, OpenSearchBackend):  # the filtered _bulk answer still names status and error type
        assert message.startswith("1 of 1 bulk items failed: ") and "exception" in message
    backend.refresh()
    assert backend.count() == 0


# -- sql on SQLite: the time-ordered FTS5 rowid ----------------------------------------------------------


def test_sqlite_docno_slot_collisions_keep_every_document(tmp_path: Path) -> None:
    """Two documents of the same millisecond whose ids hash to the same slot both get a docno."""
    seen: dict[int, str] = {}
    pair: tuple[str, str] | None = None
    for n in range(1_000_000):
        doc_id = f"{n:032x}"
        slot = zlib.crc32(doc_id.encode()) & SLOT_MASK
        if slot in seen:
            pair = (seen[slot], doc_id)
            break
        seen[slot] = doc_id
    assert pair is not None
    rng = random.Random(0)
    docs = [make_doc(0, "同一毫秒", rng, id=i, msgtime_ms=T0) for i in pair]
    docs.append(make_doc(1, "同一毫秒", rng, id="f" * 32, msgtime_ms=T0))
    b = SqlBackend(make_engine(f"sqlite:///{tmp_path / 's.db'}"))
    b.index(docs[:1])
    b.index(docs[1:])
    b.index(docs[:1])  # re-indexed: its slot is taken again
    want = ordered([(T0, d.id) for d in docs])
    assert everything(b, BLIND.query_tokens("毫秒"), SearchFilters(), page=1) == want
    assert b.count() == 3
    b.engine.dispose()


def test_sqlite_fts_table_is_rebuilt_when_missing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    c = corpus(50, seed=9)
    load(SqlBackend(engine), c)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE search_index_fts")
    b = SqlBackend(engine)
    b.ensure_ready()
    got = ids(everything(b, BLIND.query_tokens("的"), SearchFilters()))
    assert got == {i for i, (_, t) in c.items() if BLIND.matches("的", t)}
    engine.dispose()


def test_sqlite_fts_batch_is_written_as_one_segment(tmp_path: Path) -> None:
    """A batch whose ids and times disagree in order (ids ascending, times descending) is still handed to
    FTS5 in rowid order: FTS5 starts a new segment at every lower rowid, and an import's batches used to
    leave hundreds of one-document segments to merge."""
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    b = SqlBackend(engine)
    rng = random.Random(3)
    n = 300
    docs = [make_doc(i, f"第{i}条 支付宝转账", rng, msgtime_ms=T0 + (n - i) * 1000) for i in range(n)]
    b.index(docs)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("SELECT count(*) FROM search_index_fts_data").scalar_one()
        conn.exec_driver_sql("INSERT INTO search_index_fts(search_index_fts) VALUES ('integrity-check')")
    assert pages < 16, pages  # one segment: 10 pages here; unordered, FTS5 wrote 25
    got = ids(everything(b, BLIND.query_tokens("转账"), SearchFilters()))
    assert got == {d.id for d in docs}
    engine.dispose()


def test_sqlite_fts_merges_at_the_configured_level_and_stays_whole(tmp_path: Path) -> None:
    """New and existing FTS5 tables get FTS_AUTOMERGE; many small batches (many segments, merged at that
    level) still pass FTS5's integrity check and find every document."""
    from archive.search.sql_backend import FTS_AUTOMERGE

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")

    def automerge() -> int:
        with engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT v FROM search_index_fts_config WHERE k = 'automerge'").first()
        return int(row[0]) if row else 4  # FTS5's default when never set

    b = SqlBackend(engine)
    b.ensure_ready()
    assert automerge() == FTS_AUTOMERGE != 4
    with engine.begin() as conn:  # an index made before the setting existed
        conn.exec_driver_sql("INSERT INTO search_index_fts(search_index_fts, rank) VALUES ('automerge', 4)")
    SqlBackend(engine).ensure_ready()
    assert automerge() == FTS_AUTOMERGE
    rng = random.Random(5)
    docs = [make_doc(i, f"第{i}条 加我微信 {i % 7}", rng, msgtime_ms=T0 + i * 1000) for i in range(400)]
    for i in range(0, len(docs), 10):  # 40 commits: 40 level-0 segments to merge
        b.index(docs[i : i + 10])
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO search_index_fts(search_index_fts) VALUES ('integrity-check')")
    assert ids(everything(b, BLIND.query_tokens("微信"), SearchFilters())) == {d.id for d in docs}
    engine.dispose()


def test_opensearch_index_gets_the_configured_refresh_interval(opensearch_url: str, os_index: str) -> None:
    """Created with it, and an existing index is brought to it (a changed setting applies)."""
    b = OpenSearchBackend(opensearch_url, os_index, refresh_interval="7s")
    try:
        b.ensure_ready()
        assert b._refresh_setting() == "7s"
        again = OpenSearchBackend(opensearch_url, os_index, refresh_interval="2s")
        again.ensure_ready()
        assert b._refresh_setting() == "2s"
    finally:
        b.clear()


def test_sqlite_index_in_fresh_commits_and_rolls_back_with_the_batch(tmp_path: Path) -> None:
    """The importer's path: new ids written in its transaction without the replace step. A rolled-back
    batch leaves neither rows nor FTS terms; a committed one is searchable and FTS5 stays consistent."""
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    b = SqlBackend(engine)
    rng = random.Random(5)
    docs = [make_doc(i, f"第{i}条 退款到支付宝", rng) for i in range(40)]
    with engine.connect() as conn:
        b.index_in(conn, docs[:20], fresh=True)
        conn.rollback()
    assert ids(everything(b, BLIND.query_tokens("退款"), SearchFilters())) == set()
    with engine.begin() as conn:
        b.index_in(conn, docs, fresh=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO search_index_fts(search_index_fts) VALUES ('integrity-check')")
    assert ids(everything(b, BLIND.query_tokens("退款"), SearchFilters())) == {d.id for d in docs}
    engine.dispose()
