"""How a ``GATEWAY_…`` value becomes a setting, the same way for every setting.

- An empty value means "not set" (the default), as ``.env.example`` writes
  them; except for a plain text setting, where empty text is a value
  (``GATEWAY_TWILIO__HELP_TEXT=``: answer nothing).
- A list is written ``a,b`` (spaces around items ignored) or as a JSON array.
- A bad value becomes one line naming its variable, with what was wrong.
- A ``GATEWAY_…`` name no setting reads is reported with the closest known name.
"""

from __future__ import annotations

import difflib
import json
import os
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from dotenv import dotenv_values  # python-dotenv: pydantic-settings reads .env with it
from pydantic import BaseModel
from pydantic_core import ErrorDetails

SECRETS_DIR = "GATEWAY_SECRETS_DIR"
# Names not to echo back in an error message.
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "KEY", "SID")
_LIST_TYPES = (list, tuple, set, frozenset)


# -- lists -------------------------------------------------------------------------------


def split_list(value: str) -> Any:
    """``a, b`` → ``["a", "b"]``; ``["a"]`` → JSON; a broken JSON array is returned as is (and refused later)."""
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            return value
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_lists(model: type[BaseModel], data: Any) -> Any:
    """Empty values dropped (see the module doc) and every list given as a string split, groups included."""
    if isinstance(data, str) and data.strip().startswith("{"):  # a whole group as JSON: GATEWAY_EMAIL='{…}'
        try:
            data = json.loads(data)
        except ValueError:
            return data
    if not isinstance(data, Mapping):
        return data
    out = dict(data)
    for name, field in model.model_fields.items():
        if name not in out:
            continue
        value = out[name]
        if isinstance(value, str) and not value.strip() and field.annotation is not str:
            del out[name]  # not set: the default
        elif _is_list(field.annotation) and isinstance(value, str):
            out[name] = split_list(value)
        elif (group := _model_type(field.annotation)) is not None:
            out[name] = parse_lists(group, value)
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of ``X | None`` (or just ``[X]``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_list(annotation: Any) -> bool:
    return any(get_origin(a) in _LIST_TYPES or a in _LIST_TYPES for a in _unwrap(annotation))


def _model_type(annotation: Any) -> type[BaseModel] | None:
    for alternative in _unwrap(annotation):
        if isinstance(alternative, type) and issubclass(alternative, BaseModel):
            return alternative
    return None


# -- errors ------------------------------------------------------------------------------


def describe_error(variable: str, error: ErrorDetails) -> str:
    """``GATEWAY_PORT: not an integer (got 'eighty')`` — one line, never a secret's value."""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("list_type", "tuple_type", "set_type"):
        message = "not a list: write comma-separated values (a,b) or a JSON array ([\"a\", \"b\"])"
    value = error.get("input")
    shown = ""
    if isinstance(value, str | int | float) and not any(word in variable for word in _SECRET_WORDS):
        text = str(value)
        if text not in message:
            shown = f" (got {text[:60]!r})"
    return f"{variable}: {message}{shown}"


# -- names -------------------------------------------------------------------------------


def variable_names(model: type[BaseModel], prefix: str) -> frozenset[str]:
    """Every environment variable ``model`` reads under ``prefix``, groups included."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        names.add(variable)
        group = _model_type(field.annotation)
        if group is not None:
            names |= variable_names(group, variable + "__")
    return frozenset(names)


def unknown_names(seen: Iterable[str], known: frozenset[str]) -> list[str]:
    """A warning for each ``GATEWAY_…`` name no setting reads, with the closest known name if there is one."""
    warnings = []
    for name in sorted({n.upper() for n in seen if n.upper().startswith("GATEWAY_")}):
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else "; see .env.example for the names"
        warnings.append(f"{name} is not a setting the gateway reads (ignored){hint}")
    return warnings


def dotenv_names(path: Path) -> list[str]:
    """The variable names a ``.env`` file sets (what pydantic-settings would read from it)."""
    if not path.is_file():
        return []
    return [name for name in dotenv_values(path) if name]


def secrets_dir() -> Path | None:
    value = os.environ.get(SECRETS_DIR, "").strip()
    return Path(value) if value else None
