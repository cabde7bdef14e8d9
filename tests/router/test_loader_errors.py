"""A broken rule file names the file, line and column of every error."""

from __future__ import annotations

import pytest

from router.errors import RulesError
from router.loader import load_rules, load_rules_text

HEAD = """\
queues:
  service: {sla_policy: std}
  support: {}
sla_policies:
  std: {first_response: 1h}
calendars:
  office: {timezone: Europe/Berlin, hours: {weekdays: "09:00-17:00"}}
rules:
"""  # the rules start on line 9
TAIL = "default: {queue: service}\n"

# (case, file text, expected line, column, words in the message)
SINGLE_ERRORS = [
    (
        "bad indentation",
        HEAD + "  - name: billing\n    when: {text: [refund]}\n     then: {queue: service}\n" + TAIL,
        11, 6, "indentation",
    ),
    (
        "unknown key",
        HEAD + "  - name: billing\n    when: {text: [refund]}\n    then: {queue: service, priority: high, tgas: [x]}\n"
        + TAIL,
        11, 44, "unknown key 'tgas'; did you mean 'tags'",
    ),
    (
        "regex re2 cannot run",
        HEAD + "  - name: billing\n    when:\n      text: {regex: '(?<!not )refund'}\n    then: {queue: service}\n"
        + TAIL,
        11, 21, "invalid regex",
    ),
    (
        "rule names an unknown queue",
        HEAD + "  - name: billing\n    when: {text: [refund]}\n    then:\n      queue: servce\n" + TAIL,
        12, 14, "unknown queue 'servce'; did you mean 'service'",
    ),
    (
        "bad duration",
        HEAD.replace("first_response: 1h", "first_response: 90") + TAIL,
        5, 25, "a bare number has no unit",
    ),
    (
        "malformed duration",
        HEAD.replace("first_response: 1h", "first_response: 1 hour") + TAIL,
        5, 25, "is not a duration",
    ),
    (
        "unreachable after a catch-all",
        HEAD + "  - name: everything\n    then: {queue: support}\n  - name: billing\n    when: {text: [refund]}\n"
        "    then: {queue: service}\n" + TAIL,
        11, 11, "'billing' can never match: rule 'everything' above matches everything",
    ),
    (
        "unreachable behind identical conditions",
        HEAD + "  - name: a\n    when: {text: [refund]}\n    then: {queue: service}\n  - name: b\n"
        "    when: {text: [refund]}\n    then: {queue: support}\n" + TAIL,
        12, 11, "same conditions",
    ),
    (
        "duplicate rule name",
        HEAD + "  - name: billing\n    when: {text: [refund]}\n    then: {queue: service}\n  - name: billing\n"
        "    when: {text: [invoice]}\n    then: {queue: service}\n" + TAIL,
        12, 11, "duplicate rule name 'billing'",
    ),
    (
        "unknown calendar in a time condition",
        HEAD + "  - name: night\n    when: {time: {outside: ofice}}\n    then: {queue: service}\n" + TAIL,
        10, 28, "unknown calendar 'ofice'",
    ),
    (
        "unknown SLA policy on a queue",
        HEAD.replace("sla_policy: std}", "sla_policy: gold}") + TAIL,
        2, 25, "unknown SLA policy 'gold'",
    ),
    (
        "duplicate YAML key",
        HEAD + "  - name: billing\n    when: {text: [refund]}\n    then: {queue: service}\n    then: {queue: support}\n"
        + TAIL,
        12, 5, "duplicate key 'then'",
    ),
    (
        "tab indentation",
        "queues:\n\tservice: {}\n",
        2, 1, "tabs",
    ),
    (
        "missing default",
        HEAD,
        1, 1, "missing required key 'default'",
    ),
    (
        "tier the queue does not have",
        HEAD.replace("support: {}", "support: {tiers: {1: , 2: }}")
        + "  - name: hard\n    when: {text: [kernel]}\n    then: {queue: support, tier: 3}\n" + TAIL,
        11, 34, "queue 'support' has no tier 3",
    ),
    (
        "escalation to a lower tier",
        HEAD + "escalation:\n  support:\n    steps:\n      - {from_tier: 2, to_tier: 1, on: agent}\n" + TAIL,
        12, 33, "higher tier",
    ),
    (
        "unknown escalation trigger",
        HEAD + "escalation:\n  support:\n    steps:\n      - {from_tier: 1, to_tier: 2, on: [first_response.late]}\n"
        + TAIL,
        12, 41, "first_response.breach",
    ),
    (
        "empty file",
        "",
        1, 1, "the file is empty",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), [c[1:] for c in SINGLE_ERRORS],
                         ids=[c[0] for c in SINGLE_ERRORS])
def test_error_names_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules_text(text, "routing.yaml")
    errors = caught.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert (error.path, error.line, error.column) == ("routing.yaml", line, column), str(error)
    assert words in error.message
    assert str(error).startswith(f"routing.yaml:{line}:{column}: ")


def test_every_error_is_reported_at_once() -> None:
    text = (
        HEAD.replace("first_response: 1h", "first_response: 1x")
        + "  - name: billing\n    when: {txt: [refund]}\n    then: {queue: service}\n"
        + "  - name: other\n    when: {text: [x]}\n    then: {queue: nope}\n"
        + "default: {queue: service, tier: 4}\n"
    )
    with pytest.raises(RulesError) as caught:
        load_rules_text(text, "r.yaml")
    found = [(e.line, e.column) for e in caught.value.errors]
    assert found == [(5, 25), (10, 12), (14, 19), (15, 33)]


def test_yaml_booleans_are_only_true_and_false() -> None:
    # YAML 1.1 would read NO (Norway) as false and 9:30 as the number 570.
    rules = load_rules_text(
        HEAD + "  - name: norway\n    when: {customer: {country: NO}}\n    then: {queue: support}\n" + TAIL
    )
    assert rules.rules[0].condition.values == frozenset({"no"})  # type: ignore[attr-defined]


def test_missing_file_is_a_rules_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert "cannot read" in caught.value.errors[0].message


def test_words_that_cannot_match_are_refused() -> None:
    with pytest.raises(RulesError) as caught:
        load_rules_text(
            HEAD
            + "  - name: x\n    when: {text: ['!!']}\n    then: {queue: service}\n"
            + "  - name: y\n    when: {text: ['re*fund']}\n    then: {queue: service}\n"
            + TAIL
        )
    messages = [e.message for e in caught.value.errors]
    assert any("no letters or digits" in m for m in messages)
    assert any("only allowed at the end" in m for m in messages)
