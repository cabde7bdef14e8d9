"""Reading an admin API body: JSON → checked plain data → a pydantic model, or a 400 that names the problem.

Everything here runs before the handler touches the store, so a refused body
changes nothing. What is refused and why:

- not JSON, or JSON that is not an object;
- nesting deeper than ``MAX_DEPTH`` (the bodies are flat; ``json`` would
  otherwise recurse until ``RecursionError``, a 500);
- a lone UTF-16 surrogate (``"\\ud800"``) in any key or string: JSON allows
  the escape, but it is not text, cannot be encoded as UTF-8 for Redis or any
  channel, and would fail half-way through a write;
- a NUL character, which no name, queue or message has a use for and which
  C-string based software (SMTP servers, terminals) cuts text at.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from conversations.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 16


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


def json_problem(data: Any) -> str | None:
    """Why ``data`` (parsed JSON) is refused, or None. Iterative: a deep value cannot overflow the stack."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "body")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return f"{where} {problem}"
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"the body nests deeper than {MAX_DEPTH} levels"
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = text_problem(key)
                    if problem:
                        return f"a key of {where} {problem}"
                    stack.append((item, depth + 1, key if where == "body" else f"{where}.{key}"))
            else:
                stack.extend((item, depth + 1, f"{where}[{index}]") for index, item in enumerate(value))
    return None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON object as ``model``; ``InvalidRequest`` (400) for anything else."""
    if not request.can_read_body:
        return model.model_validate({})
    try:
        # JSON is UTF-8 (RFC 8259): a charset parameter is not consulted (an unknown one was a 500).
        data = json.loads((await request.read()).decode("utf-8"))
    except RecursionError:
        raise InvalidRequest(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise InvalidRequest("the body must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    problem = json_problem(data)
    if problem:
        raise InvalidRequest(problem)
    return model.model_validate(data)
