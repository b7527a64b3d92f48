"""What the source parsers hand to the ingest pipeline: one `ParsedRecord` per stored message, or
`InvalidRecord` with a short machine reason for input that cannot be stored meaningfully."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import orjson

# Column widths of the tables the pipeline writes (archive/store/models.py). A value past these would
# make the database reject the whole batch, so the parsers reject the one record instead.
MAX_MSGID = 256
MAX_SENDER = 128
MAX_MEMBER = 128
MAX_ROOMID = 256
MAX_MSGTYPE = 40
MAX_ACTION = 16
MAX_SOURCE = 32
# Epoch milliseconds a datetime can hold (9999-12-31T23:59:59.999Z).
MAX_EPOCH_MS = 253_402_300_799_999
MAX_SEQ = 2**63 - 1


class InvalidRecord(ValueError):
    """A record that cannot be stored meaningfully. `reason` is a short machine code such as
    `missing_msgid`, `wrong_type:msgtime` or `null_payload:text`; the part before ':' is the category."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MediaRef:
    sdkfileid: str
    kind: str  # image | voice | video | file | emotion | meeting_voice_call | voip_doc_share
    md5sum: str | None  # None when the type has none (meeting_voice_call) or it is empty
    size: int | None
    filename: str | None
    path: str  # where in the record it was found, e.g. "mixed.item[2].content"
    sha256: str | None = None  # generic attachments may carry one; WeCom never does


class ParsedRecord(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: one is built for every imported line by the ingest
    workers and rebuilt from a pickle by the importer, and a tuple's construction costs a seventh of a
    frozen dataclass's (16 fields: 2.2 → 0.3 µs; unpickling 1.8 → 0.4 µs a record, pickling 0.7 → 0.6)."""

    source: str  # "wecom" or the generic record's source
    msgid: str
    seq: int | None  # from a {"seq":…, …} wrapper when present
    action: str  # send | recall | switch
    msgtype: str  # the record's msgtype; "switch" for switch records; unknown types kept as given
    sender: str  # "from" (switch: the "user" field)
    tolist: tuple[str, ...]
    roomid: str  # "" for one-to-one
    msgtime_ms: int  # for switch: "time"
    text: str  # searchable + scannable text a reviewer would expect ("" if none)
    media: tuple[MediaRef, ...]
    recall_target: str | None  # revoke: the pre_msgid being recalled
    consent: tuple[str, str, int] | None  # agree/disagree: (external userid, "agree"|"disagree", time_ms)
    canonical: bytes  # canonical JSON of the original record; round-trips to an equal dict
    known_type: bool  # False for msgtypes we do not recognise (kept raw, reported)
    sender_role: str | None = None  # generic records may say employee | customer; WeCom never does

    def __reduce__(self) -> tuple[type[ParsedRecord], tuple[Any, ...]]:
        # pickled with the class and the fields, not through __getnewargs__: a third of the time
        return ParsedRecord, tuple(self)


class RecordParser(Protocol):
    """A source format's parser (archive.ingest.wecom, archive.ingest.generic)."""

    def __call__(self, obj: dict[str, Any], *, decoded: bool = False) -> ParsedRecord: ...


def canonical_json(obj: dict[str, Any], *, decoded: bool = False) -> bytes:
    """Sorted keys, compact, UTF-8. Refuses what would not come back equal (NaN, integers past 64 bits,
    non-string keys, nesting past orjson's limit), so the stored bytes are always the record.

    `decoded=True` says `obj` is what `orjson.loads` returned for the line, untouched. Such an object
    comes back equal whenever it dumps, so the check by loading the dump again is skipped: `orjson.loads`
    builds only dicts with string keys, lists, valid strings, integers within 64 bits, finite floats,
    booleans and None (it refuses NaN, Infinity, numbers past a double's range and lone surrogates, and
    reads longer integers as floats), and the dump writes each of them back exactly, floats as their
    shortest round-trip form (tests/archive/ingest/test_records.py). What the dump itself refuses
    (nesting past its limit) is refused either way."""
    try:
        data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        raise InvalidRecord("not_canonical") from None
    if not decoded and orjson.loads(data) != obj:
        raise InvalidRecord("not_canonical")
    return data
