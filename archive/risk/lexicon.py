"""The lexicon is data: rules with a category, tier, match type (exact / fuzzy / regex), sender and
employee/department scope, context requirements (`near`), allow-list patterns that suppress a match in
its clause, and a version. It loads from and exports to JSON, and compiles into one Aho-Corasick automaton
plus a list of regexes over the normalised text.

Fuzzy rules get their evasion variants generated, not hand-listed: look-alike/homophone substitutions from
a small confusion table, full pinyin, per-character pinyin/hanzi mixtures and initials (pypinyin), so a
term an admin adds is covered in its evasive forms too."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archive.kit.errors import InvalidInput
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


@lru_cache(maxsize=4096)
def _pinyin(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")[0] if "\u4e00" <= ch <= "\u9fff" else ch


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


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Strings of which every match of `pattern` must contain at least one (the most selective such set
    found in its top-level sequence), or None. A cheap `in` test on these gates the regex."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def alts(items: Any, depth: int = 0) -> set[str] | None:
        """All strings the sequence can match, if it is a small finite set of literals."""
        out = {""}
        for op, av in items:
            if op is c.LITERAL:
                out = {x + chr(av) for x in out}
            elif op is c.IN and all(iop is c.LITERAL for iop, _ in av) and len(av) <= 16:
                out = {x + chr(iav) for x in out for _, iav in av}
            elif op is c.SUBPATTERN and depth < 4:
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
            else:
                return None
            if len(out) > 64:
                return None
        return out

    try:
        parsed = list(_parser.parse(pattern))
    except Exception:
        return None
    if len(parsed) == 1 and parsed[0][0] is c.BRANCH:
        # a top-level alternation: every branch must have its own gate
        gates: list[str] = []
        for alt in parsed[0][1][1]:
            sub = required_literals_items(alt, alts)
            if sub is None:
                return None
            gates.extend(sub)
        return tuple(sorted(set(gates)))
    return required_literals_items(parsed, alts)


def required_literals_items(items: Any, alts: Any) -> tuple[str, ...] | None:
    best: set[str] | None = None
    run: list[Any] = []
    for item in [*items, None]:
        if item is not None:
            lits = alts([item])
            if lits is not None and "" not in lits:
                run.append(item)
                continue
        if run:
            lits = alts(run)
            if lits and "" not in lits and (best is None or min(map(len, lits)) > min(map(len, best))):
                best = lits
        run = []
    return tuple(sorted(best)) if best else None


def _union(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    if any(x is None for x in sets):
        return None
    return frozenset().union(*[x for x in sets if x is not None])


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    near: tuple[re.Pattern[str], ...]
    allow: tuple[re.Pattern[str], ...]
    regexes: tuple[re.Pattern[str], ...]
    starts: tuple[frozenset[str] | None, ...] = ()
    tier: int = 0
    gates: tuple[tuple[str, ...] | None, ...] = ()


@dataclass
class Lexicon:
    data: LexiconData
    rules: dict[str, CompiledRule] = field(init=False)
    automaton: Any = field(init=False, repr=False)
    regex_rules: list[CompiledRule] = field(init=False)
    negation: re.Pattern[str] | None = field(init=False)
    # first character → the (rule, regex) pairs that can start with it; plus those with no known start
    regex_by_char: dict[str, tuple[tuple[CompiledRule, re.Pattern[str], tuple[str, ...] | None], ...]] = (
        field(init=False)
    )
    regex_always: tuple[tuple[CompiledRule, re.Pattern[str], tuple[str, ...] | None], ...] = field(init=False)
    regex_list: list[tuple[CompiledRule, re.Pattern[str]]] = field(init=False)
    regex_ungated: list[int] = field(init=False)
    gate_automaton: Any = field(init=False, repr=False)
    warning: re.Pattern[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self.rules = {}
        self.regex_rules = []
        automaton = ahocorasick.Automaton()
        keys: dict[str, list[tuple[str, str]]] = {}
        for r in self.data.rules:
            if not r.enabled:
                continue
            compiled = CompiledRule(
                r,
                tuple(re.compile(p) for p in r.near),
                tuple(re.compile(p) for p in r.allow),
                tuple(re.compile(p) for p in r.terms) if r.match == "regex" else (),
                tuple(first_chars(p) for p in r.terms) if r.match == "regex" else (),
                r.effective_tier,
                tuple(required_literals(p) for p in r.terms) if r.match == "regex" else (),
            )
            self.rules[r.id] = compiled
            if r.match == "regex":
                self.regex_rules.append(compiled)
                continue
            for term in r.terms:
                forms = variants(term) if r.match == "fuzzy" else {compact(term)}
                for form in forms:
                    keys.setdefault(form, []).append((r.id, term))
        by_char: dict[str, list[tuple[CompiledRule, re.Pattern[str], tuple[str, ...] | None]]] = {}
        always: list[tuple[CompiledRule, re.Pattern[str], tuple[str, ...] | None]] = []
        for cr in self.regex_rules:
            for rx, starts, gate in zip(cr.regexes, cr.starts, cr.gates, strict=True):
                if starts is None:
                    always.append((cr, rx, gate))
                else:
                    for ch in starts:
                        by_char.setdefault(ch, []).append((cr, rx, gate))
        self.regex_by_char = {k: tuple(v) for k, v in by_char.items()}
        self.regex_always = tuple(always)
        # One automaton over every regex's gate literals: a text selects the regexes worth running in
        # a single C-speed pass; regexes without a computable gate always run.
        self.regex_list = [(cr, rx) for cr in self.regex_rules for rx in cr.regexes]
        gate_auto = ahocorasick.Automaton()
        gated: dict[str, set[int]] = {}
        self.regex_ungated = []
        for idx, (cr, rx) in enumerate(self.regex_list):
            gate = cr.gates[cr.regexes.index(rx)]
            if gate is None:
                self.regex_ungated.append(idx)
                continue
            for lit in gate:
                gated.setdefault(lit, set()).add(idx)
        for lit, idxs in gated.items():
            gate_auto.add_word(lit, tuple(sorted(idxs)))
        if gated:
            gate_auto.make_automaton()
        self.gate_automaton = gate_auto if gated else None
        for key, vals in keys.items():
            automaton.add_word(key, (key, tuple(vals)))
        if keys:
            automaton.make_automaton()
        self.automaton = automaton if keys else None
        self.negation = re.compile("|".join(self.data.negations)) if self.data.negations else None
        self.warning = re.compile("|".join(self.data.warnings)) if self.data.warnings else None

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

    def with_rules(self, rules: Iterable[Rule], version: str) -> Lexicon:
        return Lexicon(self.data.model_copy(update={"rules": list(rules), "version": version}))


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
