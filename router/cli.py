"""``gateway rules check | explain | test | schema``.

``gateway/cli.py`` calls :func:`register` on its subparsers; ``python -m
router.cli`` runs the same commands on their own. Every command returns an
exit code: 0 fine, 1 the rules (or cases) are wrong, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from conversations.models import Channel
from router.calendar import add_business_time
from router.cases import load_cases, run_cases, sample_inputs
from router.config import CLOCKS, SlaPolicy
from router.decision import Decision
from router.default import default_ruleset
from router.durations import format_duration
from router.errors import RulesError
from router.live import rules_path_from_env
from router.loader import load_rules
from router.rules import RuleSet
from router.schema import json_schema


Configured = Callable[[], tuple[Path, bool]]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
             configured: Configured = rules_path_from_env) -> None:
    """Add ``rules`` with its subcommands to an argparse subparsers object.

    ``configured``: the rule file the gateway would load and whether it was
    named; ``gateway`` passes its settings' (environment and ``.env``), on
    its own this module reads ``GATEWAY_RULES_PATH``.
    """
    rules = subparsers.add_parser("rules", help="check, explain and test the routing rule file")
    rules.set_defaults(configured=configured)
    commands = rules.add_subparsers(dest="rules_command", metavar="{check,explain,test,schema}")
    commands.required = True

    check = commands.add_parser("check", help="validate a rule file; every error with line and column")
    check.add_argument("path", nargs="?", type=Path,
                       help="rule file (default: the one the gateway loads: $GATEWAY_RULES_PATH, else routing.yaml, "
                            "else the built-in rules)")
    check.set_defaults(func=cmd_check)

    explain = commands.add_parser("explain", help="show where a message would go, and why")
    explain.add_argument("--rules", type=Path, help="rule file (default: $GATEWAY_RULES_PATH or routing.yaml)")
    explain.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    explain.add_argument("--subject", help="email subject")
    explain.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE", type=_attr,
                         help="customer attribute (repeatable)")
    explain.add_argument("--at", type=_when, help="ISO time of arrival (default: now; no offset = UTC)")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.add_argument("text", nargs="+", help="the message text")
    explain.set_defaults(func=cmd_explain)

    test = commands.add_parser("test", help="run a table of example messages against the rules")
    test.add_argument("paths", nargs="+", type=Path, metavar="[PATH] CASES.yaml",
                      help="rule file (optional) and the cases file")
    test.set_defaults(func=cmd_test)

    schema = commands.add_parser("schema", help="print the rule file's JSON Schema")
    schema.set_defaults(func=cmd_schema)


def _attr(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not KEY=VALUE")
    return key.strip(), val.strip()


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO time such as 2026-03-30T09:15+02:00") from None


def _resolve(args: argparse.Namespace, path: Path | None) -> tuple[Path | None, str]:
    """The file to load (None: the built-in rules) and where it came from, as the gateway decides.

    A path on the command line wins; then ``GATEWAY_RULES_PATH``; then
    ``routing.yaml`` in the working directory; else the built-in rules.
    """
    if path is not None:
        return path, "named on the command line"
    configured: Configured = getattr(args, "configured", rules_path_from_env)
    chosen, explicit = configured()
    if explicit:
        return chosen, "GATEWAY_RULES_PATH"
    if chosen.exists():
        return chosen, "default path, GATEWAY_RULES_PATH not set"
    where = chosen if chosen.is_absolute() else Path.cwd() / chosen
    print(f"no rule file: GATEWAY_RULES_PATH is not set and {where} does not exist; "
          "the gateway uses the built-in rules (everything to service), checked here", file=sys.stderr)
    return None, "built-in"


def _load(path: Path | None) -> RuleSet | None:
    """The rule file to load (None: the built-in rules); errors printed, None returned."""
    if path is None:
        return default_ruleset()
    try:
        return load_rules(path)
    except RulesError as error:
        _report(error)
        return None


def _report(error: RulesError) -> None:
    for item in error.errors:
        print(item, file=sys.stderr)
    count = len(error.errors)
    print(f"{count} error{'s' if count != 1 else ''}", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    path, _ = _resolve(args, args.path)
    rules = _load(path)
    if rules is None:
        return 1
    print(f"{path or 'built-in rules'}: OK, {rules.summary()}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    path, _ = _resolve(args, args.rules)
    rules = _load(path)
    if rules is None:
        return 1
    conversation, message, customer, now = sample_inputs(
        text=" ".join(args.text), channel=Channel(args.channel), subject=args.subject,
        attrs=dict(args.attr), at=args.at,
    )
    decision = rules.explain(conversation, message, customer, now)
    deadlines = _deadlines(rules, decision, now)
    if args.json:
        out = decision.as_dict() | {"deadlines": deadlines, "version": rules.version, "at": now.isoformat()}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    _print_decision(rules, decision, deadlines)
    return 0


def _deadlines(rules: RuleSet, decision: Decision, now: datetime) -> dict[str, str]:
    """When each SLA clock would run out for a conversation opened ``now``."""
    policy = rules.sla_policy_for(decision.queue, decision.sla_policy)
    calendar = rules.calendar_for(policy)
    out = {}
    for clock in CLOCKS:
        target = policy.target(clock) if policy else None
        if target is not None:
            out[clock] = add_business_time(now, target, calendar).isoformat()
    return out


def _print_decision(rules: RuleSet, decision: Decision, deadlines: dict[str, str]) -> None:
    policy = rules.sla_policy_for(decision.queue, decision.sla_policy)
    rows = [
        ("queue", decision.queue),
        ("tier", str(decision.tier)),
        ("priority", decision.priority.value),
        ("tags", ", ".join(decision.tags) or "-"),
        ("rule", decision.rule or "-"),
        ("sla policy", _describe_policy(policy) if policy else "none"),
    ]
    rows += [(f"  {clock.replace('_', ' ')} by", when) for clock, when in deadlines.items()]
    if decision.language:
        rows.append(("language", decision.language))
    if decision.auto_reply:
        rows.append(("auto-reply", decision.auto_reply))
    rows.append(("slack", rules.slack_channel(decision.queue, decision.tier) or "-"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"\ntrace (rules {rules.version}):")
    for step in decision.trace:
        mark = "MATCH" if step.matched else "  -  "
        print(f"  {mark}  {step.rule}: {step.reason}")


def _describe_policy(policy: SlaPolicy) -> str:
    targets = [
        f"{clock.replace('_', ' ')} {format_duration(t)}"
        for clock in CLOCKS
        if (t := policy.target(clock)) is not None
    ]
    hours = f"calendar {policy.calendar}" if policy.calendar else "24/7"
    return f"{policy.name} ({', '.join(targets)}; {hours})"


def cmd_test(args: argparse.Namespace) -> int:
    if len(args.paths) > 2:
        print("usage: gateway rules test [PATH] CASES.yaml", file=sys.stderr)
        return 2
    rules_path, _ = _resolve(args, args.paths[0] if len(args.paths) == 2 else None)
    cases_path = args.paths[-1]
    rules = _load(rules_path)
    if rules is None:
        return 1
    try:
        cases, lines = load_cases(cases_path.read_text(encoding="utf-8"), str(cases_path))
    except OSError as error:
        print(f"{cases_path}: cannot read: {error.strerror}", file=sys.stderr)
        return 1
    except RulesError as error:
        _report(error)
        return 1
    results = run_cases(rules, cases, lines)
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"FAIL {cases_path}:{result.line}: {result.label}")
        for problem in result.problems:
            print(f"     {problem}")
        print(f"     (decided by rule {result.decision.rule!r}; matched {list(result.decision.matched)})")
    print(f"{len(results)} cases: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    # Every subcommand sets func with set_defaults (see register).
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
