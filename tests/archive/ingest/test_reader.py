"""archive/ingest/reader.py: streaming lines in bounded memory, every bad-line reason, resume offsets."""

from __future__ import annotations

import io
import itertools
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ingest.reader import (
    TRUNCATION_MARKER,
    LineRange,
    RawLine,
    classify,
    decode_line,
    depth_exceeds,
    iter_lines,
    line_ranges,
    read_range,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "wecom" / "archive_sample.jsonl"
MB = 1024 * 1024


def read(data: bytes, *, max_line_bytes: int = MB, max_depth: int = 32, **kw: Any) -> list[RawLine]:
    return list(iter_lines(io.BytesIO(data), max_line_bytes=max_line_bytes, max_depth=max_depth, **kw))


def test_sample_reads_whole_without_errors() -> None:
    data = SAMPLE.read_bytes()
    lines = read(data)
    assert len(lines) == 161
    assert [line.error for line in lines] == [None] * 161
    assert [line.line_no for line in lines] == list(range(1, 162))
    assert lines[-1].offset_end == len(data)
    for line, expected in zip(lines, data.splitlines(), strict=True):
        assert line.raw == expected
        assert line.obj == json.loads(expected)


def test_offsets_point_just_after_each_line() -> None:
    data = b'{"a":1}\n{"b":2}\r\n{"c":3}'
    lines = read(data)
    assert [line.offset_end for line in lines] == [8, 17, 24]
    assert [line.obj for line in lines] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_final_line_without_newline_crlf_and_bom() -> None:
    data = b'\xef\xbb\xbf{"a":1}\r\n{"b":"x\\r"}\r\n{"c":3}'
    lines = read(data)
    assert [line.obj for line in lines] == [{"a": 1}, {"b": "x\r"}, {"c": 3}]
    assert [line.raw for line in lines] == [b'{"a":1}', b'{"b":"x\\r"}', b'{"c":3}']
    assert all(line.error is None for line in lines)


def test_bom_is_only_stripped_at_the_start_of_the_file() -> None:
    data = b'{"a":1}\n\xef\xbb\xbf{"b":2}\n'
    lines = read(data)
    assert lines[0].obj == {"a": 1}
    assert (lines[1].obj, lines[1].error) == (None, "invalid_json")


def test_blank_lines_are_skipped_but_counted() -> None:
    data = b'\n{"a":1}\n   \n\t\r\n\r\n{"b":2}\n\n'
    lines = read(data)
    assert [(line.line_no, line.obj) for line in lines] == [(2, {"a": 1}), (6, {"b": 2})]


def test_filler_lines_are_reported_empty() -> None:
    data = b"\x00\x00\x00\n" + "\u3000\u00a0".encode() + b"\n" + b'{"a":1}\n'
    lines = read(data)
    assert [(line.line_no, line.error) for line in lines] == [(1, "empty"), (2, "empty"), (3, None)]


def test_truncated_json_is_invalid_json() -> None:
    data = b'{"msgid": "x1", "action": "send", "from": "a", "msgtime": 17\n{"ok":true}\n'
    lines = read(data)
    assert [(line.line_no, line.error) for line in lines] == [(1, "invalid_json"), (2, None)]
    assert lines[0].raw == data.split(b"\n")[0]


def test_invalid_utf8_keeps_raw_bytes() -> None:
    bad = b'{"text": "\xff\xfe not utf8"}'
    lines = read(bad + b"\n")
    assert lines[0].error == "invalid_utf8" and lines[0].obj is None and lines[0].raw == bad


def test_lone_surrogate_escape_is_invalid_json() -> None:
    assert read(b'{"a": "\\ud800"}\n')[0].error == "invalid_json"


@pytest.mark.parametrize("line", [b"[1, 2, 3]", b'"just a string"', b"42", b"null", b"true"])
def test_non_objects_are_not_object(line: bytes) -> None:
    assert read(line + b"\n")[0].error == "not_object"


def test_ten_megabyte_line_under_one_megabyte_cap(tmp_path: Path) -> None:
    """The oversized line is cut at the cap, the rest is discarded as it streams past, and the reader
    never holds more than about the cap plus a chunk, whatever the line's length."""
    path = tmp_path / "big.jsonl"
    big_len = 10 * MB
    with path.open("wb") as fp:
        fp.write(b'{"before":1}\n')
        fp.write(b'{"text":"' + b"x" * (big_len - 11) + b'"}\n')
        fp.write(b'{"after":2}\n')
    tracemalloc.start()
    try:
        with path.open("rb") as fp:
            lines = [
                RawLine(line.line_no, line.offset_end, line.raw[:64] + line.raw[-64:], line.obj, line.error)
                for line in iter_lines(fp, max_line_bytes=MB, max_depth=32)
            ]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB
    assert [(line.line_no, line.error) for line in lines] == [(1, None), (2, "too_large"), (3, None)]
    assert lines[2].obj == {"after": 2}
    assert lines[1].raw.endswith(TRUNCATION_MARKER % big_len)
    assert lines[1].offset_end == 13 + big_len + 1


def test_too_large_raw_is_cap_plus_marker() -> None:
    line = b'{"t":"' + b"y" * 200 + b'"}'
    out = read(line + b"\n", max_line_bytes=100)[0]
    assert out.error == "too_large" and out.obj is None
    assert out.raw == line[:100] + TRUNCATION_MARKER % len(line)


def test_cap_is_on_the_line_without_its_terminator() -> None:
    line = b'{"t":"' + b"y" * 92 + b'"}'
    assert len(line) == 100
    assert read(line + b"\r\n", max_line_bytes=100)[0].error is None
    assert read(line, max_line_bytes=100)[0].error is None
    assert read(line + b"\n", max_line_bytes=99)[0].error == "too_large"


def test_ten_thousand_deep_nesting_is_too_deep_without_recursion() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    deep_obj = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    lines = read(deep + b"\n" + deep_obj + b"\n" + b'{"ok":1}\n', max_depth=32)
    assert [line.error for line in lines] == ["too_deep", "too_deep", None]


def test_depth_at_the_cap_is_accepted() -> None:
    at_cap = b'{"a":' + b"[" * 31 + b"]" * 31 + b"}"
    over = b'{"a":' + b"[" * 32 + b"]" * 32 + b"}"
    assert [line.error for line in read(at_cap + b"\n" + over + b"\n", max_depth=32)] == [None, "too_deep"]


def test_brackets_inside_strings_do_not_count() -> None:
    line = orjson.dumps({"text": "[[[[{{{{" * 100 + '\\"[[[', "k": ['"]]]\\']})
    out = read(line + b"\n", max_depth=4)[0]
    assert out.error is None and out.obj is not None and out.obj["k"] == ['"]]]\\']


def test_resume_from_an_offset_yields_exactly_the_remaining_lines() -> None:
    data = SAMPLE.read_bytes()
    full = read(data)
    for k in (0, 1, 57, 160):
        resumed = read(data, start_offset=full[k].offset_end, start_line=full[k].line_no)
        assert resumed == full[k + 1 :]


def test_resume_after_a_bad_line_and_past_blank_lines() -> None:
    data = b'{"a":1}\n\nnot json\n\n\n{"b":2}\n'
    full = read(data)
    assert [(line.line_no, line.error) for line in full] == [(1, None), (3, "invalid_json"), (6, None)]
    assert read(data, start_offset=full[1].offset_end, start_line=full[1].line_no) == full[2:]


def test_reads_from_the_offset_whatever_the_file_position() -> None:
    fp = io.BytesIO(b'{"a":1}\n{"b":2}\n')
    fp.seek(5)
    assert [line.obj for line in iter_lines(fp, max_line_bytes=100, max_depth=4)] == [{"a": 1}, {"b": 2}]


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        read(b"{}\n", max_line_bytes=0)


# ---------------------------------------------------------------------------------------------------
# Properties: the streaming reader agrees with a plain in-memory model for any content and chunking.

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)
line_bodies = st.one_of(
    st.dictionaries(st.text(max_size=5), json_values, max_size=4).map(lambda d: orjson.dumps(d)),
    st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    st.sampled_from([b"", b"  ", b"[1]", b"{", b"\xff", b"\x00", b"\xef\xbb\xbf{}"]),
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    """A JSON-lines file of up to 12 generated lines: LF or CRLF each, with or without a final newline
    and a BOM."""
    bodies = draw(st.lists(line_bodies, max_size=12))
    crlf = draw(st.lists(st.booleans(), min_size=12, max_size=12))
    final_newline, bom = draw(st.booleans()), draw(st.booleans())
    data = b"".join(body + (b"\r\n" if crlf[i] else b"\n") for i, body in enumerate(bodies))
    if bodies and not final_newline:
        data = data[: -2 if crlf[len(bodies) - 1] else -1]
    return b"\xef\xbb\xbf" + data if bom else data


def _model(data: bytes, max_line_bytes: int) -> list[tuple[int, int, bytes | None, str | None]]:
    """What iter_lines must produce, computed the simple way (whole file in memory)."""
    out: list[tuple[int, int, bytes | None, str | None]] = []
    pos = 0
    no = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line = data[pos : nl if nl >= 0 else len(data)]
        no += 1
        content = line[:-1] if line.endswith(b"\r") else line
        if len(content) > max_line_bytes:
            out.append((no, end, None, "too_large"))
        else:
            if pos == 0 and content.startswith(b"\xef\xbb\xbf"):
                content = content[3:]
            if content.strip(b" \t\r\n\f\v"):
                out.append((no, end, content, None))
        pos = end
    return out


@settings(max_examples=200, deadline=None)
@given(
    data=jsonl_files(),
    chunk=st.integers(1, 40),
    cap=st.integers(1, 60),
)
def test_streaming_matches_the_in_memory_model(data: bytes, chunk: int, cap: int) -> None:
    got = read(data, max_line_bytes=cap, max_depth=8, chunk_size=chunk)
    expected = _model(data, cap)
    assert [(g.line_no, g.offset_end) for g in got] == [(e[0], e[1]) for e in expected]
    for g, (_, _, content, error) in zip(got, expected, strict=True):
        if error == "too_large":
            assert g.error == "too_large" and g.obj is None
        else:
            assert g.raw == content
            assert (g.obj is None) == (g.error is not None)
            assert g.error in (None, "invalid_utf8", "invalid_json", "too_deep", "not_object", "empty")
            if g.error is None:
                assert g.obj == orjson.loads(content)
    # resuming at any yielded offset gives exactly the rest
    for i, line in enumerate(got):
        rest = read(
            data,
            max_line_bytes=cap,
            max_depth=8,
            chunk_size=chunk,
            start_offset=line.offset_end,
            start_line=line.line_no,
        )
        assert rest == got[i + 1 :]


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ax\n', max_size=10)
nested = st.recursive(
    st.none() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=nested, cap=st.integers(1, 6))
def test_depth_scan_equals_true_depth(value: object, cap: int) -> None:
    assert depth_exceeds(orjson.dumps(value), cap) == (_depth(value) > cap)


@settings(max_examples=200, deadline=None)
@given(bodies=st.lists(line_bodies, max_size=12), chunk=st.integers(1, 40), cap=st.integers(1, 60))
def test_deferred_decoding_gives_the_same_lines(bodies: list[bytes], chunk: int, cap: int) -> None:
    """`decode=False` (the importer's worker processes decode) then `classify` is `decode=True`."""
    data = b"".join(body + b"\n" for body in bodies)
    eager = read(data, max_line_bytes=cap, max_depth=8, chunk_size=chunk)
    lazy = read(data, max_line_bytes=cap, max_depth=8, chunk_size=chunk, decode=False)
    assert all(line.obj is None for line in lazy)
    assert [classify(line, 8) if line.error is None else line for line in lazy] == eager


@settings(max_examples=200, deadline=None)
@given(
    data=jsonl_files(),
    chunk=st.integers(1, 40),
    per_range=st.integers(1, 5),
    start_at=st.integers(0, 12),
    cap=st.integers(1, 60),
)
def test_ranges_read_separately_give_the_whole_files_lines(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    chunk: int,
    per_range: int,
    start_at: int,
    cap: int,
) -> None:
    """The importer cuts the file into ranges of whole lines (counting newlines only) and each worker reads
    its range: together they give exactly the lines iter_lines gives, also when resuming mid-file."""
    path = tmp_path_factory.mktemp("ranges") / "f.jsonl"
    path.write_bytes(data)
    whole = read(data, max_line_bytes=cap, max_depth=8, decode=False)
    # resume after the start_at-th line, as from a checkpoint
    skip = [line for line in whole if line.line_no <= start_at]
    offset, line_no = (skip[-1].offset_end, skip[-1].line_no) if skip else (0, 0)
    with path.open("rb") as fp:
        ranges = list(
            line_ranges(fp, start_offset=offset, start_line=line_no, lines=per_range, chunk_size=chunk)
        )
        assert os.lseek(fp.fileno(), 0, os.SEEK_CUR) == len(data)  # watchers see how far it read
        got = [ln for r in ranges for ln in read_range(r, max_line_bytes=cap, max_depth=8)]
    assert got == [line for line in whole if line.line_no > line_no]
    assert all(r.end - r.start > 0 for r in ranges)
    assert all(data[r.start : r.end].count(b"\n") == per_range for r in ranges[:-1])
    # ramped and tapered: the same lines, numbered the same, in ranges that grow from `first` up to
    # `per_range` and end with at most `first` lines
    first = max(1, per_range // 3)
    with path.open("rb") as fp:
        ramped = list(
            line_ranges(
                fp, start_offset=offset, start_line=line_no, lines=per_range, first=first, chunk_size=chunk
            )
        )
        assert os.lseek(fp.fileno(), 0, os.SEEK_CUR) == len(data)
        assert [ln for r in ramped for ln in read_range(r, max_line_bytes=cap, max_depth=8)] == got
    assert all(a.end == b.start for a, b in itertools.pairwise(ramped))
    counts = [data[r.start : r.end].count(b"\n") for r in ramped]
    assert all(r.end - r.start > 0 for r in ramped) and all(c <= per_range for c in counts)
    if len(ramped) > 1:
        assert counts[0] == first
        assert counts[-1] <= first
        assert [r.first_line for r in ramped] == [line_no + sum(counts[:k]) for k in range(len(ramped))]


def test_ranges_ramp_up_and_taper_off(tmp_path: Path) -> None:
    """With `first`, batch sizes double from `first` up to `lines` and the last stretch is halved down to
    `first`, so the worker processes and the importer each wait only for a small batch at both ends."""
    path = tmp_path / "f.jsonl"
    for lines, ramped, plain in [
        (40, [2, 4, 8, 8, 8, 8, 2], [8] * 5),  # the last stretch is 2 lines already
        (38, [2, 4, 8, 8, 8, 4, 2, 2], [8, 8, 8, 8, 6]),  # the last 8 are halved down to 2
    ]:
        path.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(lines)))
        data = path.read_bytes()
        with path.open("rb") as fp:
            got = list(line_ranges(fp, start_offset=0, start_line=0, lines=8, first=2))
            assert [data[r.start : r.end].count(b"\n") for r in got] == ramped
            got = list(line_ranges(fp, start_offset=0, start_line=0, lines=8))
            assert [data[r.start : r.end].count(b"\n") for r in got] == plain
    with pytest.raises(ValueError, match="first"):
        next(line_ranges(io.BytesIO(b""), start_offset=0, start_line=0, lines=8, first=9))


@settings(max_examples=300, deadline=None)
@given(
    data=jsonl_files(),
    per_range=st.integers(1, 5),
    cap=st.integers(1, 60),
)
def test_a_small_range_read_at_once_gives_the_streamed_lines(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    per_range: int,
    cap: int,
) -> None:
    """A worker reads a small range with one read and one split: exactly the lines the streaming reader
    gives, whenever every line is within the cap (a longer one is left to the streaming reader's cut)."""
    from archive.ingest.reader import _RangeReader, _split_range

    path = tmp_path_factory.mktemp("whole") / "f.jsonl"
    path.write_bytes(data)
    with path.open("rb") as fp:
        for r in line_ranges(fp, start_offset=0, start_line=0, lines=per_range):
            streamed = list(
                iter_lines(
                    _RangeReader(r),
                    start_offset=r.start,
                    start_line=r.first_line,
                    max_line_bytes=cap,
                    max_depth=8,
                    decode=False,
                )
            )
            fits = all(len(line) <= cap for line in data[r.start : r.end].split(b"\n"))
            assert _split_range(r, cap) == (streamed if fits else None)


def test_a_range_is_not_read_from_another_file(tmp_path: Path) -> None:
    """A worker forked before the importer opened its file would hold another descriptor by that number:
    reading must fail rather than return another file's lines."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b'{"a": 1}\n')
    b.write_bytes(b'{"b": 2}\n')
    with a.open("rb") as fp:
        (r,) = line_ranges(fp, start_offset=0, start_line=0, lines=10)
    with b.open("rb") as other:
        forged = LineRange(other.fileno(), r.start, r.end, r.first_line, r.file_id)
        with pytest.raises(RuntimeError, match="not the file"):
            read_range(forged, max_line_bytes=100, max_depth=4)


def _decode_reference(content: bytes, max_depth: int) -> tuple[object, str | None] | None:
    """decode_line as it was before its one-call path for the usual line: each check in turn."""
    if not content.strip(b" \t\r\n\f\v"):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    if not text.strip("".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\x00\ufeff"):
        return None, "empty"
    if depth_exceeds(content, max_depth):
        return None, "too_deep"
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, "invalid_json"
    return (None, "not_object") if not isinstance(obj, dict) else (obj, None)


_PIECES = [b'{"a":', b'"', b"\\", b"[", b"]", b"{", b"}", b"1", b"\xe4\xbd\xa0", b"\xed\xa0\x80", b"\xff"]
_PIECES += [
    b"\xc0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe4\xbd",
    b" ",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xe3\x80\x80",
    b"null",
]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(_PIECES) | st.binary(max_size=3), max_size=12), st.integers(1, 4))
def test_decode_line_gives_the_reference_answer(pieces: list[bytes], cap: int) -> None:
    content = b"".join(pieces)
    assert decode_line(content, cap) == _decode_reference(content, cap)


def test_orjson_refuses_every_string_that_is_not_utf8() -> None:
    """What lets decode_line skip bytes.decode for a line orjson reads: every 1- and 2-byte sequence, every
    3-byte one with a 3-byte lead and the 4-byte leads with edge continuations, inside a JSON string."""
    import itertools

    def accepted(body: bytes) -> bool:
        try:
            orjson.loads(b'{"a":"' + body + b'"}')
        except orjson.JSONDecodeError:
            return False
        return True

    def valid(body: bytes) -> bool:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    cont = (0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF)
    bodies = [bytes(t) for n in (1, 2) for t in itertools.product(range(256), repeat=n)]
    bodies += [bytes((a, b, c)) for a in range(0xE0, 0xF0) for b in range(256) for c in cont]
    bodies += [
        bytes((a, b, c, d)) for a in range(0xF0, 0x100) for b in range(256) for c in cont for d in cont
    ]
    bad = [b for b in bodies if b'"' not in b and b"\\" not in b and accepted(b) and not valid(b)]
    assert bad == []
