"""The word/regex index only skips rules: decisions equal a full scan of every rule."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone

from router.conditions import Facts
from router.loader import load_rules_text
from tests.router.helpers import ROOT, customer

_spec = importlib.util.spec_from_file_location("routing_benchmark", ROOT / "benchmarks" / "routing.py")
bench = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bench)  # type: ignore[union-attr]


def test_indexed_decisions_equal_full_scan() -> None:
    text, vocab = bench.generate(200, seed=3)
    rules = load_rules_text(text)
    assert rules._index.gated > 150  # most generated rules are gated by words or regexes
    now = datetime(2026, 3, 25, 10, 0, tzinfo=timezone.utc)
    who = customer(plan="pro")
    matched_some = 0
    for message in bench.messages(vocab, 600, seed=5):
        fast = rules.decide(None, message, who, now)
        full = rules.explain(None, message, who, now)  # explain tests every rule in order
        assert (fast.queue, fast.tier, fast.tags, fast.rule, fast.matched) == (
            full.queue, full.tier, full.tags, full.rule, full.matched)
        matched_some += fast.rule != "default"
    assert matched_some > 200


def test_candidates_skip_rules_whose_words_are_absent() -> None:
    rules = load_rules_text("""\
queues: {service: {}}
rules:
  - {name: a, when: {text: [alpha]}, then: {queue: service}}
  - {name: b, when: {text: {regex: 'beta[0-9]'}}, then: {queue: service}}
  - {name: c, when: {any: [{text: [gamma]}, {subject: [delta]}]}, then: {queue: service}}
  - {name: d, when: {text: [pre*]}, then: {queue: service}}
  - {name: e, when: {channel: sms}, then: {queue: service}}
default: {queue: service}
""")
    now = datetime(2026, 3, 25, 10, 0, tzinfo=timezone.utc)
    from tests.router.helpers import message

    def candidates(text: str, subject: str | None = None) -> list[str]:
        facts = Facts(None, message(text, subject=subject), None, now)
        return [rules.rules[i].name for i in rules._index.candidates(facts)]

    # d (a one-word prefix) and e (no text condition) cannot be gated.
    assert candidates("nothing here") == ["d", "e"]
    assert candidates("ALPHA and beta7") == ["a", "b", "d", "e"]
    assert candidates("hi", subject="Delta") == ["c", "d", "e"]


def test_content_words_are_found_in_the_subject_or_the_text() -> None:
    # The index looks a content rule's words up in the subject's and the text's words; where
    # the joined content is cut at MAX_TEXT_CHARS it splits the content itself. Either way the
    # decision is the full scan's.
    rules = load_rules_text("""\
queues: {service: {}, billing: {}}
rules:
  - {name: pattern, when: {content: {regex: 'question\\nrefund'}}, then: {tags: [spans], continue: true}}
  - {name: cut, when: {content: [ref]}, then: {queue: billing, tags: [cut], continue: true}}
  - {name: refund, when: {content: [refund, "charged twice"]}, then: {queue: billing}}
default: {queue: service}
""")
    now = datetime(2026, 3, 25, 10, 0, tzinfo=timezone.utc)
    from tests.router.helpers import message

    cases = [("Refund please", None), ("hello", "Refund"), ("was charged twice", "Re: help"), ("hello", "hi"),
             ("refund", "question"),
             ("x " * 4990 + "refund", "Re: order"),  # 9,996 characters joined: the subject's and text's words
             ("x " * 4993 + " refund", "Re: order"),  # cut after "ref"
             ("x " * 4995 + "refund", "Re: order")]  # cut before "refund"
    decided = []
    for text, subject in cases:
        fast = rules.decide(None, message(text, subject=subject), None, now)
        full = rules.explain(None, message(text, subject=subject), None, now)
        assert (fast.rule, fast.matched) == (full.rule, full.matched), (text[-20:], subject)
        decided.append(fast.matched)
    assert decided == [("refund",), ("refund",), ("refund",), (), ("pattern", "refund"), ("refund",), ("cut",), ()]
