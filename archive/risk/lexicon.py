"""The lexicon is data: rules with a category, tier, match type (exact / fuzzy / regex), sender and
employee/department scope, context requirements (`near`), allow-list patterns that suppress a match in
its clause, and a version. It loads from and exports to JSON, and compiles into one Aho-Corasick automaton
plus a list of regexes over the normalised text.

Fuzzy rules get their evasion variants generated, not hand-listed: look-alike/homophone substitutions from
a small confusion table, full pinyin, per-character pinyin/hanzi mixtures and initials (pypinyin), so a
term an admin adds is covered in its evasive forms too."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import ahocorasick_rs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archive.kit.errors import ConfigurationError, InvalidInput
from archive.risk.normalize import compact

Category = Literal[
    "side_dealing", "bribery", "guaranteed_return", "contact_diversion", "pii_leak", "abuse", "complaint"
]
DEFAULT_TIERS: dict[str, int] = {
    "side_dealing": 3,
    "bribery": 3,
    "guaranteed_return": 2,
    "contact_diversion": 2,
    "pii_leak": 2,
    "abuse": 1,
    "complaint": 1,
}

# Characters commonly swapped in for each other to dodge filters (homophones and look-alikes).
CONFUSABLES: dict[str, str] = {
    "微": "薇威徽危维围v", "信": "芯心x", "支": "只知", "付": "负富副", "宝": "保包饱", "保": "宝堡报",
    "证": "正症政", "红": "鸿宏洪", "包": "苞胞", "回": "汇", "扣": "口寇", "私": "丝司死", "下": "吓",
    "转": "传专", "账": "帐涨", "傻": "煞沙啥", "逼": "比币b笔", "投": "头", "诉": "述素", "赚": "撰",
    "赔": "陪培", "验": "眼严", "码": "马吗", "卡": "咔", "号": "好", "稳": "温", "密": "蜜秘", "返": "反饭",
    "钱": "前", "现": "线", "金": "今", "款": "宽", "加": "家嘉+", "我": "窝w", "电": "点", "话": "化画",
    "报": "抱暴", "举": "巨", "曝": "暴爆", "费": "废", "律": "绿",
}  # fmt: skip


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_.:-]+$")
    category: Category
    tier: int | None = Field(default=None, ge=0, le=3)
    match: Literal["exact", "fuzzy", "regex"] = "exact"
    terms: list[str] = Field(min_length=1)
    sender: Literal["employee", "customer", "any"] = "any"
    near: list[str] = []  # regexes: at least one must occur in the same message
    allow: list[str] = []  # regexes: a match in the hit's clause (or message) suppresses it
    allow_scope: Literal["clause", "message"] = "clause"
    negatable: bool = True
    word_boundary: bool = False  # confirm with jieba that the hit is a whole word
    employees: list[str] = []  # scope: empty means everyone
    departments: list[str] = []
    enabled: bool = True
    description: str = ""

    @field_validator("near", "allow")
    @classmethod
    def _regexes_compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regex {p!r}: {exc}") from None
        return v

    @property
    def effective_tier(self) -> int:
        return self.tier if self.tier is not None else DEFAULT_TIERS[self.category]


class LexiconData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)
    negations: list[str] = []  # regexes: in the clause before a hit, they negate it
    warnings: list[str] = []  # regexes: a message that warns against a risk does not commit it
    warning_categories: list[Category] = []
    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise ValueError(f"duplicate rule id {r.id}")
            seen.add(r.id)
            if r.match == "regex":
                for p in r.terms:
                    try:
                        re.compile(p)
                    except re.error as exc:
                        raise ValueError(f"rule {r.id}: invalid regex {p!r}: {exc}") from None
        return rules


@lru_cache(maxsize=1)
def _pinyin_table() -> dict[int, str]:
    """Toneless first reading of each CJK character, from pypinyin's character table (ü as v), equal to
    `lazy_pinyin(ch, style=Style.NORMAL)` for all of U+4E00-U+9FFF (tested). Read from the data file:
    importing pypinyin loads its phrase dictionary and segmenter too, ~40 MB in every scanning process."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("pypinyin is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    table: dict[int, str] = {}
    for key, readings in json.loads(path.read_text(encoding="utf-8")).items():
        cp = int(key)
        if 0x4E00 <= cp <= 0x9FFF:
            first = unicodedata.normalize("NFD", readings.split(",")[0]).replace("u\u0308", "v")
            toneless = "".join(c for c in first if c == "\u0302" or not unicodedata.combining(c))
            table[cp] = unicodedata.normalize("NFC", toneless)
    return table


def _pinyin(ch: str) -> str:
    """A character's toneless pinyin; itself when it has none (not CJK, or no reading known)."""
    return _pinyin_table().get(ord(ch), ch) if len(ch) == 1 else ch


def variants(term: str) -> set[str]:
    """Evasive forms of a term: confusable substitutions, pinyin, pinyin/hanzi mixtures, initials."""
    base = compact(term)
    out = {base}
    chars = list(base)
    # one or two confusable substitutions
    for i, ch in enumerate(chars):
        for alt in CONFUSABLES.get(ch, ""):
            out.add("".join([*chars[:i], alt, *chars[i + 1 :]]))
    if len(chars) <= 4:
        for i, j in itertools.combinations(range(len(chars)), 2):
            for a in CONFUSABLES.get(chars[i], ""):
                for b in CONFUSABLES.get(chars[j], ""):
                    c = chars.copy()
                    c[i], c[j] = a, b
                    out.add("".join(c))
    hanzi = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
    if len(hanzi) >= 2:
        py = [_pinyin(c) for c in chars]
        full = "".join(py)
        if len(full) >= 5:
            out.add(full)
        if len(chars) <= 4:
            for mask in itertools.product((0, 1), repeat=len(chars)):
                if 0 < sum(mask) < len(chars):
                    mixed = "".join(py[i] if m else chars[i] for i, m in enumerate(mask))
                    if sum(len(py[i]) for i, m in enumerate(mask) if m) >= 3:
                        out.add(mixed)
        if len(hanzi) >= 3 and len(hanzi) == len(chars):
            out.add("".join(p[0] for p in py))
    return {v for v in out if v}


def first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of `pattern` can start with, or None when that is not a small literal set.
    Lets the analyser skip a regex whose first characters do not occur in the text at all."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def of(items: Any) -> set[str] | None:
        out: set[str] = set()
        for op, av in items:
            if op is c.LITERAL:
                return out | {chr(av)}
            if op is c.IN:
                for iop, iav in av:
                    if iop is c.LITERAL:
                        out.add(chr(iav))
                    elif iop is c.RANGE and iav[1] - iav[0] < 64:
                        out.update(chr(x) for x in range(iav[0], iav[1] + 1))
                    else:
                        return None
                return out
            if op is c.SUBPATTERN:
                sub = of(av[3])
                if sub is None:
                    return None
                return out | sub
            if op is c.BRANCH:
                for alt in av[1]:
                    sub = of(alt)
                    if sub is None:
                        return None
                    out |= sub
                return out
            if op in (c.MAX_REPEAT, c.MIN_REPEAT):
                lo, _hi, body = av
                sub = of(body)
                if sub is None:
                    return None
                out |= sub
                if lo >= 1:
                    return out
                continue  # optional: the match may start with what follows
            if op in (c.ASSERT_NOT, c.ASSERT, c.AT):
                continue  # zero-width
            return None
        return None  # could match the empty string

    try:
        got = of(_parser.parse(pattern))
    except Exception:
        return None
    return frozenset(got) if got else None


def _flags_free(pattern: str) -> bool:
    """No inline flags anywhere (case-insensitive or verbose patterns defeat literal analysis)."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def clean(items: Any) -> bool:
        for op, av in items:
            if op is c.SUBPATTERN:
                if av[1] or av[2] or not clean(av[3]):
                    return False
            elif op is c.BRANCH:
                if not all(clean(alt) for alt in av[1]):
                    return False
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                if not clean(av[2]):
                    return False
            elif op in (c.ASSERT, c.ASSERT_NOT):
                if not clean(av[1]):
                    return False
            elif op in (c.ATOMIC_GROUP,) and not clean(av):
                return False
        return True

    try:
        parsed = _parser.parse(pattern)
    except Exception:
        return False
    return not parsed.state.flags & ~re.UNICODE and clean(parsed)


def _engine_skips(pattern: str) -> bool:
    """The regex engine finds a literal prefix or first-character set by itself (then its own skip loop
    is faster than a lookahead, which would hide the prefix from it)."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    try:
        parsed = _parser.parse(pattern)
        prefix, _skip, _all = _compiler._get_literal_prefix(parsed, parsed.state.flags)
        return bool(prefix) or _compiler._get_charset_prefix(parsed, parsed.state.flags) is not None
    except Exception:
        return True


# Full-width sentence punctuation as the analyser sees it: NFKC makes ，！？； the ASCII ,!?; in the
# compacted text the patterns run over. Lexicon authors write Chinese punctuation (a clause window is
# naturally `[^，。]{0,8}`); without this such a window ran across commas and a literal ， never matched.
_PUNCT = str.maketrans({"，": ",", "！": "!", "？": "?", "；": ";"})


def as_compacted(pattern: str) -> str:
    """A lexicon pattern with its full-width sentence punctuation as `compact` leaves it."""
    return pattern.translate(_PUNCT)


def compile_scanning(pattern: str) -> re.Pattern[str]:
    """`re.compile(pattern)`, with a lookahead on the characters a match can start with put in front when
    they are known and the engine would not find them itself. Same matches and spans; but impossible
    start positions are then rejected by one character-set test instead of trying every alternative at
    each (an alternation whose branches start with lookbehinds, like the negations: ~3x faster)."""
    starts = first_chars(pattern) if _flags_free(pattern) and not _engine_skips(pattern) else None
    if not starts:
        return re.compile(pattern)
    cls = "".join(re.escape(ch) for ch in sorted(starts))
    try:
        return re.compile(f"(?=[{cls}])(?:{pattern})")
    except re.error:
        return re.compile(pattern)


# Single characters so frequent in chat that a gate on one of them selects its regex for most messages;
# among equally short literal sets, the one with fewer of these wins.
_COMMON_CHARS = frozenset(
    "的一是不了我你您他她们这那个在有人来到要说就也都和会能好吗呢吧啊给把上下去看还没很"
)


def gate_literals(pattern: str) -> tuple[str, ...] | None:
    """Literals of which every match of `pattern` contains at least one (the most selective such set
    found: longest shortest literal, then fewest very common characters, then fewest), or None when there is none and the regex must always
    run. The analyser's automaton pass finds them, which selects the regexes worth running.

    (Requiring several such sets per regex cut regex runs further, but each extra automaton hit costs
    about as much as a failed regex search, so one set each is faster overall.)"""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    zero_width = (c.ASSERT, c.ASSERT_NOT, c.AT)

    def alts(items: Any, depth: int = 0) -> set[str] | None:
        """All strings the sequence can consume, if it is a small finite set of literals."""
        out = {""}
        for op, av in items:
            if op is c.LITERAL:
                out = {x + chr(av) for x in out}
            elif op is c.IN and all(iop is c.LITERAL for iop, _ in av) and len(av) <= 16:
                out = {x + chr(iav) for x in out for _, iav in av}
            elif op is c.SUBPATTERN and depth < 4 and not av[1] & re.IGNORECASE:
                sub = alts(av[3], depth + 1)
                if sub is None:
                    return None
                out = {x + y for x in out for y in sub}
            elif op is c.BRANCH and depth < 4:
                union: set[str] = set()
                for alt in av[1]:
                    sub = alts(alt, depth + 1)
                    if sub is None:
                        return None
                    union |= sub
                out = {x + y for x in out for y in union}
            elif op in zero_width:
                continue  # consumes nothing: the consumed strings are unchanged
            else:
                return None
            if len(out) > 64:
                return None
        return out

    def usable(lits: set[str] | None) -> bool:
        return bool(lits) and "" not in lits  # type: ignore[operator]

    def rank(group: tuple[str, ...]) -> tuple[int, int, int]:
        common = sum(1 for lit in group if lit in _COMMON_CHARS)
        return (-min(map(len, group)), common, len(group))

    def groups_of(items: Any) -> list[tuple[str, ...]]:
        """Candidate sets along a sequence, best first: each maximal run of literal items as one set
        when its strings stay few, else each of its items alone."""
        found: list[tuple[str, ...]] = []
        run: list[Any] = []
        for item in [*items, None]:
            if item is not None:
                if item[0] in zero_width:
                    run.append(item)
                    continue
                lits = alts([item])
                if usable(lits):
                    run.append(item)
                    continue
            if run:
                whole = alts(run)
                if usable(whole):
                    found.append(tuple(sorted(whole)))  # type: ignore[arg-type]
                else:
                    for part in run:
                        one = alts([part])
                        if usable(one):
                            found.append(tuple(sorted(one)))  # type: ignore[arg-type]
            run = []
        return sorted(set(found), key=lambda group: (rank(group), group))

    try:
        parsed = _parser.parse(pattern)
    except Exception:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    items = list(parsed)
    if len(items) == 1 and items[0][0] is c.BRANCH:
        # a top-level alternation: each branch must bring its own literals; the gate is their union
        union: set[str] = set()
        for alt in items[0][1][1]:
            best = groups_of(alt)
            if not best:
                return None
            union |= set(best[0])
        return tuple(sorted(union))
    best = groups_of(items)
    return best[0] if best else None


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    near: tuple[re.Pattern[str], ...]
    allow: tuple[re.Pattern[str], ...]
    regexes: tuple[re.Pattern[str], ...]
    tier: int = 0
    gates: tuple[tuple[str, ...] | None, ...] = ()  # per regex: `gate_literals`


@dataclass(frozen=True, slots=True)
class Matcher:
    """The lexicon as one sender role sees it, ready for a single Aho-Corasick pass per message (all
    overlapping matches in one call, ordered by end, then longest first). `values[i]` belongs to the
    automaton's key i: (the (rule, category, rule id) the key hits as a term, the indexes of the regexes
    it gates); `ungated` regexes always run. Rules that cannot apply to the role are left out."""

    automaton: ahocorasick_rs.AhoCorasick | None
    values: list[tuple[tuple[tuple[CompiledRule, str, str], ...], tuple[int, ...]]]
    regexes: dict[int, tuple[CompiledRule, re.Pattern[str]]]  # regex index (lexicon order) → regex
    ungated: frozenset[int]


@dataclass
class Lexicon:
    data: LexiconData
    rules: dict[str, CompiledRule] = field(init=False)
    regex_rules: list[CompiledRule] = field(init=False)
    negation: re.Pattern[str] | None = field(init=False)
    regex_list: list[tuple[CompiledRule, re.Pattern[str]]] = field(init=False)
    warning: re.Pattern[str] | None = field(init=False)
    warning_categories: frozenset[str] = field(init=False)  # the categories a warning suppresses
    # normalised term → (rule id, term) for every exact/fuzzy rule, in lexicon order
    keys: dict[str, list[tuple[str, str]]] = field(init=False, repr=False)
    _matchers: dict[str | None, Matcher] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rules = {}
        self.regex_rules = []
        self.keys = {}
        self._matchers = {}
        for r in self.data.rules:
            if not r.enabled:
                continue
            compiled = CompiledRule(
                r,
                tuple(compile_scanning(as_compacted(p)) for p in r.near),
                tuple(compile_scanning(as_compacted(p)) for p in r.allow),
                tuple(compile_scanning(as_compacted(p)) for p in r.terms) if r.match == "regex" else (),
                r.effective_tier,
                tuple(gate_literals(as_compacted(p)) for p in r.terms) if r.match == "regex" else (),
            )
            self.rules[r.id] = compiled
            if r.match == "regex":
                self.regex_rules.append(compiled)
                continue
            for term in r.terms:
                forms = variants(term) if r.match == "fuzzy" else {compact(term)}
                for form in forms:
                    self.keys.setdefault(form, []).append((r.id, term))
        self.regex_list = [(cr, rx) for cr in self.regex_rules for rx in cr.regexes]
        negations, warnings = "|".join(self.data.negations), "|".join(self.data.warnings)
        self.negation = compile_scanning(as_compacted(negations)) if negations else None
        self.warning = compile_scanning(as_compacted(warnings)) if warnings else None
        self.warning_categories = frozenset(self.data.warning_categories)

    def matcher(self, sender_role: str | None) -> Matcher:
        """Built on first use for each role (a concurrent first use may build it twice: harmless)."""
        got = self._matchers.get(sender_role)
        if got is None:
            got = self._matchers[sender_role] = self._build_matcher(sender_role)
        return got

    def _build_matcher(self, sender_role: str | None) -> Matcher:
        def applies(cr: CompiledRule) -> bool:
            return sender_role is None or cr.rule.sender in ("any", sender_role)

        hits: dict[str, list[tuple[CompiledRule, str, str]]] = {}
        for key, vals in self.keys.items():
            for rule_id, _term in vals:
                cr = self.rules[rule_id]
                if applies(cr):
                    hits.setdefault(key, []).append((cr, cr.rule.category, rule_id))
        gated: dict[str, set[int]] = {}
        regexes: dict[int, tuple[CompiledRule, re.Pattern[str]]] = {}
        ungated: set[int] = set()
        for idx, (cr, rx) in enumerate(self.regex_list):
            if not applies(cr):
                continue
            regexes[idx] = (cr, rx)
            gate = cr.gates[cr.regexes.index(rx)]
            if gate is None:
                ungated.add(idx)
                continue
            for lit in gate:
                gated.setdefault(lit, set()).add(idx)
        # (an empty key never matches, as in any Aho-Corasick automaton)
        keys = [k for k in [*hits, *(k for k in gated if k not in hits)] if k]
        values = [(tuple(hits.get(k, ())), tuple(sorted(gated.get(k, ())))) for k in keys]
        automaton = ahocorasick_rs.AhoCorasick(keys, store_patterns=False) if keys else None
        return Matcher(automaton, values, regexes, frozenset(ungated))

    @property
    def version(self) -> str:
        return self.data.version

    @classmethod
    def from_json(cls, data: Any) -> Lexicon:
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"lexicon is not valid JSON: {exc}") from None
        try:
            return cls(LexiconData.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"lexicon is invalid at {where}: {first['msg']}") from None

    def to_json(self) -> dict[str, Any]:
        return self.data.model_dump(mode="json", exclude_defaults=False)

    @classmethod
    def default(cls) -> Lexicon:
        return _default()


@lru_cache(maxsize=1)
def _default() -> Lexicon:
    text = resources.files("archive.risk").joinpath("default_lexicon.json").read_text(encoding="utf-8")
    return Lexicon.from_json(text)


class LexiconHolder:
    """Atomic hot swap: readers take `.current` once per scan; an admin's change replaces it."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.current = lexicon

    def swap(self, lexicon: Lexicon) -> None:
        self.current = lexicon
