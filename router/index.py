"""Skip rules that cannot match: an inverted index from words (and regexes) to rules.

Most rules require one of a few words ("refund", "invoice", ...). Such a rule
cannot match a message that contains none of them, so at load each rule's
*gate* (the words, or the regexes, one of which must match) goes into an
index, and a decision only evaluates the rules whose gate the message
passes, plus the rules without a gate, still in file order. Regex gates use
the rule set's ``RegexBank``, which finds every matching regex in one pass.
With hundreds of rules a scan of every rule becomes a handful of dictionary
lookups. The full conditions are still tested on every candidate: the index
can only skip rules, never decide.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.conditions import AllOf, AnyOf, Condition, Facts, TextHas
from router.text import RegexBank, WordMatcher

FOLDED, EXACT, REGEX = "folded", "exact", "regex"
# One alternative: (field, mode, keys). A rule is a candidate if, for some
# alternative, the field's text has one of the keys: a word (folded or
# exact case) or, in REGEX mode, the bank index of a regex that matches.
Alternative = tuple[str, str, frozenset[str | int]]
Gate = tuple[Alternative, ...]


def gate_of(condition: Condition) -> Gate | None:
    """The alternatives one of which must pass for ``condition`` to hold; None = no gate."""
    if isinstance(condition, TextHas):
        alternatives: list[Alternative] = []
        for matcher in condition.matchers:
            if isinstance(matcher, WordMatcher):
                tokens = matcher.gate_tokens()
                if tokens is None:
                    return None
                mode = EXACT if matcher.case_sensitive else FOLDED
                alternatives.append((condition.field, mode, frozenset(tokens)))
            else:
                if matcher.bank is None:
                    return None
                alternatives.append((condition.field, REGEX, frozenset({matcher.bank_index})))
        return tuple(alternatives) or None
    if isinstance(condition, AllOf):
        # Any one gated part gates the whole conjunction; the narrowest
        # gate skips the most.
        gates = [g for g in (gate_of(p) for p in condition.parts) if g is not None]
        return min(gates, key=lambda g: sum(len(a[2]) for a in g), default=None)
    if isinstance(condition, AnyOf):
        alternatives = []
        for part in condition.parts:
            gate = gate_of(part)
            if gate is None:
                return None  # one ungated branch can match anything
            alternatives.extend(gate)
        return tuple(alternatives) or None
    return None


class CandidateIndex:
    """Which rules (by position) are worth testing for a given message."""

    def __init__(self, conditions: Sequence[Condition], bank: RegexBank | None = None) -> None:
        self.size = len(conditions)
        self._bank = bank
        always: list[int] = []
        index: dict[tuple[str, str], dict[str | int, list[int]]] = {}
        for position, condition in enumerate(conditions):
            gate = gate_of(condition)
            if gate is None or (bank is None and any(a[1] == REGEX for a in gate)):
                always.append(position)
                continue
            for field, mode, keys in gate:
                by_key = index.setdefault((field, mode), {})
                for key in keys:
                    by_key.setdefault(key, []).append(position)
        self._always = frozenset(always)
        self._all = tuple(range(self.size))
        self._index = {k: {key: tuple(p) for key, p in by_key.items()} for k, by_key in index.items()}
        self._groups = _groups(self._index)
        # The words of "content" are the subject's and the text's (Facts.content_is_joined says
        # when), so its word keys can be looked up in those two views: the content view is
        # then not built for the index at all. Its regexes still need it (one may span both).
        joined: dict[tuple[str, str], dict[str | int, tuple[int, ...]]] = {}
        for (field, mode), keyed in self._index.items():
            targets = ("text", "subject") if field == "content" and mode != REGEX else (field,)
            for target in targets:
                merged = joined.setdefault((target, mode), {})
                for key, positions in keyed.items():
                    merged[key] = merged.get(key, ()) + positions
        self._joined_groups = _groups(joined)
        self._joinable = any(field == "content" and mode != REGEX for field, mode in self._index)
        self._always_sorted = tuple(sorted(self._always))

    @property
    def gated(self) -> int:
        return self.size - len(self._always)

    def candidates(self, facts: Facts) -> Sequence[int]:
        groups = self._groups
        if not groups:
            return self._all
        if self._joinable and facts.content_is_joined():
            groups = self._joined_groups
        found: set[int] | None = None
        for field, mode, keys, by_key in groups:
            view = facts.view(field)
            present: frozenset[str | int]
            if mode == REGEX:
                # __init__ indexes REGEX keys only when it was given a bank.
                assert self._bank is not None
                present = self._bank.hits(view)
            else:
                present = view.words(mode == EXACT)[0]
            hit = keys.intersection(present)
            if hit:
                if found is None:
                    found = set(self._always)
                for key in hit:
                    found.update(by_key[key])
        return self._always_sorted if found is None else sorted(found)


Group = tuple[str, str, frozenset[str | int], dict[str | int, tuple[int, ...]]]


def _groups(index: dict[tuple[str, str], dict[str | int, tuple[int, ...]]]) -> tuple[Group, ...]:
    # Per (field, mode): its keys as a set, so the keys a message has are one C-level
    # set intersection (it walks the smaller side) instead of a dict lookup per word.
    return tuple((field, mode, frozenset(by_key), by_key) for (field, mode), by_key in index.items())
