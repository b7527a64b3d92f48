"""archive/ingest/wecom.py against the public sample and crafted records: every msgtype's reviewer text,
media references, recalls, consent, switch records, wrapper forms, vendor quirks and bad input."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.ingest.reader import iter_lines
from archive.ingest.records import InvalidRecord, ParsedRecord
from archive.ingest.wecom import MAX_NESTING, parse_wecom

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "wecom" / "archive_sample.jsonl"
MEDIA = ROOT / "examples" / "wecom" / "media"

# README.md's count table: msgtype → lines in the file.
SAMPLE_COUNTS = {
    "text": 103,
    "image": 8,
    "revoke": 4,
    "agree": 2,
    "disagree": 1,
    "voice": 3,
    "video": 1,
    "card": 3,
    "location": 2,
    "emotion": 2,
    "file": 4,
    "link": 2,
    "weapp": 3,
    "chatrecord": 2,
    "todo": 1,
    "vote": 3,
    "collect": 1,
    "redpacket": 1,
    "meeting": 3,
    "docmsg": 2,
    "markdown": 2,
    "news": 1,
    "calendar": 2,
    "mixed": 2,
    "meeting_voice_call": 1,
    "voip_doc_share": 1,
    "switch": 1,
}


def sample_lines() -> list[bytes]:
    return SAMPLE.read_bytes().splitlines()


def sample() -> list[tuple[dict[str, Any], ParsedRecord]]:
    return [(obj, parse_wecom(obj)) for obj in (json.loads(line) for line in sample_lines())]


def by_line(n: int) -> ParsedRecord:
    """The parsed record of 1-based line n of the sample."""
    return parse_wecom(json.loads(sample_lines()[n - 1]))


def first(msgtype: str) -> ParsedRecord:
    return next(rec for _, rec in sample() if rec.msgtype == msgtype)


def base(**extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "msgid": "m1_1715000000000_external",
        "action": "send",
        "from": "zhoumin",
        "tolist": ["wmCUSTOMER1"],
        "roomid": "",
        "msgtime": 1715000000000,
        "msgtype": "text",
        "text": {"content": "你好"},
    }
    rec.update(extra)
    return rec


def reason(obj: Any) -> str:
    with pytest.raises(InvalidRecord) as info:
        parse_wecom(obj)
    return info.value.reason


# ---------------------------------------------------------------------------------------------------
# The sample


def test_every_sample_line_reads_and_parses() -> None:
    with SAMPLE.open("rb") as fp:
        lines = list(iter_lines(fp, max_line_bytes=1 << 20, max_depth=32))
    assert len(lines) == 161 and not [line for line in lines if line.error]
    parsed = [parse_wecom(line.obj) for line in lines if line.obj is not None]
    assert Counter(rec.msgtype for rec in parsed) == SAMPLE_COUNTS
    assert all(rec.known_type and rec.source == "wecom" and rec.seq is None for rec in parsed)
    assert len({rec.msgid for rec in parsed}) == 159


def test_canonical_round_trips_for_every_sample_line() -> None:
    for obj, rec in sample():
        assert orjson.loads(rec.canonical) == obj
        assert rec.canonical == orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        assert b"\n" not in rec.canonical and b": " not in rec.canonical[:20]


def test_duplicate_lines_give_identical_canonical_bytes() -> None:
    groups: dict[str, list[bytes]] = defaultdict(list)
    for _, rec in sample():
        groups[rec.msgid].append(rec.canonical)
    dups = {msgid: c for msgid, c in groups.items() if len(c) > 1}
    assert len(dups) == 2
    assert all(c[0] == c[1] for c in dups.values())
    assert by_line(50).canonical == by_line(49).canonical and by_line(86).canonical == by_line(83).canonical


def test_text_message() -> None:
    rec = by_line(1)
    assert rec.msgtype == "text" and rec.action == "send"
    assert rec.text == "各位早，本周排班表已更新，请大家核对一下"
    assert rec.sender == "xuqing" and rec.roomid.startswith("wr") and len(rec.tolist) == 3
    assert rec.msgtime_ms == json.loads(sample_lines()[0])["msgtime"]


def test_side_dealing_text_is_searchable() -> None:
    assert "转我个人支付宝" in by_line(43).text


def test_file_name_is_in_text_and_file_is_media() -> None:
    files = [rec for _, rec in sample() if rec.msgtype == "file"]
    assert "禾悦健康_5月第2周排班表.xlsx" in files[0].text
    for rec in files:
        (ref,) = rec.media
        assert ref.kind == "file" and ref.filename and ref.filename in rec.text and ref.path == "file"
    assert any(".pdf" in rec.text for rec in files) and any(".xlsx" in rec.text for rec in files)


def test_chatrecord_nested_texts() -> None:
    rec = by_line(85)
    assert rec.text.splitlines() == [
        "刘先生与禾悦优选客服的聊天记录",
        "这款破壁机质量怎么样？用久了会不会漏水",
        "您放心，7天内有任何质量问题直接给您换新的",
        "好的，那我下单了",
    ]
    assert "已经帮您约了内科何医生" in by_line(71).text


def test_mixed_text_and_image_media() -> None:
    rec = by_line(25)
    assert rec.text == "这是本月的活动海报，您可以看下～"
    (ref,) = rec.media
    assert (ref.kind, ref.md5sum, ref.size, ref.path) == (
        "image",
        "8176189184cb81ed15c6ac126adbd582",
        413,
        "mixed.item[1].content",
    )
    assert "敏感肌推荐这款纯物理防晒" in by_line(150).text and by_line(150).media[0].kind == "image"


def test_vote_title_and_items() -> None:
    start, cast = by_line(68), by_line(69)
    assert start.text.splitlines() == ["下周团购选哪款？", "破壁机", "电饭煲", "扫地机器人"]
    assert cast.text.splitlines() == ["下周团购选哪款？", "扫地机器人"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            5,
            [
                "本周三会员日｜全场家电9折",
                "到店再领小礼品",
                "AP600空气净化器 新品上市",
                "https://www.example.com/heyue/ap600",
            ],
        ),
        (30, ["禾悦美学(文三路店)", "浙江省杭州市西湖区文三路示例大厦1楼"]),
        (34, ["夏季防晒与修护沙龙", "3楼沙龙区", "会员可带一位朋友"]),
        (46, ["禾悦优选｜AP600空气净化器 到店同价", "会员专享价，支持开票", "禾悦优选商城"]),
        (60, ["AP600 滤网更换与日常保养指南", "一篇看懂", "https://www.example.com/heyue/ap600-guide"]),
        (62, ["门诊服务质量周会", "门诊3楼会议室", "请带上本周投诉与回访记录"]),
        (65, ["会员日快乐，感谢大家支持！"]),
        (73, ["复诊预约的记录", "周四17:00前整理本周3例回访案例发到群里"]),
        (74, ["防晒沙龙报名表", "https://doc.weixin.qq.com/sheet/e3_SAMPLEsalonSignup0511"]),
        (89, ["禾悦生活", "ChenHao"]),
        (114, ["禾悦优选·滨江会员福利群", "扫地机器人团购接龙", "购买台数", "方便收货时间"]),
        (135, ["林某某_全景片_20240422.pdf"]),
        (136, ["根管治疗与种植方案对比.pdf"]),
    ],
)
def test_reviewer_text_per_type(line: int, expected: list[str]) -> None:
    text = by_line(line).text
    for part in expected:
        assert part in text


def test_markdown_content_without_font_tags() -> None:
    rec = by_line(118)
    assert rec.msgtype == "markdown"
    assert "口腔科：孙杰" in rec.text and "<font" not in rec.text and "今日排班提醒" in rec.text


def test_types_without_text() -> None:
    for msgtype in ("image", "voice", "video", "emotion", "revoke", "agree", "disagree", "switch"):
        assert first(msgtype).text == ""


def test_media_refs_match_the_media_files() -> None:
    """Every sdkfileid the parser finds has its file, with the md5 and size the message states, and
    every file in media/ is referenced."""
    refs = {ref.sdkfileid: ref for _, rec in sample() for ref in rec.media}
    assert set(refs) == {p.name for p in MEDIA.iterdir()}
    kinds = Counter(ref.kind for ref in refs.values())
    assert kinds == {
        "image": 9,
        "voice": 3,
        "file": 4,
        "emotion": 2,
        "video": 1,
        "meeting_voice_call": 1,
        "voip_doc_share": 1,
    }
    for ref in refs.values():
        data = (MEDIA / ref.sdkfileid).read_bytes()
        if ref.kind == "meeting_voice_call":
            assert ref.md5sum is None and ref.size is None
            continue
        assert ref.md5sum == hashlib.md5(data).hexdigest()
        assert ref.size == len(data)


def test_recalls_point_at_the_recalled_line() -> None:
    for recall_line, original_line in [(23, 22), (44, 43), (81, 80), (102, 101)]:
        recall = by_line(recall_line)
        assert recall.action == "recall" and recall.msgtype == "revoke"
        assert recall.recall_target == by_line(original_line).msgid
    assert all(rec.recall_target is None for _, rec in sample() if rec.msgtype != "revoke")


def test_consent_agree_and_disagree() -> None:
    agree = by_line(10)
    assert agree.consent == ("wmHy7QcDAATTBXSjuZkaTUr6uyUCuEcR", "agree", 1714960907907)
    disagree = by_line(32)
    assert disagree.consent == ("woHy7QcDAAtK25kxzQaclLGnh45bt6ls", "disagree", 1715045415505)
    assert [rec.consent[1] for _, rec in sample() if rec.consent] == ["agree", "disagree", "agree"]


def test_disagree_uses_disagree_time() -> None:
    rec = parse_wecom(base(msgtype="disagree", disagree={"userid": "wmX", "disagree_time": 1715000000123}))
    assert rec.consent == ("wmX", "disagree", 1715000000123)
    # A wrapper that reuses its agree model for disagree writes agree_time: accepted as a fallback.
    rec = parse_wecom(base(msgtype="disagree", disagree={"userid": "wmX", "agree_time": "1715000000456"}))
    assert rec.consent == ("wmX", "disagree", 1715000000456)
    # Neither: the record's own time; no userid: the sender.
    rec = parse_wecom(base(msgtype="agree", agree={}, **{"from": "wmY"}))
    assert rec.consent == ("wmY", "agree", 1715000000000)


def test_switch_record() -> None:
    rec = by_line(140)
    assert (rec.action, rec.msgtype, rec.sender, rec.msgtime_ms) == (
        "switch",
        "switch",
        "sunjie",
        1715694018986,
    )
    assert (rec.tolist, rec.roomid, rec.text, rec.media) == ((), "", "", ())
    assert orjson.loads(rec.canonical) == {
        "msgid": "776465510765001489257",
        "action": "switch",
        "time": 1715694018986,
        "user": "sunjie",
    }


def test_switch_needs_user_and_time() -> None:
    assert reason({"msgid": "s1", "action": "switch", "time": 1715694018986}) == "missing:user"
    assert reason({"msgid": "s1", "action": "switch", "user": "sunjie"}) == "missing:time"
    assert reason({"msgid": "s1", "action": "switch", "user": "sunjie", "time": "later"}) == "wrong_type:time"


def test_meeting_voice_call_has_no_roomid() -> None:
    rec = by_line(135)
    assert rec.roomid == "" and rec.tolist == ("wmHy7QcDAAVA3gUhHECQerPNrYGMReD7",)


# ---------------------------------------------------------------------------------------------------
# Types and layouts the sample does not have


def test_unknown_msgtype_is_kept_with_best_effort_text() -> None:
    rec = parse_wecom(
        base(
            msgtype="hologram",
            text=None,
            hologram={
                "caption": "新品发布",
                "nested": {"note": "限时"},
                "userid": "zhoumin",
                "sdkfileid": "SDK1",
                "md5sum": "0" * 32,
                "filesize": "12",
            },
        )
    )
    assert not rec.known_type and rec.msgtype == "hologram"
    assert rec.text.splitlines() == ["新品发布", "限时"]
    assert [(m.kind, m.size, m.path) for m in rec.media] == [("hologram", 12, "hologram")]
    bare = parse_wecom(base(msgtype="voiptext", voiptext={"callduration": 10, "invitetype": 1}))
    assert not bare.known_type and bare.text == ""
    none = parse_wecom(base(msgtype="qydiskfile"))
    assert not none.known_type and none.text == ""


def test_vote_accepts_a_nested_vote_object() -> None:
    rec = parse_wecom(
        base(
            msgtype="vote",
            vote={"votetitle": "选哪天", "voteitem": ["周一", "周二"], "votetype": 101, "voteid": "v1"},
        )
    )
    assert rec.text.splitlines() == ["选哪天", "周一", "周二"]
    # a re-serialiser that writes every payload key, null when unused
    rec = parse_wecom(base(msgtype="vote", vote=None, votetitle="选哪天", voteitem=["周一"]))
    assert rec.text.splitlines() == ["选哪天", "周一"]


def test_external_redpacket_and_sphfeed() -> None:
    rec = parse_wecom(base(msgtype="external_redpacket", redpacket={"type": 1, "wish": "恭喜发财"}))
    assert rec.known_type and rec.text == "恭喜发财"
    rec = parse_wecom(
        base(msgtype="sphfeed", sphfeed={"feed_type": 4, "sph_name": "禾悦生活", "feed_desc": "新店开业"})
    )
    assert rec.known_type and rec.text.splitlines() == ["禾悦生活", "新店开业"]


def test_payload_under_the_msgtype_name_is_accepted() -> None:
    rec = parse_wecom(base(msgtype="docmsg", docmsg={"title": "报价单", "link_url": "https://doc.example/x"}))
    assert rec.text.splitlines() == ["报价单", "https://doc.example/x"]


def _chatrecord_item(kind: str, payload: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "msgtime": 1714618992,
        "content": json.dumps(payload, ensure_ascii=False),
        "from_chatroom": False,
        **extra,
    }


def test_chatrecord_with_every_item_kind_and_nested_chatrecords() -> None:
    inner = {
        "title": "内层记录",
        "item": [
            _chatrecord_item("ChatRecordText", {"content": "内层文字"}),
            _chatrecord_item("ChatRecordImage", {"md5sum": "a" * 32, "filesize": 10, "sdkfileid": "IMG2"}),
        ],
    }
    items: list[Any] = [
        _chatrecord_item("ChatRecordText", {"content": "第一句"}),
        _chatrecord_item(
            "ChatRecordFile",
            {
                "md5sum": "b" * 32,
                "filename": "合同.pdf",
                "fileext": "pdf",
                "filesize": "2048",
                "sdkfileid": "FILE1",
            },
        ),
        _chatrecord_item(
            "ChatRecordLink",
            {"title": "链接标题", "description": "链接描述", "link_url": "https://example.com/a"},
        ),
        _chatrecord_item("ChatRecordLocation", {"title": "门店", "address": "文三路"}),
        _chatrecord_item(
            "ChatRecordMixed",
            {
                "item": [
                    {"type": "text", "content": json.dumps({"content": "混合文字"}, ensure_ascii=False)},
                    {
                        "type": "image",
                        "content": json.dumps({"md5sum": "", "filesize": 5, "sdkfileid": "IMG3"}),
                    },
                ]
            },
        ),
        _chatrecord_item("chatrecord", inner),
        _chatrecord_item("ChatRecordVideo", {"md5sum": "c" * 32, "filesize": 9, "sdkfileid": "VID1"}),
        {"type": "ChatRecordText", "content": "not json at all"},
        {"type": "ChatRecordText", "content": None},
        "not an item",
    ]
    rec = parse_wecom(base(msgtype="chatrecord", text=None, chatrecord={"title": "外层记录", "item": items}))
    for part in [
        "外层记录",
        "第一句",
        "合同.pdf",
        "链接标题",
        "链接描述",
        "https://example.com/a",
        "门店",
        "文三路",
        "混合文字",
        "内层记录",
        "内层文字",
        "not json at all",
    ]:
        assert part in rec.text
    media = {m.sdkfileid: m for m in rec.media}
    assert (
        media["FILE1"].kind == "file"
        and media["FILE1"].filename == "合同.pdf"
        and media["FILE1"].size == 2048
    )
    assert media["FILE1"].path == "chatrecord.item[1].content"
    assert media["IMG3"].path == "chatrecord.item[4].content.item[1].content" and media["IMG3"].md5sum is None
    assert media["IMG2"].path == "chatrecord.item[5].content.item[1].content"
    assert media["VID1"].kind == "video"
    assert orjson.loads(rec.canonical)["chatrecord"]["item"][0]["content"] == items[0]["content"]


def test_deeply_nested_chatrecords_stop_at_the_nesting_cap() -> None:
    # As JSON strings each level doubles the escaping, so a line cap bounds real nesting; decoded
    # (dict) contents have no such bound, hence the parser's own cap.
    payload: dict[str, Any] = {"title": "level-0", "item": []}
    for level in range(1, 40):
        payload = {"title": f"level-{level}", "item": [{"type": "chatrecord", "content": payload}]}
    rec = parse_wecom(base(msgtype="chatrecord", chatrecord=payload))
    titles = rec.text.splitlines()
    assert titles[0] == "level-39" and len(titles) == MAX_NESTING + 1


def test_mixed_items_may_be_already_decoded() -> None:
    rec = parse_wecom(
        base(
            msgtype="mixed",
            mixed={
                "item": [
                    {"type": "text", "content": {"content": "已解码"}},
                    {
                        "type": "emotion",
                        "content": {"type": 1, "imagesize": 30, "md5sum": "d" * 32, "sdkfileid": "EMO1"},
                    },
                    {
                        "type": "file",
                        "content": json.dumps({"filename": "a.xlsx", "filesize": 3, "sdkfileid": "F9"}),
                    },
                    {"type": "sticker3d", "content": json.dumps({"caption": "新表情", "sdkfileid": "S3"})},
                ]
            },
        )
    )
    assert rec.text.splitlines() == ["已解码", "a.xlsx", "新表情"]
    assert [(m.kind, m.path) for m in rec.media] == [
        ("emotion", "mixed.item[1].content"),
        ("file", "mixed.item[2].content"),
        ("sticker3d", "mixed.item[3].content"),
    ]


def test_vendor_reserialisation_with_strings_and_null_payload_keys() -> None:
    """The shape a SCRM vendor pushes: numbers as strings, every payload key present and null except
    the one in use, tolist as a plain string, extra fields."""
    obj = {
        "id": None,
        "corpid": "wwCORP",
        "msgid": "4538_1691386670520_external",
        "seq": "25825",
        "action": "send",
        "from": "wmCUSTOMER",
        "from_avatar": None,
        "roomid": "",
        "tolist": "WangDaKeAi",
        "msgtime": "1691386666454",
        "msgtype": "file",
        "content": "",
        "user": None,
        "time": None,
        "text": None,
        "image": None,
        "vote": None,
        "is_grp": "false",
        "file": {
            "sdkfileid": "CoME+/x==",
            "md5sum": "dba562ac49757cbb9b9079d686076a87",
            "filename": "8.7预开票差额.xls",
            "fileext": "xls",
            "filesize": "32768",
            "attachment": None,
        },
    }
    rec = parse_wecom(obj)
    assert (rec.seq, rec.msgtime_ms, rec.tolist) == (25825, 1691386666454, ("WangDaKeAi",))
    assert rec.text == "8.7预开票差额.xls"
    assert rec.media[0].size == 32768 and rec.media[0].sdkfileid == "CoME+/x=="
    assert orjson.loads(rec.canonical) == obj


def test_seq_wrapper_forms() -> None:
    inner = base()
    flat = parse_wecom({"seq": 196, **inner})
    nested = parse_wecom({"seq": 196, "msgid": inner["msgid"], "publickey_ver": 3, "msg": inner})
    as_string = parse_wecom({"seq": "196", "msgid": inner["msgid"], "msg": json.dumps(inner)})
    plain = parse_wecom(inner)
    for rec in (flat, nested, as_string):
        assert rec.seq == 196
        assert (rec.msgid, rec.text, rec.msgtime_ms) == (plain.msgid, plain.text, plain.msgtime_ms)
    assert orjson.loads(nested.canonical)["publickey_ver"] == 3  # the original, wrapper and all
    no_inner_id = {k: v for k, v in inner.items() if k != "msgid"}
    assert parse_wecom({"seq": 7, "msgid": inner["msgid"], "message": no_inner_id}).msgid == inner["msgid"]


def test_seq_wrapper_errors() -> None:
    inner = base()
    assert reason({"seq": 1, "msgid": "other", "msg": inner}) == "msgid_mismatch"
    assert reason({"seq": "x", **inner}) == "wrong_type:seq"
    assert reason({"seq": -1, **inner}) == "out_of_range:seq"
    assert reason({"seq": 1, "msg": [inner]}) == "wrong_type:msg"
    assert reason({"seq": 1, "msg": "{not json"}) == "invalid_json:msg"
    envelope = {
        "seq": 196,
        "msgid": "CAQQ",
        "publickey_ver": 3,
        "encrypt_random_key": "k",
        "encrypt_chat_msg": "c",
    }
    assert reason(envelope) == "not_decrypted"


def test_tolerated_variations() -> None:
    rec = parse_wecom(base(msgtime="1715000000000", roomid=None, tolist=None))
    assert (rec.msgtime_ms, rec.roomid, rec.tolist) == (1715000000000, "", ())
    assert parse_wecom(base(msgtime=1715000000)).msgtime_ms == 1715000000000  # seconds, by magnitude
    assert parse_wecom(base(msgtime=1715000000000.0)).msgtime_ms == 1715000000000
    rec = parse_wecom(
        {k: v for k, v in base(msgtype="revoke", revoke={"pre_msgid": "m0"}).items() if k != "action"}
    )
    assert rec.action == "recall" and rec.recall_target == "m0"
    assert parse_wecom(base(msgtype="revoke", revoke={})).recall_target is None
    assert parse_wecom(base(text={"content": 12345})).text == "12345"
    assert parse_wecom(base(text={})).text == ""
    img = parse_wecom(base(msgtype="image", image={"md5sum": "", "filesize": "x", "sdkfileid": "S"}))
    assert (img.media[0].md5sum, img.media[0].size) == (None, None)
    assert parse_wecom(base(msgtype="image", image={"md5sum": "a" * 32})).media == ()
    assert parse_wecom(base(extra_field={"anything": [1, 2]})).known_type


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"msgid": None}, "missing_msgid"),
        ({"msgid": ""}, "missing_msgid"),
        ({"msgid": 123}, "wrong_type:msgid"),
        ({"msgid": "x" * 257}, "too_long:msgid"),
        ({"msgtime": "soon"}, "wrong_type:msgtime"),
        ({"msgtime": 1.5}, "wrong_type:msgtime"),
        ({"msgtime": True}, "wrong_type:msgtime"),
        ({"msgtime": None}, "missing:msgtime"),
        ({"msgtime": -5}, "out_of_range:msgtime"),
        ({"msgtime": 10**16}, "out_of_range:msgtime"),
        ({"from": 42}, "wrong_type:from"),
        ({"from": ""}, "missing:from"),
        ({"from": "u" * 129}, "too_long:from"),
        ({"tolist": 5}, "wrong_type:tolist"),
        ({"tolist": ["a", 5]}, "wrong_type:tolist"),
        ({"tolist": ["w" * 129]}, "too_long:tolist"),
        ({"roomid": 7}, "wrong_type:roomid"),
        ({"action": 1}, "wrong_type:action"),
        ({"msgtype": None}, "missing:msgtype"),
        ({"msgtype": ["text"]}, "wrong_type:msgtype"),
        ({"msgtype": "t" * 41}, "too_long:msgtype"),
        ({"text": None}, "null_payload:text"),
        ({"text": "hello"}, "wrong_type:text"),
        ({"msgtype": "image"}, "missing_payload:image"),
        ({"msgtype": "docmsg", "doc": None}, "null_payload:doc"),
        ({"msgtype": "revoke", "revoke": {"pre_msgid": "p" * 257}}, "too_long:revoke.pre_msgid"),
        ({"msgtype": "agree", "agree": {"userid": 5}}, "wrong_type:agree.userid"),
        (
            {"msgtype": "agree", "agree": {"userid": "wm", "agree_time": "soon"}},
            "wrong_type:agree.agree_time",
        ),
    ],
)
def test_bad_records_are_rejected_with_a_reason(change: dict[str, Any], expected: str) -> None:
    assert reason(base(**change)) == expected


def test_missing_msgid_key() -> None:
    obj = base()
    del obj["msgid"]
    assert reason(obj) == "missing_msgid"


def test_not_an_object_and_not_canonical() -> None:
    assert reason([base()]) == "not_object"
    assert reason(base(text={"content": float("nan")})) == "not_canonical"
    assert reason(base(extra=2**70)) == "not_canonical"
    assert reason(base(text={"content": 10**5000})) == "not_canonical"  # str() of it would raise


def test_overlong_numeric_strings_are_wrong_type_not_a_crash() -> None:
    assert reason(base(msgtime="9" * 5000)) == "wrong_type:msgtime"
    assert reason(base(msgtime="١٧١٥٠٠٠٠٠٠٠٠٠")) == "wrong_type:msgtime"  # ASCII digits only
    big = parse_wecom(base(msgtype="image", image={"sdkfileid": "S", "filesize": "9" * 5000}))
    assert big.media[0].size is None


# ---------------------------------------------------------------------------------------------------
# Properties: whatever the input, the outcome is a record or InvalidRecord, never another exception.

json_scalar = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: pushed (HTTP) records may carry integers past 64 bits
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "msgid",
        "action",
        "from",
        "tolist",
        "roomid",
        "msgtime",
        "msgtype",
        "seq",
        "msg",
        "time",
        "user",
        "text",
        "image",
        "revoke",
        "agree",
        "disagree",
        "vote",
        "votetitle",
        "voteitem",
        "chatrecord",
        "mixed",
        "info",
        "doc",
        "file",
        "meeting_voice_call",
    ]
)


def _outcome(obj: Any) -> None:
    try:
        rec = parse_wecom(obj)
    except InvalidRecord as exc:
        assert exc.reason and len(exc.reason) <= 128
        return
    assert orjson.loads(rec.canonical) == obj
    assert isinstance(rec.text, str) and isinstance(rec.msgtime_ms, int)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=st.dictionaries(field_names, json_value, max_size=8))
def test_arbitrary_objects_never_crash(obj: dict[str, Any]) -> None:
    _outcome(obj)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.integers(0, 160), key=st.text(max_size=12) | field_names, value=json_value, drop=st.booleans())
def test_mutated_sample_records_never_crash(line: int, key: str, value: Any, drop: bool) -> None:
    obj = json.loads(sample_lines()[line])
    mutated = copy.deepcopy(obj)
    target = mutated
    payload = mutated.get(mutated.get("msgtype", ""))
    if isinstance(payload, dict) and key.startswith(("m", "t", "c", "s", "f")):
        target = payload  # also reach inside the payload
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    _outcome(mutated)


@settings(max_examples=100, deadline=None)
@given(
    content=st.text(max_size=30), kind=st.sampled_from(["text", "image", "file", "chatrecord", "mixed", "x"])
)
def test_arbitrary_nested_item_content_never_crashes(content: str, kind: str) -> None:
    _outcome(base(msgtype="mixed", mixed={"item": [{"type": kind, "content": content}]}))
    _outcome(base(msgtype="chatrecord", chatrecord={"item": [{"type": kind, "content": content}]}))
