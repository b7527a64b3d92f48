"""The message analyser: normalise → Aho-Corasick lexicon + regex rules + detectors over the normalised
text → context (sender, scope, negation before the hit in its clause, allow-list in its clause, warnings
that make the whole message a disclaimer, word boundaries via jieba, and for pinyin terms via the
original spaces) → findings with spans in the ORIGINAL text. Most messages match nothing and return after
the fast path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from archive.risk.detectors import detect
from archive.risk.lexicon import DEFAULT_TIERS, CompiledRule, Lexicon, LexiconHolder
from archive.risk.normalize import (
    ZERO_WIDTH,
    Normalized,
    clause_bounds,
    compact_with_path,
    identity_span,
    is_identity_map,
    normalize,
    preload_tables,
)
from archive.risk.pinyin import is_pinyin_word

_jieba_ready = False


def _jieba_cut(text: str) -> list[str]:
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(60)
        jieba.initialize()
        _jieba_ready = True
    return list(jieba.cut(text, HMM=False))


@dataclass(frozen=True, slots=True)
class Finding:
    category: str
    tier: int
    rule: str
    span: tuple[int, int]  # [start, end) in the original text
    evidence: str  # the matched normalised form (short)
    message_index: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "tier": self.tier,
            "rule": self.rule,
            "span": list(self.span),
            "message_index": self.message_index,
        }


@dataclass
class MessageResult:
    findings: list[Finding] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted({f.category for f in self.findings})


class _Hit(NamedTuple):  # a tuple: several per message, cheaper to build than a frozen dataclass
    rule: CompiledRule | None
    category: str
    rule_id: str
    start: int
    end: int


# Builds a _Hit in C, skipping NamedTuple's Python-level __new__ (~3x cheaper per hit).
_new_hit = tuple.__new__


class Analyzer:
    def __init__(self, lexicon: Lexicon | LexiconHolder) -> None:
        self.holder = lexicon if isinstance(lexicon, LexiconHolder) else LexiconHolder(lexicon)

    @classmethod
    def default(cls) -> Analyzer:
        return cls(Lexicon.default())

    @property
    def lexicon(self) -> Lexicon:
        return self.holder.current

    def preload(self, sender_roles: Iterable[str | None] = ("employee", "customer")) -> None:
        """Build now what the first scans would build: the active lexicon's matcher for each sender role
        and the normaliser's tables (see `normalize.preload_tables`), e.g. before a process forks workers that
        scan. A lexicon swapped in later builds its matchers on first use, as before."""
        lex = self.holder.current
        for role in sender_roles:
            lex.matcher(role)
        preload_tables()

    def scan_message(
        self,
        text: str,
        sender_role: str | None = None,
        employee: str | None = None,
        department: str | None = None,
        message_index: int = 0,
        *,
        compacted: tuple[str, bool] | None = None,
    ) -> MessageResult:
        """`compacted`: `compact_with_path(text)` when the caller has it already (ingest computes it once
        for this scan and `signals_of`)."""
        lex = self.holder.current  # one lexicon for the whole scan, even if an admin swaps it meanwhile
        c, fast = compacted if compacted is not None else compact_with_path(text)
        if not c:
            return MessageResult()
        hits = self._raw_hits(lex, c, sender_role)
        if not hits:
            return MessageResult()
        kept: list[_Hit] = []
        seen: set[tuple[str, str]] = set()
        words = _Words(text, c, fast)
        warnable = lex.warning_categories
        warned: bool | None = None  # searched for at the first hit a warning could suppress (often none)
        for h in hits:
            key = (h.category, h.rule_id)
            if key in seen:
                continue
            if h.category in warnable:
                if warned is None:
                    warned = lex.warning is not None and lex.warning.search(c) is not None
                if warned:
                    continue
            # detectors: negated requests ("不用发银行卡号") still do not leak anything; only warnings apply
            if h.rule is None or self._keep(lex, h, c, sender_role, employee, department, words):
                seen.add(key)
                kept.append(h)
        if not kept:
            return MessageResult()
        # Offsets are only needed for what survived the context checks, and no map is built when every
        # character maps to itself (most messages with a finding).
        if words.built() is None and is_identity_map(text, c, fast):
            spans = [identity_span(len(c), h.start, h.end) for h in kept]
        else:
            norm = words.norm()
            spans = [norm.span(h.start, h.end) for h in kept]
        return MessageResult(
            [
                Finding(
                    h.category,
                    h.rule.tier if h.rule else DEFAULT_TIERS[h.category],
                    h.rule_id,
                    span,
                    c[h.start : h.end][:40],
                    message_index,
                )
                for h, span in zip(kept, spans, strict=True)
            ]
        )

    def _raw_hits(self, lex: Lexicon, c: str, sender_role: str | None) -> list[_Hit]:
        # One automaton pass finds the lexicon terms and the gate literals that select regexes to run.
        m = lex.matcher(sender_role)
        hits: list[_Hit] = []
        selected: set[int] = set()
        if m.automaton is not None:
            values = m.values
            for key, start, end in m.automaton.find_matches_as_indexes(c, overlapping=True):
                rules, gated = values[key]
                if rules:
                    for rule, category, rule_id in rules:
                        hits.append(_new_hit(_Hit, (rule, category, rule_id, start, end)))
                if gated:
                    selected.update(gated)
        if selected or m.ungated:
            for idx in sorted(selected | m.ungated if m.ungated else selected):
                rule, rx = m.regexes[idx]
                first = rx.search(c)
                if first is None:
                    continue  # most selected regexes do not match: one call instead of an iterator
                start, end = first.span()
                if end > start:
                    # finditer would find this match again; after a non-empty match it goes on from its
                    # end exactly as a new search from there does (lookbehinds and ^ see the whole text)
                    hits.append(_new_hit(_Hit, (rule, rule.rule.category, rule.rule.id, start, end)))
                    rest = rx.finditer(c, end)
                else:
                    rest = rx.finditer(c)  # an empty match: finditer's own step past it
                for hit in rest:
                    start, end = hit.span()
                    if end > start:
                        hits.append(_new_hit(_Hit, (rule, rule.rule.category, rule.rule.id, start, end)))
        for d in detect(c, sender_role):
            hits.append(_new_hit(_Hit, (None, d.category, d.rule, d.start, d.end)))
        return hits

    def _keep(
        self,
        lex: Lexicon,
        h: _Hit,
        c: str,
        sender_role: str | None,
        employee: str | None,
        department: str | None,
        words: _Words,
    ) -> bool:
        """The context checks of a lexicon hit (the warning check is the caller's). Each check can only
        reject, so the cheap ones run first and the clause is found only when a check needs it."""
        cr = h.rule
        assert cr is not None
        r = cr.rule
        if r.sender != "any" and sender_role is not None and r.sender != sender_role:
            return False
        if r.employees and (employee is None or employee not in r.employees):
            return False
        if r.departments and (department is None or department not in r.departments):
            return False
        start, end = h.start, h.end
        # (one-character comparisons with "a" <= x <= "z": cheaper than a regex call, same answer)
        # An ASCII form inside a longer ASCII word ("sb" in "usb") is not a hit, unless the original had a
        # space there and the word next to it is pinyin ("ni shi sb", "wo yao tousu").
        if (
            "a" <= c[start] <= "z"
            and start > 0
            and "a" <= c[start - 1] <= "z"
            and not words.pinyin_break(start, before=True)
        ):
            return False
        if (
            "a" <= c[end - 1] <= "z"
            and end < len(c)
            and "a" <= c[end] <= "z"
            and end - start <= 3
            and not words.pinyin_break(end, before=False)
        ):
            return False
        # (one pattern, the usual case, is searched without building a generator for `any`)
        near = cr.near
        if near and (near[0].search(c) is None if len(near) == 1 else not any(p.search(c) for p in near)):
            return False
        bounds = None
        allow = cr.allow
        if allow:
            if r.allow_scope == "clause":
                bounds = clause_bounds(c, start)
                clause = c[bounds[0] : bounds[1]]
            else:
                clause = c
            if (
                allow[0].search(clause) is not None
                if len(allow) == 1
                else any(p.search(clause) for p in allow)
            ):
                return False
        if r.negatable and lex.negation is not None:
            if bounds is None:
                bounds = clause_bounds(c, start)
            if lex.negation.search(c[bounds[0] : start]):
                return False
        if not r.word_boundary or c[start:end].isascii():
            return True  # (jieba keeps a run of letters as one word: the checks above placed a pinyin term)
        cstart, cend = bounds if bounds is not None else clause_bounds(c, start)
        return _whole_word(c, start, end, cstart, cend)


class _Words:
    """Word breaks of the original text, which the normal form has lost with its spaces. Looked up only
    for a pinyin or ASCII term that touches other letters in the normal form (rare), and the offset map
    is then reused for the findings."""

    __slots__ = ("_norm", "c", "fast", "text")
    text: str
    c: str
    fast: bool  # `compact` took its fast path
    _norm: Normalized | None

    def __init__(self, text: str, c: str, fast: bool) -> None:
        self.text, self.c, self.fast, self._norm = text, c, fast, None

    def built(self) -> Normalized | None:
        """The offset map if a check has needed it already."""
        return self._norm

    def norm(self) -> Normalized:
        if self._norm is None:
            norm = normalize(self.text, self.c, self.fast)
            if norm.text != self.c:  # defensive: both paths must agree, or spans would be wrong
                norm = Normalized(self.c, tuple(range(len(self.c))), self.text)
            self._norm = norm
        return self._norm

    def pinyin_break(self, pos: int, before: bool) -> bool:
        """The letters c[pos-1] and c[pos] were separate words in the original (a space or another stripped
        separator between them), and the neighbouring word (`before` the hit or after it) reads as pinyin:
        a term inside a sentence typed in pinyin ("wo yao tousu ni men", "ni shi sb"), not part of an
        English word or next to one ("usb", "the sb team")."""
        offs, c = self.norm().offsets, self.c
        if len(offs) != len(c) or offs[pos] - offs[pos - 1] <= 1:
            return False
        if not self.text[offs[pos - 1] + 1 : offs[pos]].strip(ZERO_WIDTH):
            return False  # only zero-width characters between: one word
        start = pos - 1
        while start > 0 and "a" <= c[start - 1] <= "z" and offs[start] - offs[start - 1] == 1:
            start -= 1
        end = pos + 1
        while end < len(c) and "a" <= c[end] <= "z" and offs[end] - offs[end - 1] == 1:
            end += 1
        return is_pinyin_word(c[start:pos] if before else c[pos:end])


def _whole_word(c: str, start: int, end: int, cstart: int, cend: int) -> bool:
    """jieba agrees the hit starts and ends on word boundaries of its clause."""
    if start == cstart and end == cend:
        return True  # the whole clause: its ends are boundaries whatever the words inside
    pos = cstart
    bounds = {pos}
    for w in _jieba_cut(c[cstart:cend]):
        pos += len(w)
        bounds.add(pos)
    return start in bounds and end in bounds
