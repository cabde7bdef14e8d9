"""Load a rule file: YAML → validated models → checks → compiled ``RuleSet``.

Every error (YAML syntax, schema, cross-references, unreachable rules) comes
back at once, each as ``path:line:column: message``, inside one ``RulesError``.
A file with any error never produces a ``RuleSet``.
"""

from __future__ import annotations

import difflib
import hashlib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router.checks import Parts, check
from router.compile import build_ruleset
from router.errors import RuleFileError, RulesError
from router.rules import RuleSet
from router.schema import (
    CalendarModel,
    DefaultModel,
    EscalationModel,
    QueueModel,
    RuleFile,
    RuleModel,
    SlaPolicyModel,
    TrendModel,
)
from yamlmarks import Document, YamlProblems, parse

M = TypeVar("M", bound=BaseModel)

__all__ = ["RuleFileError", "RulesError", "load_rules", "load_rules_text", "load_rules_bytes", "version_of"]


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def load_rules(path: str | Path) -> RuleSet:
    """Load and compile the rule file at ``path``.

    Raises:
        RulesError: the file is missing, unreadable, or has errors.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise RulesError([RuleFileError(name, 1, 1, f"cannot read the rule file: {error.strerror or error}")]) from None
    return load_rules_bytes(data, name)


def load_rules_text(text: str, path: str = "<text>") -> RuleSet:
    return load_rules_bytes(text.encode("utf-8"), path)


def load_rules_bytes(data: bytes, path: str) -> RuleSet:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise RulesError([RuleFileError(path, line, column, "the file is not UTF-8 text")]) from None
    model, doc, errors = validate_document(text, path, RuleFile)
    parts = _parts_of(model) if model is not None else _partial_parts(doc.data)
    for issue in check(parts):
        line, column = doc.position(issue.loc, at_key=issue.at_key)
        errors.append(RuleFileError(path, line, column, f"{_dotted(doc.data, issue.loc)}: {issue.message}"))
    if model is None or errors:
        raise RulesError(errors)
    return build_ruleset(model, version=version_of(data), path=path)


def validate_document(text: str, path: str, model: type[M]) -> tuple[M | None, Document, list[RuleFileError]]:
    """Parse YAML and validate it against ``model``.

    Returns the model (``None`` if invalid), the document (for positions)
    and the schema errors.

    Raises:
        RulesError: the YAML itself cannot be read (nothing to validate).
    """
    try:
        parsed = parse(text)
    except YamlProblems as problems:
        raise RulesError([RuleFileError(path, p.line, p.column, p.message) for p in problems.problems]) from None
    doc = parsed
    if not isinstance(parsed.data, dict):
        what = "empty" if parsed.data is None else f"a {type(parsed.data).__name__}, not a mapping"
        keys = ", ".join(_aliases(model))
        line, column = doc.position(())
        raise RulesError([RuleFileError(path, line, column, f"the file is {what}; expected the keys {keys}")])
    try:
        return model.model_validate(parsed.data), doc, []
    except ValidationError as error:
        return None, doc, schema_errors(error, doc, path, model)


def schema_errors(error: ValidationError, doc: Document, path: str, model: type[BaseModel]) -> list[RuleFileError]:
    """Pydantic errors → ``RuleFileError``s pointing at the offending key or value."""
    out = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            where = _real_path(doc.data, loc[:-1])
            message = f"unknown key {key!r}"
            allowed = _allowed_keys(model, where)
            if allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                message += f"; did you mean {close[0]!r}?" if close else f" (expected one of: {', '.join(allowed)})"
            line, column = doc.position(loc, at_key=True)
            out.append(RuleFileError(path, line, column, _prefix(doc.data, loc[:-1], message)))
            continue
        if kind == "missing":
            line, column = doc.position(loc[:-1])
            message = f"missing required key {loc[-1]!r}"
            out.append(RuleFileError(path, line, column, _prefix(doc.data, loc[:-1], message)))
            continue
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        if kind not in ("value_error", "assertion_error") and isinstance(value, str | int | float | bool):
            message += f", got {value!r}"
        line, column = doc.position(loc, at_key=loc[-1:] == ("[key]",))
        out.append(RuleFileError(path, line, column, _prefix(doc.data, loc, message)))
    return out


def _prefix(data: Any, loc: tuple[Any, ...], message: str) -> str:
    dotted = _dotted(data, loc)
    return f"{dotted}: {message}" if dotted else message


def _real_path(data: Any, loc: tuple[Any, ...]) -> list[str | int]:
    """The parts of a pydantic location that are keys or indexes in the data."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict):
            # The first key that reads as ``part``: YAML keys and pydantic's
            # location parts need not have the same type.
            for key in data:
                if str(key) == str(part):
                    path.append(key)
                    data = data[key]
                    break
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            path.append(part)
            data = data[part]
    return path


def _dotted(data: Any, loc: tuple[Any, ...]) -> str:
    text = ""
    for part in _real_path(data, loc):
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _allowed_keys(root: type[BaseModel], path: list[str | int]) -> list[str]:
    """The keys the model at ``path`` accepts, found by walking the annotations."""
    current: Any = root
    for part in path:
        current = _model_or_container(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) in (list, tuple):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return []
    current = _model_or_container(current)
    return _aliases(current) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _model_or_container(annotation: Any) -> Any:
    """Strip ``Annotated`` and pick the model (or container) out of a union."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_model_or_container(a) for a in typing.get_args(annotation) if a is not type(None)]
        for member in members:
            if isinstance(member, type) and issubclass(member, BaseModel):
                return member
        for member in members:
            if typing.get_origin(member) in (list, tuple, dict):
                return member
        return members[0] if members else annotation
    return annotation


def _parts_of(model: RuleFile) -> Parts:
    return Parts(
        queue_names=set(model.queues),
        policy_names=set(model.sla_policies),
        calendar_names=set(model.calendars),
        queues=dict(model.queues),
        policies=dict(model.sla_policies),
        calendars=dict(model.calendars),
        escalation=dict(model.escalation),
        rules=list(enumerate(model.rules)),
        default=model.default,
        trends=list(enumerate(model.trends)),
    )


def _partial_parts(data: dict[str, Any]) -> Parts:
    """The well-formed pieces of a file whose whole failed validation."""
    parts = Parts()

    def section(key: str, model: type[BaseModel]) -> tuple[set[str], dict[str, Any]]:
        raw = data.get(key)
        if not isinstance(raw, dict):
            return set(), {}
        names = {k for k in raw if isinstance(k, str)}
        return names, {k: v for k, v in ((k, _try(model, raw[k])) for k in names) if v is not None}

    parts.queue_names, parts.queues = section("queues", QueueModel)
    parts.policy_names, parts.policies = section("sla_policies", SlaPolicyModel)
    parts.calendar_names, parts.calendars = section("calendars", CalendarModel)
    _, parts.escalation = section("escalation", EscalationModel)
    raw_rules = data.get("rules")
    if isinstance(raw_rules, list):
        for index, raw in enumerate(raw_rules):
            rule = _try(RuleModel, raw)
            if rule is not None:
                parts.rules.append((index, rule))
    parts.default = _try(DefaultModel, data.get("default"))
    raw_trends = data.get("trends")
    if isinstance(raw_trends, list):
        for index, raw in enumerate(raw_trends):
            trend = _try(TrendModel, raw)
            if trend is not None:
                parts.trends.append((index, trend))
    return parts


def _try(model: type[M], raw: Any) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None
