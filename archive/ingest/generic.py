"""The generic JSON-lines message format for channels other than WeCom: the pydantic model that
validates it, and `parse_generic` → `ParsedRecord`. The published JSON Schema (draft 2020-12) is
`generic_schema.json` beside this file; tests keep the two in step."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from archive.ingest.records import (
    MAX_EPOCH_MS,
    MAX_MEMBER,
    MAX_MSGID,
    MAX_MSGTYPE,
    MAX_ROOMID,
    MAX_SENDER,
    MAX_SEQ,
    MAX_SOURCE,
    InvalidRecord,
    MediaRef,
    ParsedRecord,
    canonical_json,
)

SCHEMA_PATH = Path(__file__).with_name("generic_schema.json")

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_MIN_MS = 10**11  # an integer time below this is almost surely seconds, not milliseconds

Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=MAX_SOURCE)]
Member = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MEMBER)]


def _not_null(value: object) -> object:
    """Optional properties may be absent but not null, as in the published schema."""
    if value is None:
        raise PydanticCustomError("wrong_type", "null is not allowed; leave the property out")
    return value


class Attachment(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    id: Annotated[str, StringConstraints(min_length=1)] | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    md5: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    size: Annotated[int, Field(ge=0, le=MAX_SEQ)] | None = None

    @field_validator("id", "sha256", "md5", "size", mode="before")
    @classmethod
    def reject_null(cls, value: object) -> object:
        return _not_null(value)


class GenericMessage(BaseModel):
    """One generic message. `time` arrives as epoch ms or RFC 3339 and is held as epoch ms."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)

    source: Source
    msgid: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MSGID)]
    sender: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SENDER)] = Field(alias="from")
    time: int
    text: str | None = None
    type: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MSGTYPE)] | None = None
    room: Annotated[str, StringConstraints(max_length=MAX_ROOMID)] | None = None
    to: list[Member] | None = None
    sender_role: Literal["employee", "customer"] | None = None
    attachments: list[Attachment] | None = None
    seq: Annotated[int, Field(ge=0, le=MAX_SEQ)] | None = None

    @field_validator("text", "type", "room", "to", "sender_role", "attachments", "seq", mode="before")
    @classmethod
    def reject_null(cls, value: object) -> object:
        return _not_null(value)

    @field_validator("time", mode="before")
    @classmethod
    def epoch_ms(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PydanticCustomError("wrong_type", "time must be epoch milliseconds or an RFC 3339 string")
        if isinstance(value, int):
            if not _MIN_MS <= value <= MAX_EPOCH_MS:
                raise PydanticCustomError("invalid", "time must be epoch milliseconds (is it in seconds?)")
            return value
        if not _RFC3339.fullmatch(value):
            raise PydanticCustomError("invalid", "time must be RFC 3339 with an offset (…T08:30:00+08:00)")
        try:
            ms = round(datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp() * 1000)
        except (ValueError, OverflowError):
            raise PydanticCustomError("invalid", "time is not a valid date-time") from None
        if not 0 <= ms <= MAX_EPOCH_MS:
            raise PydanticCustomError("invalid", "time is out of range")
        return ms


def _reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = ""
    for part in error["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    kind = error["type"]
    if kind in ("missing", "string_too_short"):  # "" is as good as absent, as in the WeCom parser
        return "missing_msgid" if loc == "msgid" else f"missing:{loc}"
    if kind == "wrong_type" or kind.endswith("_type"):
        return f"wrong_type:{loc}"
    if kind == "string_too_long":
        return f"too_long:{loc}"
    return f"invalid:{loc}"


def validate_generic(obj: dict[str, Any]) -> GenericMessage:
    if not isinstance(obj, dict):
        raise InvalidRecord("not_object")
    try:
        msg = GenericMessage.model_validate(obj)
    except ValidationError as exc:
        raise InvalidRecord(_reason(exc)) from None
    if msg.text is None and msg.type is None:
        raise InvalidRecord("missing:text_or_type")
    return msg


def parse_generic(obj: dict[str, Any], *, decoded: bool = False) -> ParsedRecord:
    """Validate one generic record and turn it into a ParsedRecord; InvalidRecord says what is wrong.
    `decoded`: `obj` is orjson.loads' own result (see `canonical_json`)."""
    msg = validate_generic(obj)
    canonical = canonical_json(obj, decoded=decoded)
    attachments = msg.attachments or []
    parts = [msg.text or ""] + [a.name for a in attachments]
    media = tuple(
        MediaRef(
            sdkfileid=a.id or a.name,
            kind="file",
            md5sum=a.md5.lower() if a.md5 else None,
            size=a.size,
            filename=a.name,
            path=f"attachments[{i}]",
            sha256=a.sha256.lower() if a.sha256 else None,
        )
        for i, a in enumerate(attachments)
    )
    return ParsedRecord(
        source=msg.source,
        msgid=msg.msgid,
        seq=msg.seq,
        action="send",
        msgtype=msg.type or "text",
        sender=msg.sender,
        tolist=tuple(msg.to or ()),
        roomid=msg.room or "",
        msgtime_ms=msg.time,
        text="\n".join(p for p in parts if p.strip()),
        media=media,
        recall_target=None,
        consent=None,
        canonical=canonical,
        known_type=True,
        sender_role=msg.sender_role,
    )


def published_schema() -> dict[str, Any]:
    """The published JSON Schema of the generic format (a fresh copy)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema
