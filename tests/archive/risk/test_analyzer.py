"""The analyser in context: evasions, negations and disclaimers, official channels, sender roles,
scoped and allow-listed rules, word boundaries, hot reload. Examples are written for these tests."""

from __future__ import annotations

import pytest

from archive.risk.analyzer import Analyzer
from archive.risk.lexicon import Lexicon, LexiconHolder

A = Analyzer.default()


def labels(text: str, role: str = "employee") -> list[str]:
    return A.scan_message(text, role).labels


@pytest.mark.parametrize(
    ("text", "role", "label"),
    [
        ("这笔尾款你直接转我个人支付宝就好", "employee", "side_dealing"),
        ("這筆錢轉到我個人帳戶，公司系統走不了", "employee", "side_dealing"),  # Traditional
        ("这单别在柜台下单了，钱直接给我", "employee", "side_dealing"),
        ("加我 薇 信 聊", "employee", "contact_diversion"),  # homophone + spacing
        ("以后加我ＶＸ：ｓａｌｅｓ＿ｌｅｅ８８", "employee", "contact_diversion"),  # full-width
        ("我私人手机 一八六 六八一二 七零五三 有事打我", "employee", "contact_diversion"),  # numerals
        ("合同签了，给您的 hui kou 另算", "employee", "bribery"),  # pinyin
        ("签了这单回😀扣少不了你的", "employee", "bribery"),  # emoji
        ("这款基金保本保息，稳赚的", "employee", "guaranteed_return"),
        ("报我们的班保证提分三十分", "employee", "guaranteed_return"),
        ("麻烦把手机收到的yan zheng ma发我一下", "employee", "pii_leak"),
        ("你们就是一群废物", "customer", "abuse"),
        ("再不退款我就去消协投诉", "customer", "complaint"),
        ("明天我去银保监会举报你们", "customer", "complaint"),
    ],
)
def test_positives(text: str, role: str, label: str) -> None:
    assert label in labels(text, role)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("按规定我们不能私下收款，请在官方商城付款", "employee"),  # negation
        ("我们不承诺任何收益，投资有风险", "employee"),  # disclaimer
        ("请把款项打到合同上的对公账户", "employee"),  # official channel
        ("任何让您私下转账的都不是我们官方行为，谨防受骗", "employee"),  # warning
        ("工作人员不会索要您的验证码，请勿告诉他人", "employee"),
        ("我们保证周五前发货", "employee"),  # 保证 about delivery
        ("有问题可以拨打400热线，或者在官方App里投诉", "employee"),  # the employee names the channel
        ("不是投诉哈，就是想问问进度", "customer"),
        ("公司统一给所有会员发了新春红包", "employee"),
        ("你们家的垃圾袋很结实", "customer"),
        ("快递单号 SF1234567890123，请查收", "employee"),
    ],
)
def test_hard_negatives(text: str, role: str) -> None:
    assert labels(text, role) == []


def test_sender_role_matters() -> None:
    assert "complaint" in labels("我要去12315投诉", "customer")
    assert "complaint" not in labels("12315投诉的事已经处理完了", "employee")


def test_findings_point_at_original_text() -> None:
    text = "亲，加我 微 - 信 聊"
    (f,) = [f for f in A.scan_message(text, "employee").findings if f.category == "contact_diversion"][:1]
    assert "微" in text[f.span[0] : f.span[1]]
    assert f.tier == 2


def _lexicon(**rule: object) -> Lexicon:
    base = {"id": "t.rule", "category": "abuse", "match": "exact", "terms": ["蓝莓派"]}
    return Lexicon.from_json({"version": "t-1", "rules": [{**base, **rule}]})


def test_scoped_rule() -> None:
    a = Analyzer(_lexicon(employees=["zhoumin"]))
    assert a.scan_message("蓝莓派", "employee", employee="zhoumin").labels == ["abuse"]
    assert a.scan_message("蓝莓派", "employee", employee="lina").labels == []


def test_allow_list_suppresses_in_context() -> None:
    a = Analyzer(_lexicon(allow=["菜单"]))
    assert a.scan_message("你这个蓝莓派", "customer").labels == ["abuse"]
    assert a.scan_message("菜单上的蓝莓派", "customer").labels == []


def test_tier_override() -> None:
    a = Analyzer(_lexicon(tier=3))
    assert a.scan_message("蓝莓派").findings[0].tier == 3


def test_fuzzy_rule_gets_generated_variants() -> None:
    a = Analyzer(_lexicon(match="fuzzy", terms=["回扣"]))
    for form in ("回扣", "回 扣", "huikou", "hui扣", "回口"):
        assert a.scan_message(form).labels == ["abuse"], form


def test_word_boundary_rule() -> None:
    a = Analyzer(_lexicon(terms=["保本"], word_boundary=True))
    assert a.scan_message("这个产品保本").labels == ["abuse"]
    assert a.scan_message("确保本月底前交货").labels == []  # 保本 straddles 确保|本月


def test_hot_reload_swaps_rules() -> None:
    holder = LexiconHolder(_lexicon())
    a = Analyzer(holder)
    assert a.scan_message("樱桃挞").labels == []
    holder.swap(_lexicon(terms=["樱桃挞"]))
    assert a.scan_message("樱桃挞").labels == ["abuse"]
    assert a.scan_message("蓝莓派").labels == []


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        ("学费直接微信转我就行，不用走学校账户，能便宜300", "employee", ["side_dealing"]),
        ("别在4S店签了，我朋友的店里同款车便宜一万", "employee", ["side_dealing"]),
        ("你把银行卡正反面拍照发我，我帮你绑定", "employee", ["pii_leak"]),
        ("这个基金我自己也买了，保证年化15%以上", "employee", ["guaranteed_return"]),
        ("这个理财产品不保本，历史收益不代表未来", "employee", []),
        ("您的贷款申请材料需要在网点柜台提交，不用在这里发", "employee", []),
        ("学校统一收费，请通过家校通缴费，不收现金", "employee", []),
        ("维修完成了，您可以随时来取车，保修期一年", "employee", []),
    ],
)
def test_other_industries(text: str, role: str, expected: list[str]) -> None:
    assert labels(text, role) == expected


# General defects found on the held-out probes (sentences written for these tests).


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        # a warning against guaranteed returns is a disclaimer, not a promise; a sales pitch still counts
        ("有人跟您说保本高息的产品，千万别信", "employee", []),
        ("这只基金稳赚的，千万别错过", "employee", ["guaranteed_return"]),
        # a verdict after the term ("… is illegal / not allowed") makes the message a disclaimer
        ("拿供应商的好处费是违法的，我们不碰", "employee", []),
        ("私下收客户的钱是公司不允许的", "employee", []),
        ("这个不是违规的，钱直接转我个人卡", "employee", ["side_dealing"]),
        ("红包是违规的吗？给您包个红包，多关照", "customer", ["bribery"]),
        # a family red packet is not a bribe; one offered to the other party for a favour is
        ("外婆给我包了个红包压岁", "customer", []),
        ("这事您多关照，给您包个红包", "customer", ["bribery"]),
        ("合同敲定以后，红包少不了您的", "employee", ["bribery"]),
        # a personal cut demanded by the buyer, and a rebate with the recipient before the verb
        ("订单都给你们，但每单要给我个人留两个点", "customer", ["bribery"]),
        ("这批货您定了，给您返五个点", "employee", ["bribery"]),
        ("会员日下单给您返5%的积分", "employee", []),
        # other verbs for taking a complaint to a regulator
        ("这些照片我会递交到市场监管部门", "customer", ["complaint"]),
    ],
)
def test_held_out_defects(text: str, role: str, expected: list[str]) -> None:
    assert labels(text, role) == expected


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        # money to a relative's or friend's account; a fee handed straight to the employee
        ("押金你打到我老公的支付宝上，我这边登记", "employee", ["side_dealing"]),
        ("保养费直接给我就行，不用去前台排队了", "employee", ["side_dealing"]),
        ("我周末私下给你家孩子补两节，便宜点", "employee", ["side_dealing"]),
        # a friend's or relative's business of any kind, the pointer to it past a comma
        ("我姐自己开了个驾校，学费少一千，报名直接找她", "employee", ["side_dealing"]),
        ("我同学的维修中心换屏便宜不少", "employee", ["side_dealing"]),
        # a qualifier before the platform; a QQ number in Chinese numerals
        ("有事加我备用微信，这个号快满了", "employee", ["contact_diversion"]),
        ("扣扣 幺二三四五六七八九，晚上找我", "employee", ["contact_diversion"]),
        # transferring to a personal WeChat is a payment, not a contact
        ("首付款转我个人微信，我帮你走内部流程", "employee", ["side_dealing"]),
        # a share of the proceeds offered to a person
        ("贷款批下来分你三个点，别跟别人说", "customer", ["bribery"]),
        # put-downs without a swear word
        ("什么破驾校，教练跟个土匪一样", "customer", ["abuse"]),
        ("就你也配跟我谈价格", "customer", ["abuse"]),
        ("滚，别再给我发短信了", "customer", ["abuse"]),
        # health claims: a guaranteed measurement, a cure that never comes back
        ("这个疗程保证降血糖", "employee", ["guaranteed_return"]),
        ("我们的方子根治不复发", "employee", ["guaranteed_return"]),
        # trigger words in harmless use: consequences stated after the term, a courier's surcharge,
        # fiction, waste
        ("收客户好处费的，一经查实会被直接辞退", "employee", []),
        ("楼层高的话师傅上楼要收二十块辛苦费", "employee", []),
        ("那个综艺里的嘉宾简直是个神经病角色，笑死", "customer", []),
        ("医疗废物我们有专门的公司清运", "employee", []),
    ],
)
def test_general_defects_of_the_second_held_out_set(text: str, role: str, expected: list[str]) -> None:
    assert labels(text, role) == expected


def test_full_width_punctuation_in_patterns_is_what_the_analyser_sees() -> None:
    """Patterns are written with Chinese punctuation; the text they run over is NFKC (，→,): a clause
    window `[^，。]` must stop at a comma, and a literal ， must match one."""
    from archive.risk.lexicon import LexiconData

    base = Lexicon.default().data.model_dump()
    base["rules"] = [
        {"id": "t.window", "category": "abuse", "match": "regex", "terms": ["猫[^，。]{0,6}狗"]},
        {"id": "t.literal", "category": "complaint", "match": "regex", "terms": ["鸟，鱼"]},
    ]
    a = Analyzer(LexiconHolder(Lexicon(LexiconData.model_validate(base))))
    assert a.scan_message("猫追狗", "customer").labels == ["abuse"]
    assert a.scan_message("猫在跑，狗在叫", "customer").labels == []
    assert a.scan_message("鸟，鱼", "customer").labels == ["complaint"]


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        # a term typed inside a whole sentence of pinyin: word breaks come from the original spaces
        ("zai bu tui qian wo jiu tousu", "customer", ["complaint"]),
        ("ni jiu shi ge sb", "customer", ["abuse"]),
        ("ba shou dao de yanzhengma gaosu wo", "employee", ["pii_leak"]),
        ("wo men bu bao ben", "employee", []),  # negated in pinyin
        # English words stay whole: no term inside or next to one
        ("the usb port is loose", "customer", []),
        ("our LBS service is down", "customer", []),
    ],
)
def test_whole_sentence_pinyin(text: str, role: str, expected: list[str]) -> None:
    assert labels(text, role) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你们再这样我就举抱到监管部门", ["complaint"]),  # 抱 for 报, from the confusable table
        ("这种事就该让媒体暴光", ["complaint"]),
        ("谁不想一举暴富呢", []),
        ("据报道明天降温", []),
    ],
)
def test_homophones_of_report(text: str, expected: list[str]) -> None:
    assert labels(text, "customer") == expected


def test_preloaded_analyser_builds_nothing_on_first_scans_and_finds_the_same() -> None:
    """The importer preloads before forking its workers, so that they share what a scan builds on first
    use instead of each building (and copying) its own."""
    from archive.risk import normalize as norm

    texts = [
        ("签了这单回😀扣少不了你的", "employee"),
        ("你们就是一群废物", "customer"),
        ("好的，收到", "employee"),
    ]
    expected = [Analyzer(Lexicon.default()).scan_message(t, r).findings for t, r in texts]
    for cached in (norm._fast_deleted, norm._deleted):
        cached.cache_clear()
    preloaded = Analyzer(Lexicon.from_json(Lexicon.default().to_json()))
    preloaded.preload()
    matchers = dict(preloaded.lexicon._matchers)
    tables = (norm._fast_deleted.cache_info().currsize, norm._deleted.cache_info().currsize)
    assert set(matchers) == {"employee", "customer"} and tables == (2, 1)
    assert [preloaded.scan_message(t, r).findings for t, r in texts] == expected
    assert preloaded.lexicon._matchers == matchers
    assert (norm._fast_deleted.cache_info().currsize, norm._deleted.cache_info().currsize) == tables
