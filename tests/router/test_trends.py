"""The rule file's ``trends:`` section: validated like the rest, each error with file, line and column."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.errors import RulesError
from router.loader import load_rules, load_rules_text
from router.trends import window_words
from tests.support import ROOT

HEAD = """\
queues:
  service: {}
  support: {}
default: {queue: service}
trends:
"""  # the trends start on line 6
GOOD = """\
  - name: login-problems
    queue: support
    match: {tags: [access]}
    window: 1h
    baseline: 7d
    factor: 3
    min_count: 5
    notify: "#service"
"""


def test_a_trend_loads_with_its_values() -> None:
    [trend] = load_rules_text(HEAD + GOOD).trends
    assert (trend.name, trend.queue, trend.tags, trend.words) == ("login-problems", "support", {"access"}, None)
    assert (trend.window, trend.baseline, trend.factor, trend.min_count, trend.notify) == (
        timedelta(hours=1), timedelta(days=7), 3.0, 5, "#service")


def test_no_trends_section_and_an_empty_one_are_the_same() -> None:
    assert load_rules_text(HEAD.replace("trends:\n", "")).trends == ()
    assert load_rules_text(HEAD).trends == ()


CASES = [
    ("unknown queue", GOOD.replace("queue: support", "queue: suport"), 7, 12, "unknown queue 'suport'; did you mean"),
    ("unknown match key", GOOD.replace("{tags: [access]}", "{tag: [access]}"), 8, 13, "unknown key 'tag'"),
    ("empty match", GOOD.replace("{tags: [access]}", "{}"), 8, 12, "give tags, words, or both"),
    ("bad word", GOOD.replace("{tags: [access]}", "{words: ['lo*gin']}"), 8, 20, "only allowed at the end"),
    ("bad window", GOOD.replace("window: 1h", "window: soon"), 9, 13, "window"),
    ("baseline shorter than window", GOOD.replace("baseline: 7d", "baseline: 30m"), 6, 5, "baseline must be"),
    ("factor below 1", GOOD.replace("factor: 3", "factor: 0.5"), 11, 13, "greater than or equal to 1"),
    ("min_count zero", GOOD.replace("min_count: 5", "min_count: 0"), 12, 16, "greater than or equal to 1"),
    ("notify missing", GOOD.replace('    notify: "#service"\n', ""), 6, 5, "missing required key 'notify'"),
    ("duplicate name", GOOD + GOOD, 14, 11, "duplicate trend name"),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_trend_names_file_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules_text(HEAD + text, "routing.yaml")
    [error] = caught.value.errors
    assert (error.line, error.column) == (line, column), str(error)
    assert words in error.message, str(error)
    assert str(error).startswith(f"routing.yaml:{line}:{column}: trends[")


def test_the_window_in_words() -> None:
    assert [window_words(timedelta(seconds=s)) for s in (3600, 7200, 5400, 86400, 90)] == [
        "hour", "2 hours", "90 minutes", "day", "90 seconds"]


def test_the_example_rule_file_watches_login_problems() -> None:
    [trend] = load_rules(ROOT / "examples" / "routing.yaml").trends
    assert (trend.name, trend.queue, trend.notify, trend.min_count) == ("login-problems", "support", "#service", 5)
