"""archive/ingest/records.py: canonical JSON refuses every record that would not come back equal, with
or without the round-trip check (`decoded=True`, for objects orjson.loads built itself)."""

from __future__ import annotations

import json
import math
import random
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ingest.generic import parse_generic
from archive.ingest.prepare import prepare_batch
from archive.ingest.reader import RawLine
from archive.ingest.records import InvalidRecord, canonical_json
from archive.ingest.wecom import parse_wecom
from tests.helpers import dispose_runtime, make_runtime

WECOM: dict[str, Any] = {
    "msgid": "m1",
    "action": "send",
    "from": "zhangsan",
    "tolist": ["wmC"],
    "msgtime": 1715000000000,
    "msgtype": "text",
    "text": {"content": "您好"},
}
GENERIC: dict[str, Any] = {
    "source": "dingtalk",
    "msgid": "d-1",
    "from": "a",
    "time": 1715000000000,
    "text": "您好",
}


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# Values that cannot be stored as they are: each makes the record "not_canonical".
NOT_CANONICAL: dict[str, Any] = {
    "nan": float("nan"),
    "infinity": float("inf"),
    "minus_infinity": float("-inf"),
    "past_u64": 2**64,
    "past_i64": -(2**63) - 1,
    "huge": 10**5000,
    "int_key": {1: "a"},
    "nested_int_key": {"a": [{"b": {2: "c"}}]},
    "tuple": ("a", "b"),
    "set": {"a"},
    "bytes": b"a",
    "datetime": datetime(2024, 5, 6, tzinfo=UTC),
    "too_deep": _nested(300),  # orjson dumps 254 levels at most
}


@pytest.mark.parametrize("name", sorted(NOT_CANONICAL))
def test_canonical_json_refuses_what_would_not_come_back(name: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        canonical_json({"x": NOT_CANONICAL[name]})
    assert info.value.reason == "not_canonical"


def test_too_deep_is_refused_without_the_check_too() -> None:
    """The one value above that orjson.loads can build (it reads 1023 levels): the dump refuses it."""
    obj = orjson.loads(b'{"x": ' + b"[" * 300 + b"]" * 300 + b"}")
    with pytest.raises(InvalidRecord) as info:
        canonical_json(obj, decoded=True)
    assert info.value.reason == "not_canonical"


@pytest.mark.parametrize("name", sorted(NOT_CANONICAL))
def test_parsers_refuse_what_would_not_come_back(name: str) -> None:
    value = NOT_CANONICAL[name]
    for parse, record in ((parse_wecom, WECOM), (parse_generic, GENERIC)):
        with pytest.raises(InvalidRecord) as info:
            parse({**record, "extra": value})
        assert info.value.reason == "not_canonical"


@pytest.mark.parametrize(
    "line",
    [
        b'{"x": NaN}',
        b'{"x": Infinity}',
        b'{"x": -Infinity}',
        b'{"x": 1e400}',
        b'{"x": -1e400}',
        b'{"x": 1' + b"0" * 400 + b"}",
        b'{"x": "\\ud800"}',
        b'{"x": ' + b"[" * 1100 + b"]" * 1100 + b"}",
    ],
)
def test_orjson_loads_never_builds_a_value_that_would_not_come_back(line: bytes) -> None:
    """NaN, infinities, integers too large for a double, lone surrogates, nesting past 1023: refused
    by orjson.loads itself, so a decoded object never holds them."""
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"x": 18446744073709551615, "y": -9223372036854775808}',  # the ends of 64 bits: integers
        b'{"x": 18446744073709551616, "y": -9223372036854775809}',  # past them: floats
        b'{"x": 123456789012345678901234567890}',
        b'{"x": [1.7976931348623157e308, 4.9e-324, 2e-324, 1e-400, -0.0, 0.1, 1e22, 5e-324]}',
        b'{"x": 2.4703282292062328e-324, "y": 1.00000000000000011102230246251565404236316680908203125}',
        b'{"x": "\\ud83d\\ude00 \\u0000 \\"\\\\", "\\u00e9": {"": null, "b": [true, false]}}',
    ],
)
def test_decoded_objects_get_the_same_answer_without_the_check(line: bytes) -> None:
    obj = orjson.loads(line)
    assert _answer(obj, decoded=True) == _answer(obj, decoded=False)


def _answer(obj: dict[str, Any], decoded: bool) -> bytes | str:
    try:
        return canonical_json(obj, decoded=decoded)
    except InvalidRecord as exc:
        return exc.reason


def test_every_finite_double_dumps_and_loads_back_exactly() -> None:
    rng = random.Random(7)
    for _ in range(200_000):
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(x):
            assert orjson.loads(orjson.dumps(x)) == x, repr(x)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=6))
def test_decoded_answer_is_the_checked_answer_for_any_json_line(value: dict[str, Any]) -> None:
    line = json.dumps(value).encode()  # NaN and Infinity included: orjson refuses those lines
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    assert _answer(obj, decoded=True) == _answer(obj, decoded=False)


def test_pushed_records_keep_the_round_trip_check(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Objects handed to prepare_batch (HTTP pushes) were not decoded by orjson: still checked."""
    rt = make_runtime("embedded", tmp_path, request)
    try:
        values = [float("nan"), float("inf"), 2**70, ("a",)]
        lines = [
            RawLine(i + 1, 0, b"", {**WECOM, "msgid": f"p{i}", "extra": v}, None)
            for i, v in enumerate(values)
        ]
        lines.append(RawLine(9, 0, orjson.dumps({**WECOM, "msgid": "line"}), None, None))
        out = prepare_batch(rt, "wecom", lines, 64)
        assert [p.reason for p in out] == ["not_canonical"] * len(values) + [None]
        assert out[-1].rec is not None and out[-1].rec.canonical == orjson.dumps(
            {**WECOM, "msgid": "line"}, option=orjson.OPT_SORT_KEYS
        )
    finally:
        dispose_runtime(rt)
