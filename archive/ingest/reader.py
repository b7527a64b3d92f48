"""Streaming JSON-lines reader in constant memory: one `RawLine` per non-blank line, with the byte
offset just after it (the resume checkpoint) and, for a line that cannot be a record, a reason.

Memory is bounded by `max_line_bytes` plus one read chunk whatever the file holds: the rest of an
oversized line is read and dropped, never kept. (`read_range` reads a range of up to `WHOLE_RANGE_MAX`
bytes whole: at most about twice that, whatever the range holds.) Nesting depth is checked by an
iterative byte scan before the line is parsed, so hostile input can neither recurse nor build a deep
object."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import orjson

# Reasons a line is not a record. Blank lines (ASCII whitespace only) are skipped, not reported.
TOO_LARGE = "too_large"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
TOO_DEEP = "too_deep"
NOT_OBJECT = "not_object"
EMPTY = "empty"  # nothing but filler: NUL bytes, a stray BOM, Unicode spaces (e.g. a crashed writer's tail)

TRUNCATION_MARKER = b"...[truncated; line was %d bytes]"
DEFAULT_CHUNK = 64 * 1024

_BOM = b"\xef\xbb\xbf"
_ASCII_BLANK = b" \t\r\n\f\v"
_FILLER = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\x00\ufeff"
_STRUCTURAL = re.compile(rb'["\[\]{}]')


class Readable(Protocol):
    def seek(self, pos: int, /) -> int: ...
    def read(self, n: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RawLine:
    line_no: int  # 1-based physical line number in the file
    offset_end: int  # byte offset just after this line's terminator (or EOF): where to resume
    raw: bytes  # the line without its terminator; oversized lines are cut and end in the marker
    obj: dict[str, Any] | None
    error: str | None


def depth_exceeds(data: bytes, max_depth: int) -> bool:
    """True when arrays/objects in `data` nest deeper than `max_depth`. Iterative and linear: strings are
    skipped with `find`, so brackets inside them do not count. Malformed input may give any answer; the
    parser rejects it afterwards either way."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    pos = 0
    search = _STRUCTURAL.search
    while (m := search(data, pos)) is not None:
        c = data[m.start()]
        pos = m.end()
        if c == 0x22:  # '"': skip to the closing quote, i.e. one preceded by an even run of backslashes
            while True:
                q = data.find(b'"', pos)
                if q < 0:
                    return False
                k = q - 1
                while k >= pos and data[k] == 0x5C:
                    k -= 1
                pos = q + 1
                if (q - 1 - k) % 2 == 0:
                    break
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def decode_line(content: bytes, max_depth: int) -> tuple[dict[str, Any] | None, str | None] | None:
    """(obj, None) for a record, (None, reason) for a bad line, None for a blank line."""
    if not depth_exceeds(content, max_depth):
        # The usual line in one call. The checks below pass a line that orjson reads as an object: it
        # is not blank or filler (it holds a brace), and orjson refuses every byte sequence that
        # bytes.decode refuses (tests/archive/ingest/test_reader.py), so the reason stays the same.
        try:
            obj = orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(obj, dict):
                return obj, None
    if not content.strip(_ASCII_BLANK):
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None, INVALID_UTF8
    if not text.strip(_FILLER):
        return None, EMPTY
    if depth_exceeds(content, max_depth):
        return None, TOO_DEEP
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, INVALID_JSON
    if not isinstance(obj, dict):
        return None, NOT_OBJECT
    return obj, None


def classify(line: RawLine, max_depth: int) -> RawLine:
    """Decode a line read with `decode=False`: the same object or reason `iter_lines` would have given."""
    result = decode_line(line.raw, max_depth)
    obj, error = result if result is not None else (None, EMPTY)
    return RawLine(line_no=line.line_no, offset_end=line.offset_end, raw=line.raw, obj=obj, error=error)


def iter_lines(
    fp: Readable,
    *,
    start_offset: int = 0,
    start_line: int = 0,
    max_line_bytes: int,
    max_depth: int,
    chunk_size: int = DEFAULT_CHUNK,
    decode: bool = True,
) -> Iterator[RawLine]:
    """Read `fp` from `start_offset` (a previous `offset_end`), numbering lines after `start_line`.
    Lines end at LF; a CR before it is dropped, as is a UTF-8 BOM at the start of the file. The line
    length cap applies to the line without its terminator. `decode=False` leaves a non-blank line's JSON
    undecoded (obj and error None) for `classify` to finish elsewhere (the importer's worker processes)."""
    if max_line_bytes < 1 or max_depth < 1 or chunk_size < 1:
        raise ValueError("max_line_bytes, max_depth and chunk_size must be positive")
    fp.seek(start_offset)
    keep = max_line_bytes + 1  # one more for a CR that turns out to precede the LF
    line_no = start_line
    line_start = start_offset
    buf = bytearray()
    line_len = 0  # bytes of the current line seen so far, kept or not
    base = start_offset  # file offset of chunk[0]

    def finish(offset_end: int) -> RawLine | None:
        nonlocal line_no
        line_no += 1
        content_len = line_len
        if line_len <= keep and buf.endswith(b"\r"):
            content_len -= 1
        if content_len > max_line_bytes:
            del buf[max_line_bytes:]  # in place: one copy of the kept prefix, not three
            buf.extend(TRUNCATION_MARKER % line_len)
            return RawLine(line_no=line_no, offset_end=offset_end, raw=bytes(buf), obj=None, error=TOO_LARGE)
        del buf[content_len:]
        content = bytes(buf)
        if line_start == 0 and content.startswith(_BOM):
            content = content[len(_BOM) :]
        if not decode:
            if not content.strip(_ASCII_BLANK):
                return None
            return RawLine(line_no=line_no, offset_end=offset_end, raw=content, obj=None, error=None)
        result = decode_line(content, max_depth)
        if result is None:
            return None
        obj, error = result
        return RawLine(line_no=line_no, offset_end=offset_end, raw=content, obj=obj, error=error)

    while chunk := fp.read(chunk_size):
        pos = 0
        size = len(chunk)
        while pos < size:
            nl = chunk.find(b"\n", pos)
            end = size if nl < 0 else nl
            room = keep - len(buf)
            if room > 0:
                buf += chunk[pos : min(end, pos + room)]
            line_len += end - pos
            if nl < 0:
                break
            offset_end = base + nl + 1
            line = finish(offset_end)
            if line is not None:
                yield line
            buf.clear()
            line_len = 0
            line_start = offset_end
            pos = nl + 1
        base += size
    if line_len:
        line = finish(base)
        if line is not None:
            yield line


@dataclass(frozen=True, slots=True)
class LineRange:
    """Whole physical lines of an open file, [start, end) in bytes, the first numbered `first_line + 1`:
    what an ingest worker reads for itself (`read_range`) instead of receiving the lines."""

    fd: int
    start: int
    end: int
    first_line: int
    file_id: tuple[int, int]  # (st_dev, st_ino): a reader checks that `fd` is still this file


def line_ranges(
    fp: BinaryIO,
    *,
    start_offset: int,
    start_line: int,
    lines: int,
    first: int | None = None,
    chunk_size: int = 1 << 20,
) -> Iterator[LineRange]:
    """Split `fp` from `start_offset` into ranges of `lines` physical lines (the last one ends at EOF,
    with or without a final newline). Only newlines are counted here, a chunk at a time, so the caller
    (the importing process) spends nanoseconds a line and memory is one chunk whatever the lines hold.

    `first` (1..lines): ramp up and taper off. The first range has `first` lines and each next one twice
    as many up to `lines`; the last `lines`-sized stretch is cut again into halves down to `first` lines.
    Batches are prepared in worker processes while the importer writes earlier ones: the importer waits for
    the first batch, and the workers wait while it writes the last one, so at both ends the pipeline runs
    one stage at a time; small batches there keep those stretches short (with 2000-line batches each end
    is ≈ 0.2 s of a ≈ 3 s 20 k-line import; measured gain a few per cent, BENCHMARKS.md)."""
    if lines < 1 or chunk_size < 1 or (first is not None and not 1 <= first <= lines):
        raise ValueError("lines and chunk_size must be positive, first within 1..lines")
    fd = fp.fileno()
    st = os.fstat(fd)
    file_id = (st.st_dev, st.st_ino)
    if first is None:
        for r, _ in _cut(fd, file_id, start_offset, start_line, itertools.repeat(lines), chunk_size):
            yield r
        return
    held: tuple[LineRange, int] | None = None
    for cut in _cut(fd, file_id, start_offset, start_line, _ramp(first, lines), chunk_size):
        if held is not None:
            yield held[0]
        held = cut
    if held is not None:
        last, count = held
        for r, _ in _cut(
            fd, file_id, last.start, last.first_line, _taper(count, first), chunk_size, last.end
        ):
            yield r


def _ramp(first: int, lines: int) -> Iterator[int]:
    size = first
    while size < lines:
        yield size
        size *= 2
    yield from itertools.repeat(lines)


def _taper(count: int, first: int) -> Iterator[int]:
    size = count // 2
    while size >= first:
        yield size
        size //= 2
    yield from itertools.repeat(first)


def _cut(
    fd: int,
    file_id: tuple[int, int],
    start: int,
    first_line: int,
    sizes: Iterator[int],
    chunk_size: int,
    end: int | None = None,
) -> Iterator[tuple[LineRange, int]]:
    """Ranges of `next(sizes)` lines each from `start` to `end` (None: EOF, moving the file offset along
    for watchers), with their line counts (the last one's: its newlines, plus one)."""
    pos = start
    lines = next(sizes)
    count = 0
    while chunk := os.pread(fd, chunk_size if end is None else min(chunk_size, end - pos), pos):
        i = 0
        while (need := lines - count) <= chunk.count(b"\n", i):
            for _ in range(need):
                i = chunk.index(b"\n", i) + 1
            stop = pos + i
            yield LineRange(fd, start, stop, first_line, file_id), lines
            start, first_line, count, lines = stop, first_line + lines, 0, next(sizes)
        count += chunk.count(b"\n", i)
        pos += len(chunk)
        if end is None:
            # positioned reads leave the offset alone: move it, so that tools watching the descriptor (lsof,
            # benchmarks/rss_monitor.py) see how far the import has read (workers use pread: unaffected)
            os.lseek(fd, pos, os.SEEK_SET)
    if end is None:
        os.lseek(fd, pos, os.SEEK_SET)
    if pos > start:
        yield LineRange(fd, start, pos, first_line, file_id), count + 1


class _RangeReader:
    """A read-only view of [start, end) of a file descriptor with positioned reads: processes that share
    the descriptor (forked workers) never move each other's file offset."""

    def __init__(self, r: LineRange) -> None:
        try:
            st = os.fstat(r.fd)
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != r.file_id:
            # a process forked before the file was opened has another descriptor (or none) by that number
            raise RuntimeError("the range's file descriptor is not the file it was cut from")
        self.fd, self.end, self.pos = r.fd, r.end, r.start

    def seek(self, pos: int) -> int:
        self.pos = pos
        return pos

    def read(self, n: int) -> bytes:
        data = os.pread(self.fd, max(0, min(n, self.end - self.pos)), self.pos)
        self.pos += len(data)
        return data


# A range up to this size is read with one call and split at once (`_split_range`); a longer one streams.
# (A 2000-line batch of the generated traffic is ≈ 0.8 MB; of longer WeCom records, up to ≈ 2 MB.)
WHOLE_RANGE_MAX = 2 << 20


def read_range(r: LineRange, *, max_line_bytes: int, max_depth: int, decode: bool = False) -> list[RawLine]:
    """The lines of a range, exactly as `iter_lines` over the whole file gives them."""
    if not decode and r.end - r.start <= WHOLE_RANGE_MAX:
        lines = _split_range(r, max_line_bytes)
        if lines is not None:
            return lines
    return list(
        iter_lines(
            _RangeReader(r),
            start_offset=r.start,
            start_line=r.first_line,
            max_line_bytes=max_line_bytes,
            max_depth=max_depth,
            decode=decode,
        )
    )


def _split_range(r: LineRange, max_line_bytes: int) -> list[RawLine] | None:
    """`iter_lines(decode=False)` over a range small enough to hold: one positioned read and one split,
    instead of the streaming reader's buffer work for every line (an ingest worker reads a batch's range
    this way, about half the CPU a line). None when a line needs the streaming reader's cut (longer than
    `max_line_bytes`) or the file no longer holds the whole range."""
    size = r.end - r.start
    data = _RangeReader(r).read(size)
    if len(data) != size:
        return None
    pieces = data.split(b"\n")
    if not pieces[-1]:
        pieces.pop()  # the range ends with its last line's newline (or is empty)
    out: list[RawLine] = []
    start = r.start
    line_no = r.first_line
    for piece in pieces:
        line_no += 1
        if len(piece) > max_line_bytes:
            return None
        content = piece[:-1] if piece.endswith(b"\r") else piece
        if start == 0 and content.startswith(_BOM):
            content = content[len(_BOM) :]
        end = start + len(piece) + 1
        if content.strip(_ASCII_BLANK):
            out.append(RawLine(line_no, min(end, r.end), content, None, None))  # (EOF: no newline)
        start = end
    return out
