"""WeCom 会话存档 parser: one decrypted record (FORMAT.md §3–§7) → `ParsedRecord`, with the text a
compliance reviewer searches and scans, the media it references and its recall / consent links.

Only the envelope a message cannot be stored without is strict (msgid, sender, time, msgtype, the
payload object); fields inside payloads are read tolerantly, because the raw record is always kept."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from archive.ingest.records import (
    MAX_ACTION,
    MAX_EPOCH_MS,
    MAX_MEMBER,
    MAX_MSGID,
    MAX_MSGTYPE,
    MAX_ROOMID,
    MAX_SENDER,
    MAX_SEQ,
    InvalidRecord,
    MediaRef,
    ParsedRecord,
    canonical_json,
)

SOURCE = "wecom"

# msgtype → key of its payload object (FORMAT.md §4). `vote` has none: its fields sit at the top level.
PAYLOAD_KEYS: dict[str, str] = {
    "text": "text",
    "image": "image",
    "revoke": "revoke",
    "agree": "agree",
    "disagree": "disagree",
    "voice": "voice",
    "video": "video",
    "card": "card",
    "location": "location",
    "emotion": "emotion",
    "file": "file",
    "link": "link",
    "weapp": "weapp",
    "chatrecord": "chatrecord",
    "todo": "todo",
    "collect": "collect",
    "redpacket": "redpacket",
    "external_redpacket": "redpacket",
    "meeting": "meeting",
    "docmsg": "doc",
    "markdown": "info",
    "news": "info",
    "calendar": "calendar",
    "mixed": "mixed",
    "meeting_voice_call": "meeting_voice_call",
    "voip_doc_share": "voip_doc_share",
    "sphfeed": "sphfeed",
}
KNOWN_TYPES = frozenset(PAYLOAD_KEYS) | {"vote"}

# Nested chatrecords hold their items as JSON strings inside JSON strings; real ones nest a few levels.
MAX_NESTING = 16
# Best-effort text of payloads we do not model: bounded however the payload is shaped.
_LOOSE_MAX_DEPTH = 16
_LOOSE_MAX_STRINGS = 256
_LOOSE_SKIP = frozenset({"md5sum", "fileext", "picurl", "image_url", "thumb_url", "thumburl"})

_DIGITS = re.compile(r"\s*[0-9]{1,19}\s*")  # ASCII digits only, and short enough for int()
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
# WeCom markdown colours text with <font color=…>; the reader sees the words, so search should too.
_FONT_TAG = re.compile(r"</?font\b[^>]*>", re.IGNORECASE)
# The wrapper keys a pulled record may sit under next to its envelope `seq`.
_WRAPPED_KEYS = ("msg", "message")
_SECONDS_BELOW = 10**11  # an epoch value under this is seconds (ms would be before March 1973)


# ----------------------------------------------------------------------------------------------------
# Scalar readers


def _str(value: object) -> str:
    """A text field as text: strings as given, numbers (vendors re-serialise) as digits, else ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: object) -> int | None:
    """An integer field that vendors may have turned into a string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _size(value: object) -> int | None:
    n = _int(value)
    return n if n is not None and 0 <= n <= MAX_SEQ else None


def _epoch_ms(value: object, field: str) -> int:
    """msgtime / time / agree_time: ms, or a numeric string of ms; seconds are recognised by magnitude."""
    if value is None:
        raise InvalidRecord(f"missing:{field}")
    ms = _int(value)
    if ms is None:
        raise InvalidRecord(f"wrong_type:{field}")
    if ms < 0:
        raise InvalidRecord(f"out_of_range:{field}")
    if ms < _SECONDS_BELOW:
        ms *= 1000
    if ms > MAX_EPOCH_MS:
        raise InvalidRecord(f"out_of_range:{field}")
    return ms


def _id(value: object, field: str, limit: int) -> str:
    """A required, non-empty id string no longer than the column that stores it."""
    if value is None or value == "":
        raise InvalidRecord("missing_msgid" if field == "msgid" else f"missing:{field}")
    if not isinstance(value, str):
        raise InvalidRecord(f"wrong_type:{field}")
    if len(value) > limit:
        raise InvalidRecord(f"too_long:{field}")
    return value


def _seq(value: object) -> int | None:
    if value is None:
        return None
    seq = _int(value)
    if seq is None:
        raise InvalidRecord("wrong_type:seq")
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidRecord("out_of_range:seq")
    return seq


def _tolist(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a vendor re-serialisation sends "a,b" instead of ["a", "b"]
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidRecord("wrong_type:tolist")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidRecord("wrong_type:tolist")
        item = item.strip()
        if len(item) > MAX_MEMBER:
            raise InvalidRecord("too_long:tolist")
        if item:
            out.append(item)
    return tuple(out)


def _roomid(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord("wrong_type:roomid")
    if len(value) > MAX_ROOMID:
        raise InvalidRecord("too_long:roomid")
    return value


# ----------------------------------------------------------------------------------------------------
# Text and media extraction


class _Extract:
    """Collects the searchable parts and media references of one record, in reading order."""

    __slots__ = ("media", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.media: list[MediaRef] = []

    def add(self, *values: object) -> None:
        for value in values:
            text = _str(value)
            if text.strip():
                self.parts.append(text)

    def add_media(self, payload: dict[str, Any], kind: str, size_key: str | None, path: str) -> None:
        sdkfileid = payload.get("sdkfileid")
        if not isinstance(sdkfileid, str) or not sdkfileid:
            return
        md5 = payload.get("md5sum")
        filename = payload.get("filename")
        self.media.append(
            MediaRef(
                sdkfileid=sdkfileid,
                kind=kind,
                md5sum=md5 if isinstance(md5, str) and _MD5.fullmatch(md5) else None,
                size=_size(payload.get(size_key)) if size_key else None,
                filename=filename if isinstance(filename, str) and filename else None,
                path=path,
            )
        )

    def text(self) -> str:
        return "\n".join(self.parts)


Handler = Callable[[_Extract, dict[str, Any], str, int], None]


def _dicts(value: object) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _text(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("content"))


def _image(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add_media(p, "image", "filesize", path)


def _voice(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add_media(p, "voice", "voice_size", path)


def _video(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add_media(p, "video", "filesize", path)


def _emotion(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"))  # some SDK models carry a sticker title
    ex.add_media(p, "emotion", "imagesize", path)


def _file(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("filename"))
    ex.add_media(p, "file", "filesize", path)


def _card(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("corpname"), p.get("userid"))


def _location(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("address"))


def _link(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("description"), p.get("link_url"))


def _weapp(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("description"), p.get("displayname"))


def _todo(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("content"))


def _vote(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("votetitle"))
    items = p.get("voteitem")
    if isinstance(items, list):
        ex.add(*items)


def _collect(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("room_name"), p.get("title"))
    for _, detail in _dicts(p.get("details")):
        ex.add(detail.get("ques"))


def _redpacket(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("wish"))


def _meeting(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("topic"), p.get("address"), p.get("remarks"))


def _doc(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("link_url"))


def _markdown(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(_FONT_TAG.sub("", _str(p.get("content"))))


def _news(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    for _, item in _dicts(p.get("item")):
        ex.add(item.get("title"), item.get("description"), item.get("url"))


def _calendar(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("title"), p.get("place"), p.get("remarks"))


def _meeting_voice_call(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    for _, demo in _dicts(p.get("demofiledata")):
        ex.add(demo.get("filename"))
    ex.add_media(p, "meeting_voice_call", None, path)  # the recording: no md5sum, no size field


def _voip_doc_share(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("filename"))
    ex.add_media(p, "voip_doc_share", "filesize", path)


def _sphfeed(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    ex.add(p.get("sph_name"), p.get("feed_desc"))


def _nothing(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    """revoke, agree, disagree: links and consent, no text."""


def _items(ex: _Extract, p: dict[str, Any], path: str, level: int) -> None:
    """chatrecord and mixed: a title (chatrecord) and items whose payload is a JSON string."""
    ex.add(p.get("title"))
    if level >= MAX_NESTING:
        return
    for i, item in _dicts(p.get("item")):
        _item(ex, item, f"{path}.item[{i}]", level + 1)


HANDLERS: dict[str, Handler] = {
    "text": _text,
    "image": _image,
    "revoke": _nothing,
    "agree": _nothing,
    "disagree": _nothing,
    "voice": _voice,
    "video": _video,
    "card": _card,
    "location": _location,
    "emotion": _emotion,
    "file": _file,
    "link": _link,
    "weapp": _weapp,
    "chatrecord": _items,
    "todo": _todo,
    "vote": _vote,
    "collect": _collect,
    "redpacket": _redpacket,
    "external_redpacket": _redpacket,
    "meeting": _meeting,
    "docmsg": _doc,
    "doc": _doc,
    "markdown": _markdown,
    "news": _news,
    "calendar": _calendar,
    "mixed": _items,
    "meeting_voice_call": _meeting_voice_call,
    "voip_doc_share": _voip_doc_share,
    "sphfeed": _sphfeed,
}


def _item_kind(item_type: str) -> str:
    """`ChatRecordText` → `text`, `ChatRecordMixed` → `mixed`, `text` → `text`, `chatrecord` stays."""
    kind = item_type.strip().lower()
    if kind.startswith("chatrecord") and len(kind) > len("chatrecord"):
        kind = kind[len("chatrecord") :]
    return kind


def _item_payload(content: object) -> dict[str, Any] | None:
    """An item's payload: its JSON-string content parsed (a dict if a re-serialiser already did that);
    content that is not a JSON object is read as plain text."""
    if isinstance(content, dict):
        return content
    if not isinstance(content, str):
        return None
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {"content": content}
    if isinstance(value, dict):
        return value
    return {"content": value} if isinstance(value, str | int | float) else None


def _item(ex: _Extract, item: dict[str, Any], path: str, level: int) -> None:
    kind = _item_kind(_str(item.get("type")))
    payload = _item_payload(item.get("content"))
    if payload is None:
        return
    handler = HANDLERS.get(kind)
    if handler is None:
        _loose(ex, payload, kind or "unknown", f"{path}.content")
    else:
        handler(ex, payload, f"{path}.content", level)


def _loose_key(key: str) -> bool:
    """Whether a string under this key reads as content rather than an id, checksum, size or time."""
    return key not in _LOOSE_SKIP and not key.endswith(("id", "size", "time", "length"))


def _loose(ex: _Extract, payload: dict[str, Any], kind: str, path: str) -> None:
    """Best effort for a payload we do not model: its string leaves (not ids or checksums) and, if it
    names an sdkfileid, the media — so the bytes are fetched before they expire."""
    strings = 0
    stack: list[tuple[object, int]] = [(payload, 0)]
    while stack and strings < _LOOSE_MAX_STRINGS:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth < _LOOSE_MAX_DEPTH:
                for key, child in reversed(list(value.items())):
                    if isinstance(child, dict | list) or (isinstance(child, str) and _loose_key(key)):
                        stack.append((child, depth + 1))
        elif isinstance(value, list):
            if depth < _LOOSE_MAX_DEPTH:
                stack.extend((child, depth + 1) for child in reversed(value))
        elif isinstance(value, str) and value.strip():
            ex.parts.append(value)
            strings += 1
    size_key = next((k for k in ("filesize", "size", "imagesize", "voice_size") if k in payload), None)
    ex.add_media(payload, kind[:32], size_key, path)


# ----------------------------------------------------------------------------------------------------
# Record


def _unwrap(obj: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """Accept the record alone, flat with its envelope seq (`{"seq":…, "msgid":…, "action":…}`), or
    under the envelope (`{"seq":…, "msgid":…, "publickey_ver":…, "msg": {…}}`, also as a JSON string)."""
    if "seq" not in obj:
        return None, obj
    seq = _seq(obj["seq"])
    if "action" in obj or "msgtype" in obj:
        return seq, obj
    for key in _WRAPPED_KEYS:
        inner: object = obj.get(key)
        if isinstance(inner, str):
            try:
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError:
                raise InvalidRecord(f"invalid_json:{key}") from None
        if inner is None:
            continue
        if not isinstance(inner, dict):
            raise InvalidRecord(f"wrong_type:{key}")
        outer_id = obj.get("msgid")
        inner_id = inner.get("msgid")
        if isinstance(outer_id, str) and outer_id:
            if inner_id in (None, ""):
                inner = {**inner, "msgid": outer_id}
            elif inner_id != outer_id:
                raise InvalidRecord("msgid_mismatch")
        return seq, inner
    if "encrypt_chat_msg" in obj:
        raise InvalidRecord("not_decrypted")
    return seq, obj


def _payload(rec: dict[str, Any], msgtype: str) -> dict[str, Any]:
    if msgtype == "vote":  # top-level fields; some SDK wrappers nest them in a `vote` object
        nested = rec.get("vote")
        return nested if isinstance(nested, dict) else rec
    key = PAYLOAD_KEYS[msgtype]
    payload = rec.get(key)
    if payload is None and key != msgtype and isinstance(rec.get(msgtype), dict):
        payload = rec[msgtype]  # e.g. `docmsg` under its own name instead of `doc`
    if payload is None:
        raise InvalidRecord(f"null_payload:{key}" if key in rec else f"missing_payload:{key}")
    if not isinstance(payload, dict):
        raise InvalidRecord(f"wrong_type:{key}")
    return payload


def _consent(msgtype: str, payload: dict[str, Any], sender: str, msgtime_ms: int) -> tuple[str, str, int]:
    userid = payload.get("userid")
    if userid is None or userid == "":
        userid = sender  # the external contact is the one who agrees
    elif not isinstance(userid, str):
        raise InvalidRecord(f"wrong_type:{msgtype}.userid")
    elif len(userid) > MAX_MEMBER:
        raise InvalidRecord(f"too_long:{msgtype}.userid")
    keys = ("disagree_time", "agree_time") if msgtype == "disagree" else ("agree_time",)
    raw_time = next((payload[k] for k in keys if payload.get(k) is not None), None)
    at = msgtime_ms if raw_time is None else _epoch_ms(raw_time, f"{msgtype}.{keys[0]}")
    return userid, msgtype, at


def _recall_target(payload: dict[str, Any]) -> str | None:
    target = payload.get("pre_msgid")
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if not isinstance(target, str) or not target:
        return None  # kept as a recall of an unknown message
    if len(target) > MAX_MSGID:
        raise InvalidRecord("too_long:revoke.pre_msgid")
    return target


def _switch(rec: dict[str, Any], msgid: str, seq: int | None, canonical: bytes) -> ParsedRecord:
    """A member switched enterprise (FORMAT.md §5): a log entry with `time` and `user`, no message."""
    return ParsedRecord(
        source=SOURCE,
        msgid=msgid,
        seq=seq,
        action="switch",
        msgtype="switch",
        sender=_id(rec.get("user"), "user", MAX_SENDER),
        tolist=(),
        roomid="",
        msgtime_ms=_epoch_ms(rec.get("time"), "time"),
        text="",
        media=(),
        recall_target=None,
        consent=None,
        canonical=canonical,
        known_type=True,
    )


def parse_wecom(obj: dict[str, Any], *, decoded: bool = False) -> ParsedRecord:
    """Parse one decrypted WeCom record. Raises InvalidRecord for one that cannot be stored meaningfully;
    an unknown msgtype is kept (known_type=False) with best-effort text, never an error. `decoded`: `obj`
    is orjson.loads' own result (see `canonical_json`)."""
    if not isinstance(obj, dict):
        raise InvalidRecord("not_object")
    # First: it also refuses what no field reader should meet (NaN, integers past 64 bits).
    canonical = canonical_json(obj, decoded=decoded)
    seq, rec = _unwrap(obj)
    msgid = _id(rec.get("msgid"), "msgid", MAX_MSGID)
    action_value = rec.get("action")
    if action_value == "switch":
        return _switch(rec, msgid, seq, canonical)

    msgtype = _id(rec.get("msgtype"), "msgtype", MAX_MSGTYPE)
    if action_value is None or action_value == "":
        action = "recall" if msgtype == "revoke" else "send"
    else:
        action = _id(action_value, "action", MAX_ACTION)
    sender = _id(rec.get("from"), "from", MAX_SENDER)
    tolist = _tolist(rec.get("tolist"))
    roomid = _roomid(rec.get("roomid"))
    msgtime_ms = _epoch_ms(rec.get("msgtime"), "msgtime")

    ex = _Extract()
    recall_target: str | None = None
    consent: tuple[str, str, int] | None = None
    known = msgtype in KNOWN_TYPES
    if known:
        payload = _payload(rec, msgtype)
        HANDLERS[msgtype](ex, payload, PAYLOAD_KEYS.get(msgtype, msgtype), 0)
        if msgtype == "revoke":
            recall_target = _recall_target(payload)
        elif msgtype in ("agree", "disagree"):
            consent = _consent(msgtype, payload, sender, msgtime_ms)
    else:
        unknown_payload = rec.get(msgtype)
        if isinstance(unknown_payload, dict):
            _loose(ex, unknown_payload, msgtype, msgtype)

    return ParsedRecord(
        source=SOURCE,
        msgid=msgid,
        seq=seq,
        action=action,
        msgtype=msgtype,
        sender=sender,
        tolist=tolist,
        roomid=roomid,
        msgtime_ms=msgtime_ms,
        text=ex.text(),
        media=tuple(ex.media),
        recall_target=recall_target,
        consent=consent,
        canonical=canonical,
        known_type=known,
    )
