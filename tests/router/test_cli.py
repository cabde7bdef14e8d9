"""``gateway rules check | explain | test | schema``, driven through router.cli.main."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from router import cli
from tests.router.helpers import EXAMPLE_CASES, EXAMPLE_RULES, MINIMAL


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "check", str(EXAMPLE_RULES))
    assert code == 0
    assert out.count("\n") == 1 and "OK" in out and "15 rules" in out


def test_check_lists_every_error_with_line_and_column(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "routing.yaml"
    path.write_text(MINIMAL.replace("first_response: 1h", "first_response: soon").replace(
        "then: {queue: service}", "then: {queue: nowhere}"), encoding="utf-8")
    code, out, err = run(capsys, "rules", "check", str(path))
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{path}:11:25: ")
    assert lines[1].startswith(f"{path}:15:19: ") and "nowhere" in lines[1]
    assert lines[-1] == "2 errors"


def test_check_uses_the_environment_default(capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    monkeypatch.setenv("GATEWAY_RULES_PATH", str(path))
    code, out, _ = run(capsys, "rules", "check")
    assert code == 0 and str(path) in out


def test_explain_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "rules", "explain", "--rules", str(EXAMPLE_RULES), "--channel", "email",
        "--attr", "tier=vip", "--at", "2026-03-25T10:00:00+01:00", "--json", "I was charged twice this month",
    )
    assert code == 0
    data = json.loads(out)
    assert {k: data[k] for k in ("queue", "tier", "priority", "rule", "sla_policy")} == {
        "queue": "service", "tier": 2, "priority": "high", "rule": "billing", "sla_policy": "vip"}
    assert data["tags"] == ["vip", "billing"]
    assert data["trace"][-1] == {"rule": "billing", "matched": True, "reason": "content has 'charged'"}
    # vip policy: 30 minutes of the extended calendar (open at 10:00 on a Wednesday).
    assert data["deadlines"]["first_response"] == "2026-03-25T09:30:00+00:00"


def test_explain_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "explain", "--rules", str(EXAMPLE_RULES), "--channel", "webchat",
                       "--at", "2026-03-28T22:00:00+01:00", "the", "app", "crashes")
    assert code == 0
    assert "support" in out and "crashes-and-bugs" in out
    assert "MATCH  after-hours" in out
    assert "first response by" in out


def test_explain_with_broken_rules(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "r.yaml"
    path.write_text("queues: {}\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "explain", "--rules", str(path), "--channel", "sms", "hi")
    assert code == 1 and "r.yaml:" in err


def test_explain_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["rules", "explain", "--channel", "fax", "hi"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["rules", "explain", "--channel", "sms", "--attr", "novalue", "hi"])


def test_cases_pass_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "test", str(EXAMPLE_RULES), str(EXAMPLE_CASES))
    assert code == 0, out
    assert "0 failed" in out


def test_cases_report_failures(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - text: I need a refund\n"
        "    expect: {queue: service, rule: billing}\n"
        "  - text: I need a refund\n"
        "    expect: {queue: support, tier: 2}\n",
        encoding="utf-8",
    )
    rules = tmp_path / "routing.yaml"
    rules.write_text(MINIMAL, encoding="utf-8")
    code, out, _ = run(capsys, "rules", "test", str(rules), str(cases))
    assert code == 1
    assert f"FAIL {cases}:4:" in out
    assert "queue: expected support, got service" in out
    assert "tier: expected 2, got 1" in out
    assert out.strip().endswith("2 cases: 1 passed, 1 failed")


def test_cases_file_errors_have_lines(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - txt: hi\n    expect: {queue: service}\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "test", str(EXAMPLE_RULES), str(cases))
    assert code == 1
    assert f"{cases}:2:5: cases[0]: unknown key 'txt'; did you mean 'text'?" in err


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {"queues", "sla_policies", "calendars", "escalation", "rules", "default",
                                        "trends"}
    assert schema["additionalProperties"] is False
    then = schema["$defs"]["Then"]["properties"]
    assert "continue" in then and "continue_" not in then


def test_register_adds_rules_to_a_foreign_parser() -> None:
    parser = argparse.ArgumentParser(prog="gateway")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["rules", "check", "x.yaml"])
    assert args.func is cli.cmd_check and args.path == Path("x.yaml")


def test_without_any_file_the_rules_commands_use_the_builtin_rules_and_say_where_they_looked(
        capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GATEWAY_RULES_PATH", raising=False)
    code, out, err = run(capsys, "rules", "explain", "--channel", "sms", "--json", "hello")
    assert code == 0 and "built-in" in err and str(tmp_path / "routing.yaml") in err
    assert json.loads(out)["queue"] == "service"
    # check does what the gateway does: no file named and none there, so the built-in rules.
    code, out, err = run(capsys, "rules", "check")
    assert code == 0 and out.startswith("built-in rules: OK")
    assert "GATEWAY_RULES_PATH is not set" in err and str(tmp_path / "routing.yaml") in err


def test_a_named_rule_file_that_is_missing_is_an_error(capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GATEWAY_RULES_PATH", str(tmp_path / "gone.yaml"))
    code, _, err = run(capsys, "rules", "check")
    assert code == 1 and f"{tmp_path / 'gone.yaml'}:1:1: cannot read" in err
