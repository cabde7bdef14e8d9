"""``gateway templates check | show``: the template file checked, or one template rendered.

Exit codes as for ``gateway rules``: 0 fine, 1 the file (or the rendering) is
wrong, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conversations.errors import DomainError
from conversations.models import Channel
from templates.catalog import TemplateSet
from templates.errors import TemplatesError
from templates.loader import load_templates_bytes

ENV_PATH = "GATEWAY_TEMPLATES_PATH"
RULES_ENV_PATH = "GATEWAY_RULES_PATH"
FILE_NAME = "templates.yaml"


def default_path(rules_path: Path | None = None) -> Path:
    """``$GATEWAY_TEMPLATES_PATH``, else ``templates.yaml`` beside the rule file."""
    named = os.environ.get(ENV_PATH)
    if named:
        return Path(named)
    rules = rules_path or Path(os.environ.get(RULES_ENV_PATH) or "routing.yaml")
    return rules.parent / FILE_NAME


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    templates = subparsers.add_parser("templates", help="check the response template file, or render a template")
    commands = templates.add_subparsers(dest="templates_command", metavar="{check,show}")
    commands.required = True
    check = commands.add_parser("check", help="validate a template file; every error with line and column")
    check.add_argument("path", nargs="?", type=Path,
                       help=f"template file (default: ${ENV_PATH}, or {FILE_NAME} beside the rule file)")
    check.set_defaults(func=cmd_check)
    show = commands.add_parser("show", help="render one template as a customer would get it")
    show.add_argument("name")
    show.add_argument("--file", type=Path, help="template file (default as for check)")
    show.add_argument("--channel", choices=[c.value for c in Channel], help="pick that channel's text")
    show.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="a variable (repeatable)")
    show.add_argument("--customer", default="Ada Lovelace", help="the customer's name (default: Ada Lovelace)")
    show.add_argument("--agent", default="Grace", help="the agent's name (default: Grace)")
    show.set_defaults(func=cmd_show)


def _load(path: Path) -> TemplateSet:
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"{path}: cannot read the template file: {error.strerror}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        return load_templates_bytes(data, str(path))
    except TemplatesError as error:
        for problem in error.errors:
            print(problem, file=sys.stderr)
        print(f"{len(error.errors)} error(s); the file would be refused", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_check(args: argparse.Namespace) -> int:
    path: Path = args.path or default_path()
    templates = _load(path)
    names = ", ".join(sorted(templates.templates)) or "none"
    print(f"{path}: OK, {len(templates.templates)} template(s): {names}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    templates = _load(args.file or default_path())
    variables: dict[str, str] = {}
    for item in args.var:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--var {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 2
        variables[key] = value
    name = " ".join(args.customer.split())
    builtin = {"customer.name": name, "customer.first_name": name.split(" ", 1)[0] if name else "",
               "agent.name": args.agent, "conversation.id": "cnv_example"}
    try:
        rendered = templates.render(args.name, Channel(args.channel) if args.channel else None, builtin, variables)
    except DomainError as error:
        print(f"{args.name}: {error}", file=sys.stderr)
        return 1
    if rendered.subject is not None:
        print(f"Subject: {rendered.subject}")
    print(rendered.text)
    return 0
