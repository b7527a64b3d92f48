"""archive/ingest/generic.py: the generic JSON-lines format, its pydantic model and the published schema."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.ingest.generic import SCHEMA_PATH, Attachment, GenericMessage, parse_generic, published_schema
from archive.ingest.records import InvalidRecord

MS = 1715000000000


def record(**extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"source": "dingtalk", "msgid": "d-1", "from": "agent7", "time": MS, "text": "您好"}
    rec.update(extra)
    return {k: v for k, v in rec.items() if v is not ...}


def reason(obj: Any) -> str:
    with pytest.raises(InvalidRecord) as info:
        parse_generic(obj)
    return info.value.reason


def test_minimal_text_record() -> None:
    rec = parse_generic(record())
    assert (rec.source, rec.msgid, rec.sender, rec.msgtime_ms) == ("dingtalk", "d-1", "agent7", MS)
    assert (rec.action, rec.msgtype, rec.text, rec.roomid, rec.tolist) == ("send", "text", "您好", "", ())
    assert (rec.seq, rec.media, rec.recall_target, rec.consent, rec.sender_role) == (
        None,
        (),
        None,
        None,
        None,
    )
    assert rec.known_type
    assert orjson.loads(rec.canonical) == record()


def test_full_record() -> None:
    obj = record(
        room="grp-9",
        to=["c1", "c2"],
        type="file",
        sender_role="employee",
        seq=42,
        attachments=[
            {"name": "报价单.pdf", "md5": "A" * 32, "size": 2048},
            {"name": "合同.docx", "id": "blob/7", "sha256": "b" * 64},
        ],
        channel_specific={"kept": True},
    )
    rec = parse_generic(obj)
    assert (rec.roomid, rec.tolist, rec.msgtype, rec.sender_role, rec.seq) == (
        "grp-9",
        ("c1", "c2"),
        "file",
        "employee",
        42,
    )
    assert rec.text.splitlines() == ["您好", "报价单.pdf", "合同.docx"]
    first, second = rec.media
    assert (first.sdkfileid, first.md5sum, first.size, first.filename, first.path, first.kind) == (
        "报价单.pdf",
        "a" * 32,
        2048,
        "报价单.pdf",
        "attachments[0]",
        "file",
    )
    assert (second.sdkfileid, second.sha256, second.md5sum) == ("blob/7", "b" * 64, None)
    assert orjson.loads(rec.canonical) == obj


def test_type_without_text() -> None:
    rec = parse_generic(record(text=..., type="image"))
    assert (rec.msgtype, rec.text) == ("image", "")


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        ("2024-05-06T08:30:00+08:00", int(datetime(2024, 5, 6, 0, 30, tzinfo=UTC).timestamp() * 1000)),
        ("2024-05-06T00:30:00Z", int(datetime(2024, 5, 6, 0, 30, tzinfo=UTC).timestamp() * 1000)),
        ("2024-05-06t00:30:00.250z", int(datetime(2024, 5, 6, 0, 30, tzinfo=UTC).timestamp() * 1000) + 250),
        ("2024-05-06 00:30:00-00:00", int(datetime(2024, 5, 6, 0, 30, tzinfo=UTC).timestamp() * 1000)),
    ],
)
def test_rfc3339_time(value: str, expected_ms: int) -> None:
    assert parse_generic(record(time=value)).msgtime_ms == expected_ms


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"source": ...}, "missing:source"),
        ({"msgid": ...}, "missing_msgid"),
        ({"from": ...}, "missing:from"),
        ({"time": ...}, "missing:time"),
        ({"text": ...}, "missing:text_or_type"),
        ({"msgid": ""}, "missing_msgid"),
        ({"from": ""}, "missing:from"),
        ({"msgid": 7}, "wrong_type:msgid"),
        ({"msgid": "x" * 257}, "too_long:msgid"),
        ({"from": "u" * 129}, "too_long:from"),
        ({"source": "has space"}, "invalid:source"),
        ({"source": "s" * 33}, "too_long:source"),
        ({"time": 1715000000}, "invalid:time"),  # seconds, not ms
        ({"time": 1.7e12}, "wrong_type:time"),
        ({"time": True}, "wrong_type:time"),
        ({"time": "2024-05-06T08:30:00"}, "invalid:time"),  # no offset
        ({"time": "2024-02-30T08:30:00Z"}, "invalid:time"),
        ({"time": "yesterday"}, "invalid:time"),
        ({"text": 5}, "wrong_type:text"),
        ({"text": None}, "wrong_type:text"),
        ({"type": ""}, "missing:type"),
        ({"room": None}, "wrong_type:room"),
        ({"to": "c1"}, "wrong_type:to"),
        ({"to": ["c1", 2]}, "wrong_type:to[1]"),
        ({"sender_role": "boss"}, "invalid:sender_role"),
        ({"seq": -1}, "invalid:seq"),
        ({"seq": "1"}, "wrong_type:seq"),
        ({"attachments": [{"md5": "a" * 32}]}, "missing:attachments[0].name"),
        ({"attachments": [{"name": "a", "md5": "xyz"}]}, "invalid:attachments[0].md5"),
        ({"attachments": [{"name": "a", "size": -1}]}, "invalid:attachments[0].size"),
        ({"attachments": ["a.pdf"]}, "wrong_type:attachments[0]"),
    ],
)
def test_invalid_records(change: dict[str, Any], expected: str) -> None:
    assert reason(record(**change)) == expected


def test_not_an_object() -> None:
    assert reason(["not", "a", "record"]) == "not_object"


# ---------------------------------------------------------------------------------------------------
# The published schema and the model agree


def _aliases(model: type[Any]) -> dict[str, Any]:
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def test_schema_is_draft_2020_12() -> None:
    schema = published_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert orjson.loads(SCHEMA_PATH.read_bytes()) == schema


def test_schema_and_model_agree_on_fields_and_required() -> None:
    schema = published_schema()
    fields = _aliases(GenericMessage)
    assert set(schema["properties"]) == set(fields)
    assert set(schema["required"]) == {alias for alias, f in fields.items() if f.is_required()}
    assert schema["anyOf"] == [{"required": ["text"]}, {"required": ["type"]}]
    item = schema["properties"]["attachments"]["items"]
    att = _aliases(Attachment)
    assert set(item["properties"]) == set(att)
    assert set(item["required"]) == {alias for alias, f in att.items() if f.is_required()}


def _max_length(field: Any) -> int | None:
    for meta in [
        *field.metadata,
        *(m for a in typing.get_args(field.annotation) for m in getattr(a, "__metadata__", ())),
    ]:
        if getattr(meta, "max_length", None) is not None:
            return int(meta.max_length)
    return None


def test_schema_and_model_agree_on_limits() -> None:
    props = published_schema()["properties"]
    fields = _aliases(GenericMessage)
    for name in ("source", "msgid", "from", "type", "room"):
        assert props[name]["maxLength"] == _max_length(fields[name]), name
    assert set(props["sender_role"]["enum"]) == {"employee", "customer"}
    assert props["time"]["oneOf"][0]["minimum"] == 10**11


# ---------------------------------------------------------------------------------------------------
# Properties

ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
valid_records = st.fixed_dictionaries(
    {
        "source": st.from_regex(re.compile(r"[a-z0-9][a-z0-9_.-]{0,20}"), fullmatch=True),
        "msgid": ids,
        "from": ids,
        "time": st.integers(10**11, 253402300799999),
        "text": st.text(max_size=40),
    },
    optional={
        "type": st.text(min_size=1, max_size=10),
        "room": st.text(max_size=20),
        "to": st.lists(ids, max_size=3),
        "seq": st.integers(0, 2**63 - 1),
        "sender_role": st.sampled_from(["employee", "customer"]),
        "attachments": st.lists(
            st.fixed_dictionaries({"name": ids}, optional={"size": st.integers(0, 10**9)}), max_size=2
        ),
    },
)


@settings(max_examples=200, deadline=None)
@given(obj=valid_records)
def test_valid_records_parse_and_round_trip(obj: dict[str, Any]) -> None:
    rec = parse_generic(obj)
    assert orjson.loads(rec.canonical) == obj
    assert rec.msgtime_ms == obj["time"] and rec.sender == obj["from"]
    assert obj["text"] in rec.text or not obj["text"].strip()


json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    base=valid_records,
    key=st.sampled_from(
        ["source", "msgid", "from", "time", "text", "type", "room", "to", "seq", "sender_role", "attachments"]
    ),
    value=json_value,
)
def test_any_field_value_gives_a_record_or_a_reason(base: dict[str, Any], key: str, value: Any) -> None:
    obj = {**base, key: value}
    try:
        rec = parse_generic(obj)
    except InvalidRecord as exc:
        assert re.fullmatch(r"[a-z_]+(:[\w.\[\]]+)?", exc.reason), exc.reason
    else:
        assert orjson.loads(rec.canonical) == obj
