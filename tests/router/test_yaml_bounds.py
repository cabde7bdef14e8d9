"""A rule file cannot make a process expand aliases without bound or recurse off the stack (issue 10, item 13).

Each bomb is refused in well under a second with a line and column, and a
live process keeps the rules it had.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from router.errors import RulesError
from router.live import LiveRules
from router.loader import load_rules_text
from tests.router.helpers import MINIMAL, ROOT
from tests.router.test_live import queue_for, write

REFUSED_WITHIN = 1.0  # seconds


def laughs(levels: int, width: int = 10) -> str:
    """MINIMAL with "billion laughs" as a rule's words: level n is ``width`` aliases of level n-1."""
    items = ["&l0 lol"] + [f"&l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels + 1)]
    return MINIMAL.replace("when: {text: [refund, invoice]}", f"when: {{text: [{', '.join(items)}]}}")


def merge_laughs(levels: int) -> str:
    """The same through merge keys: each mapping merges the previous one twice."""
    lines = ["x-base: &m0 {a: 1, b: 2}"] + [f"x-m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}], k{n}: 1}}"
                                               for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n" + MINIMAL


def refusal(text: str) -> tuple[RulesError, float]:
    started = time.perf_counter()
    with pytest.raises(RulesError) as caught:
        load_rules_text(text, "routing.yaml")
    return caught.value, time.perf_counter() - started


def test_alias_expansion_is_refused_quickly_at_the_alias() -> None:
    # Six levels of ten stand for a million values: about a minute of CPU and gigabytes before.
    text = laughs(6)
    error, seconds = refusal(text)
    assert seconds < REFUSED_WITHIN
    [first] = error.errors
    # The first *l5 inside &l6: the alias that stands for the most.
    assert (first.line, first.column) == (14, text.splitlines()[13].index("*l5") + 1)
    assert "expands to more than 100,000 values through its aliases" in first.message
    assert "*l5 here stands for 111,111 values" in first.message


def test_merge_key_expansion_is_refused_quickly() -> None:
    error, seconds = refusal(merge_laughs(24))
    assert seconds < REFUSED_WITHIN
    assert "expands to more than 100,000 values" in error.errors[0].message
    assert error.errors[0].line == 25  # x-m24, whose *m23 stands for the most


@pytest.mark.parametrize("text", [
    "queues: " + "[" * 5_000 + "]" * 5_000,
    "queues:\n" + "".join(f"{'  ' * (n + 1)}k{n}:\n" for n in range(200)),
], ids=["flow", "block"])
def test_deep_nesting_is_an_error_not_a_recursion_error(text: str) -> None:
    error, seconds = refusal(text)
    assert seconds < 2 * REFUSED_WITHIN
    assert "nested deeper than 64 levels" in error.errors[0].message
    assert error.errors[0].line >= 1 and error.errors[0].column >= 1


def test_nesting_through_an_alias_chain_is_bounded() -> None:
    # Each anchor is 40 levels deep and holds the previous one: 40 * 50 levels once followed.
    lines = ["x-a0: &a0 " + "[" * 40 + "x" + "]" * 40]
    lines += [f"x-a{n}: &a{n} " + "[" * 40 + f"*a{n - 1}" + "]" * 40 for n in range(1, 50)]
    error, _ = refusal("\n".join(lines) + "\n" + MINIMAL)
    assert "nests deeper than 64 levels through its aliases" in error.errors[0].message


def test_anchors_and_merges_of_a_real_file_still_load() -> None:
    text = MINIMAL.replace("sla_policies:\n  std: {first_response: 1h, resolution: 2d}",
                           "sla_policies:\n  std: &std {first_response: 1h, resolution: 2d}\n"
                           "  vip: {<<: *std, first_response: 15m}")
    rules = load_rules_text(text.replace("service: {slack_channel: \"#service\", sla_policy: std}",
                                         "service: {slack_channel: \"#service\", sla_policy: vip}"))
    assert rules.sla_policies["vip"] != rules.sla_policies["std"]


def test_a_live_process_refuses_the_bomb_and_keeps_its_rules(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    write(path, MINIMAL)
    live = LiveRules(path)
    version = live.current.version
    write(path, laughs(6), bump=1)
    started = time.perf_counter()
    assert live.reload_if_changed() is False
    assert time.perf_counter() - started < REFUSED_WITHIN
    assert live.current.version == version and queue_for(live, "refund") == "service"
    [error] = live.status()["errors"]
    assert error["line"] == 14 and "expands to more than 100,000 values" in error["message"]


def _rules_check(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "gateway.cli", "rules", "check", str(path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("gateway rules check was still expanding the aliases after 60 s")
    return done, time.perf_counter() - started


def test_gateway_rules_check_refuses_a_billion_laughs_at_once(tmp_path: Path) -> None:
    valid = tmp_path / "valid.yaml"
    valid.write_text(MINIMAL)
    path = tmp_path / "routing.yaml"
    path.write_text(laughs(9))  # a thousand million values
    checked, baseline = _rules_check(valid)  # the process's own start-up, on this machine, now
    assert checked.returncode == 0, checked.stderr
    done, seconds = _rules_check(path)
    assert done.returncode == 1
    assert f"{path}:14:" in done.stderr and "expands to more than 100,000 values" in done.stderr
    # Expanding the aliases would take hours; refusing them costs about what checking a small file does.
    assert seconds < baseline + 5, f"{seconds:.1f} s against {baseline:.1f} s for a small valid file"
