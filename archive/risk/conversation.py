"""The conversation scorer: risks that only show when several messages are read together.

Each message is reduced to derived SIGNALS (e.g. "asked for an SMS code", "bare 6-digit reply",
"named the payee as themselves", "no invoice"); rules combine signals inside a sliding window of recent
messages of one room. `ConversationState` keeps that window for streaming ingest as signals, so scoring a
new message never decrypts history. The one exception is short all-digit fragments (a card number typed
in pieces): they are kept in memory only, never serialised, and expire with the window."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick_rs

from archive.risk.analyzer import Analyzer, Finding
from archive.risk.detectors import card_like, has_phone, id_check_ok
from archive.risk.lexicon import DEFAULT_TIERS, as_compacted, gate_literals
from archive.risk.normalize import compact

WINDOW = 8

SIGNALS: dict[str, re.Pattern[str]] = {
    "code_request": re.compile(r"短信|验证码|校验码|回复在这里|回这里|发这里|发我就行|[46六四]位|收到的数字"),
    "pay_channel": re.compile(
        r"扫[^，。]{0,6}码|收款码|这个码|转(?:给)?我|付(?:给)?我|打给我|转账给我|(?:发|交|给)(?:给)?我就(?:行|好|可以)"
    ),
    "payee_question": re.compile(r"收款(?:人|方)|显示(?:的)?(?:是)?(?:谁|名字)|怎么显示|是谁的"),
    "self_payee": re.compile(r"就是我|是我本人|是我的|我个人的|我的码|我自己的"),
    "no_invoice": re.compile(
        r"开不了|不开票|没有发票|没发票|不能开票|开不出|不带票|(?:合同|收据)(?:就|也)?(?:不签|不用签|签不了|不开|开不了|免了)|"
        r"不(?:用)?签合同|没(?:有)?合同|不用合同|(?:就|也|都)不(?:用|必|需要)?签了|"
        r"不(?:开|出|走|打)单|没(?:有)?单据|不给(?:开)?票|白条|手写(?:的)?(?:收据|单)"
    ),
    "invoice_question": re.compile(r"发票|开票|合同|收据|凭证"),
    "friend": re.compile(
        r"朋友|亲戚|表弟|表哥|表姐|表妹|堂哥|堂弟|堂姐|堂妹|老婆|老公|爱人|对象|家里人|熟人|老乡|发小|同学|"
        r"另一家|认识的人"
    ),
    # someone (a colleague, an acquaintance) running their own business the customer is pointed to
    "own_business": re.compile(
        r"自己(?:出来|出去|在外面)?(?:开|办|做|弄)了?(?:个|一个|家|一家)?[^，。]{0,6}"
        r"(?:店|公司|厂|班|工作室|诊所|机构|车行|门店|档口|培训|中心)|(?:出来|出去)(?:单干|自己干)"
    ),
    "friend_deal": re.compile(
        r"跟(?:他|她)签|找(?:他|她)|(?:他|她)那(?:边|里)?(?:买|拍|签|做)|没有我们(?:公司)?的牌子|不走公司|私下|"
        r"(?:钱|费|款|定金|订金|尾款|学费|货款)[^，。]{0,4}(?:转|打|付|交|给)(?:给)?(?:他|她)(?!们)|"
        r"(?:转账|付款|打款|转钱)给(?:他|她)(?!们)"
    ),
    "bribe_hint": re.compile(
        r"懂规矩|老规矩|意思一下|意思意思|(?:你|您)懂的|懂的都懂|(?:您|你)个人这边|表示一下|表示表示|心意|好处|不会亏待|亏待不了|少不了(?:您|你)的|(?:您|你)(?:的)?那份|心里有数"
    ),
    "money": re.compile(
        r"[0-9]+(?:个)?点|打到(?:您|你)|(?:您|你)说的(?:那个)?账户|转了(?:个)?[0-9]+|[0-9]+块|红包|现金|"
        r"每(?:一)?(?:车|单|吨|件|台|盒|张|批)[^，。]{0,8}[0-9一二两三四五六七八九十百千]+"
    ),
    # thanks for a favour kept in mind, and an amount set aside for "you": together, a cut for the buyer
    "appreciation": re.compile(r"(?:辛苦|关照|照顾|帮忙|支持)[^，。]{0,6}(?:记着|记在心|不会忘|忘不了)"),
    "cut_to_you": re.compile(
        r"(?:给|返|留|分)(?:您|你)(?:个人)?(?:留|返|分)?[0-9一二两三四五六七八九十百千]+(?:块|元|百|千|万|个点|点|%|成)"
    ),
    "gift": re.compile(
        r"转了(?:个)?[0-9]+|(?:给你|给您)(?:发|转|包)了|红包(?:已经)?(?:发|转)(?:你|给你)了|收下|意思一下"
    ),
    "favour": re.compile(
        r"调一个|调(?:个|一)|想想办法|给(?:您|你)留|插(?:个)?队|通融|特批|留一个|帮(?:您|你)弄"
    ),
    "payback_question": re.compile(
        r"回本|亏|没回本|赚不到|不赚钱|跌|保本|有风险|会不会少|"
        r"(?:收益|利息|回报|分红|收入|利润)[^，。]{0,6}(?:不到|达不到|不够|没有|少于|低于)|万一[^，。]{0,8}(?:不到|没有|少)"
    ),
    "payback_promise": re.compile(
        r"(?:差|亏|少|跌)(?:多少|几个点|一分)，?[^，。]{0,4}(?:我|我们|公司|总部)?补(?:多少|一分)?|补给(?:您|你)|兜底|包赔|"
        r"(?:总部|公司|我们|我)(?:这边)?(?:来|给(?:您|你))?(?:补|赔)(?:上|齐|足|给)|差额[^，。]{0,6}补"
    ),
    "other_app": re.compile(
        r"绿色|那个软件|那个app|另一个号|另外一个号|搜(?:一下)?(?:这个)?号|搜一下|能搜到|加的时候备注|头像是|那边发"
    ),
    "handle": re.compile(r"(?<![a-z0-9_])[a-z][a-z0-9_]{3,19}[0-9_][a-z0-9_]*(?![a-z0-9_])"),
    "not_here": re.compile(
        r"(?:这里|这边|这儿|企业微信|工作号)[^，。]{0,4}不方便|不方便(?:在这|说|聊)|私聊|细聊|单独聊|详聊|私下聊"
    ),
    "evidence": re.compile(r"截图|留着|诊断|小票|证据|录音|拍了|留了"),
    "authority": re.compile(
        r"市场监管|卫健委|消协|12315|工商|律师|法院|媒体|记者|监管所|电视台|报社|新闻|监管局|管理局|证监|银保监|"
        r"教育局|住建|房管|人社|劳动仲裁|通管局|工信部"
    ),
    "deadline": re.compile(r"明天|等到|上班前|今晚|路过|最后"),
    "compare": re.compile(r"像什么|就是那种|那种|没人要"),
}
ANIMAL_EMOJI = re.compile(
    "[\U0001f436\U0001f415\U0001f437\U0001f416\U0001f434\U0001f412\U0001f435\U0001f40d]"
)
# The patterns run over compacted text, whose sentence punctuation is ASCII (see lexicon.as_compacted).
SIGNALS = {name: re.compile(as_compacted(rx.pattern)) for name, rx in SIGNALS.items()}
_DIGIT_FRAG = re.compile(r"^([0-9]{3,10})")
_BARE_CODE = re.compile(r"^[0-9]{4,8}$")


@dataclass
class MessageSignals:
    index: int
    role: str | None
    signals: frozenset[str]
    digits: str | None = None  # in memory only (see module doc)

    def __reduce__(self) -> tuple[type[MessageSignals], tuple[int, str | None, frozenset[str], str | None]]:
        # Sent by every ingest worker for every message: positional fields unpickle in a fraction of the
        # time of a dataclass's __dict__ state (8.9 → 0.4 µs a message, 500-message batches).
        return MessageSignals, (self.index, self.role, self.signals, self.digits)


@dataclass
class ConversationState:
    window: deque[MessageSignals] = field(default_factory=lambda: deque(maxlen=WINDOW))
    fired: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """Signals only: digit fragments are deliberately not serialised."""
        return {
            "window": [{"i": m.index, "r": m.role, "s": sorted(m.signals)} for m in self.window],
            "fired": sorted(self.fired),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        state = cls()
        for m in data.get("window", []):
            state.window.append(MessageSignals(int(m["i"]), m.get("r"), frozenset(m.get("s", []))))
        state.fired = set(data.get("fired", []))
        return state


def _signal_gates() -> tuple[ahocorasick_rs.AhoCorasick, list[tuple[str, ...]], tuple[str, ...]]:
    """An Aho-Corasick automaton over the gate literals of the signal patterns (every match of a pattern
    contains one of its literals, see lexicon.gate_literals), the signals each literal gates, and the
    patterns without a gate. One pass over a message selects the few patterns worth searching; most
    messages select none. (The same library and gates as the lexicon's matcher.)"""
    names: dict[str, set[str]] = {}
    always = []
    for name, rx in SIGNALS.items():
        literals = gate_literals(rx.pattern)
        if literals is None:
            always.append(name)
            continue
        for lit in literals:
            names.setdefault(lit, set()).add(name)
    keys = list(names)
    return ahocorasick_rs.AhoCorasick(keys), [tuple(sorted(names[k])) for k in keys], tuple(always)


_GATES, _GATED, _UNGATED = _signal_gates()
# A signal without gate literals is searched for in every message. `handle` only matches from a letter
# a-z on: searching for one first (a character class the regex engine scans for directly, where the
# pattern's leading lookbehind is tried at every position) costs a quarter, and most chat has none.
_NEEDS = {"handle": re.compile("[a-z]")}


def signals_of(text: str, role: str | None, index: int, *, compacted: str | None = None) -> MessageSignals:
    """`compacted`: `compact(text)` when the caller has it already."""
    c = compacted if compacted is not None else compact(text)
    candidates = {
        name for key, _, _ in _GATES.find_matches_as_indexes(c, overlapping=True) for name in _GATED[key]
    }
    candidates.update(name for name in _UNGATED if name not in _NEEDS or _NEEDS[name].search(c))
    found = {name for name in candidates if SIGNALS[name].search(c)}
    if ANIMAL_EMOJI.search(text):
        found.add("animal")
    if _BARE_CODE.match(c):
        found.add("bare_code")
    if role == "employee" and has_phone(c):
        found.add("phone")
    digits = None
    m = _DIGIT_FRAG.match(c)
    if m and len(c) <= 20:
        digits = m.group(1)
    return MessageSignals(index, role, frozenset(found), digits)


def _has(win: Sequence[MessageSignals], sig: str, role: str | None = None) -> list[int]:
    return [m.index for m in win if sig in m.signals and (role is None or m.role == role)]


def _cross(win: Sequence[MessageSignals]) -> list[tuple[str, str, list[int]]]:
    """(category, rule, contributing message indexes) for the current window."""
    out: list[tuple[str, str, list[int]]] = []
    last = win[-1]
    present = set().union(*(m.signals for m in win))

    def has(sig: str, role: str | None = None) -> list[int]:
        # most windows hold none of a rule's signals: skip the walk over the window (≈ 20 rules a message)
        return _has(win, sig, role) if sig in present else []

    # a card or ID number typed in consecutive pieces by the same sender
    frags: list[MessageSignals] = []
    for m in reversed(win):
        if m.digits is None or m.role != last.role:
            break
        frags.insert(0, m)
    if len(frags) >= 2 and last.digits is not None:
        for k in range(2, len(frags) + 1):
            joined = "".join(f.digits or "" for f in frags[-k:])
            if (16 <= len(joined) <= 19 and card_like(joined)) or (len(joined) == 18 and id_check_ok(joined)):
                out.append(("pii_leak", "conversation.split_number", [f.index for f in frags[-k:]]))
                break
    # a bare code sent after the other side asked for the SMS / "reply here"
    if "bare_code" in last.signals:
        asks = [m.index for m in win if "code_request" in m.signals and m.role != last.role and m is not last]
        if asks:
            out.append(("pii_leak", "conversation.code_after_request", [asks[-1], last.index]))
    # payment to the employee's own QR / account, confirmed as personal or without invoice
    pay = has("pay_channel", "employee")
    personal = [
        m.index
        for m in win
        if m.role == "employee"
        and (
            ("self_payee" in m.signals and has("payee_question"))
            or ("no_invoice" in m.signals and has("invoice_question"))
        )
    ]
    if pay and personal:
        out.append(("side_dealing", "conversation.personal_payment", sorted({*pay, *personal})))
    friend = has("friend", "employee") + has("own_business", "employee")
    deal = has("friend_deal", "employee")
    if friend and deal:
        out.append(("side_dealing", "conversation.friend_deal", sorted({*friend, *deal})))
    hint = has("bribe_hint")
    money = has("money")
    if hint and money:
        out.append(("bribery", "conversation.understood_rebate", sorted({*hint, *money})))
    thanks = has("appreciation", "employee")
    cut = has("cut_to_you", "employee")
    if thanks and cut and not (hint and money):
        out.append(("bribery", "conversation.cut_for_favour", sorted({*thanks, *cut})))
    gift = has("gift", "customer")
    favour = has("favour", "employee")
    if gift and favour and max(favour) > min(gift):
        out.append(("bribery", "conversation.gift_for_favour", sorted({*gift, *favour})))
    q = has("payback_question", "customer")
    promise = has("payback_promise", "employee")
    if q and promise:
        out.append(("guaranteed_return", "conversation.payback_promise", sorted({*q, *promise})))
    phone = has("phone", "employee")
    app = has("other_app", "employee")
    if phone and app:
        out.append(("contact_diversion", "conversation.phone_other_app", sorted({*phone, *app})))
    elif app and len(app) >= 2 and has("friend_deal") == []:
        out.append(("contact_diversion", "conversation.other_account", app))
    handle = has("handle", "employee")
    hush = has("not_here", "employee") + app
    if handle and hush:
        out.append(("contact_diversion", "conversation.private_handle", sorted({*handle, *hush})))
    auth = has("authority", "customer")
    push = has("evidence", "customer") + has("deadline", "customer")
    if auth and push:
        out.append(("complaint", "conversation.regulator_threat", sorted({*auth, *push})))
    animal = has("animal")
    compare = has("compare")
    if animal and compare:
        out.append(("abuse", "conversation.animal_insult", sorted({*animal, *compare})))
    return out


def _silent(m: MessageSignals) -> bool:
    return not m.signals and m.digits is None


def advance(state: ConversationState, signals: MessageSignals) -> list[tuple[str, str, list[int]]]:
    """Add one message to the room's window; return the cross-message patterns that newly fire, each
    with the indexes of the messages that contributed."""
    window = state.window
    evicted = window[0] if len(window) == window.maxlen else None
    window.append(signals)
    if _silent(signals) and (evicted is None or _silent(evicted)):
        # Every pattern's messages carry a signal or a digit fragment, and the last message must for the
        # two that look at it: the window's signal-bearing messages are those the previous call saw, so
        # the same patterns match with the same keys, all fired already (most chat messages end here).
        return []
    if not state.fired and not any(m.signals or m.digits is not None for m in window):
        return []  # every pattern needs a signal or a digit fragment in the window
    fresh = []
    for category, rule, idxs in _cross(list(state.window)):
        key = f"{rule}:{min(idxs)}"
        if key not in state.fired:
            state.fired.add(key)
            fresh.append((category, rule, idxs))
    live = {m.index for m in state.window}
    state.fired = {k for k in state.fired if int(k.rsplit(":", 1)[1]) in live}
    return fresh


def score_conversation(analyzer: Analyzer, messages: Sequence[tuple[str, str | None]]) -> list[Finding]:
    """Per-message findings plus cross-message findings, each pointing at its message(s)."""
    findings: list[Finding] = []
    state = ConversationState()
    for i, (text, role) in enumerate(messages):
        findings.extend(analyzer.scan_message(text, role, message_index=i).findings)
        for category, rule, idxs in advance(state, signals_of(text, role, i)):
            for j in idxs:
                findings.append(
                    Finding(category, DEFAULT_TIERS[category], rule, (0, len(messages[j][0])), "", j)
                )
    return findings
