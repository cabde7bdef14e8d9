"""The rule file's ``csat`` blocks: validated with file, line and column; a policy's survey wins over its queue's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.errors import RulesError
from router.loader import load_rules, load_rules_text

GOOD = """\
queues:
  support:
    sla_policy: standard
    csat: {ask_on_resolve: true, question: "How did we do?", window: 3d}
  service: {}
  quiet:
    sla_policy: silent
    csat: {question: "Never asked"}
sla_policies:
  standard: {first_response: 1h}
  vip:
    first_response: 15m
    csat: {question: "How was our VIP service?", window: 1d}
  silent:
    first_response: 1h
    csat: {ask_on_resolve: false, question: "unused"}
default: {queue: support}
"""


def test_the_survey_in_force_is_the_policys_else_the_queues():
    rules = load_rules_text(GOOD)
    support = rules.csat_for("support", None)
    assert support is not None and support.question == "How did we do?" and support.window == timedelta(days=3)
    vip = rules.csat_for("support", "vip")
    assert vip is not None and vip.question == "How was our VIP service?" and vip.window == timedelta(days=1)
    assert rules.csat_for("service", None) is None
    assert rules.csat_for("service", "vip") is vip  # a policy's survey applies in any queue
    quiet = rules.csat_for("quiet", None)  # the policy's "ask_on_resolve: false" turns the queue's off
    assert quiet is not None and quiet.ask_on_resolve is False
    defaults = load_rules_text("queues: {a: {csat: {question: Hi}}}\ndefault: {queue: a}\n").csat_for("a", None)
    assert defaults is not None and defaults.ask_on_resolve is True and defaults.window == timedelta(days=3)


@pytest.mark.parametrize(("csat", "column", "words"), [
    ('{qestion: "How did we do?"}', 12, "unknown key 'qestion'; did you mean 'question'?"),
    ("{window: 3d}", 11, "csat: missing required key 'question'"),
    ('{question: "  "}', 22, "csat.question: the text must not be empty"),
    ("{question: Hi, window: 90}", 34, "csat.window: expected a duration such as 30s"),
    ("{question: Hi, window: 31d}", 34, "csat.window: the window may be at most 30 days"),
    ("{question: Hi, ask_on_resolve: maybe}", 42, "csat.ask_on_resolve: Input should be a valid boolean"),
])
def test_a_broken_csat_block_names_file_line_and_column(csat, column, words):
    text = f"queues:\n  support:\n    csat: {csat}\ndefault: {{queue: support}}\n"
    with pytest.raises(RulesError) as raised:
        load_rules_text(text, path="routing.yaml")
    message = str(raised.value)
    assert f"routing.yaml:3:{column}:" in message and words in message, message


def test_the_example_rule_file_surveys_the_service_queue_only():
    rules = load_rules(Path(__file__).resolve().parents[2] / "examples" / "routing.yaml")
    survey = rules.csat_for("service", None)
    assert survey is not None and survey.ask_on_resolve and survey.window == timedelta(days=3)
    assert rules.csat_for("support", None) is None
