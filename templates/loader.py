"""A template file → ``TemplateSet``, or every problem in it with file, line and column.

The file::

    templates:
      order-delayed:
        description: When a parcel is late          # optional, shown by GET /api/templates
        variables: [order, eta]                     # the caller's variables it uses
        subject: "Your order {order}"               # optional: an email that opens a conversation
        sms: "Hi {customer.first_name|there}, order {order} arrives {eta}."
        email: |
          Hello {customer.name|there}, ...
        default: "Order {order} is late; new date: {eta}."

A placeholder that is neither built in (``catalog.BUILTIN``) nor declared in
``variables`` is an error here, at load time, pointing at the placeholder
itself inside the text (not at the start of the value).
"""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import Node

from templates.catalog import BUILTIN, VARIANTS, Template, TemplateSet, version_of
from templates.errors import TemplateFileError, TemplatesError
from templates.placeholders import Part, Placeholder, split
from yamlmarks import Document, YamlProblems, parse

TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
VARIABLE = re.compile(r"[a-z_][a-z0-9_]{0,63}\Z")
KEYS = ("description", "variables", "subject", *VARIANTS)
MAX_TEXT = 32_000
MAX_TEMPLATES = 2_000


def load_templates_bytes(data: bytes, path: str) -> TemplateSet:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TemplatesError([TemplateFileError(path, 1, 1, f"not UTF-8 text: {error.reason}")]) from None
    return load_templates_text(text, path, version=version_of(data))


def load_templates_text(text: str, path: str, *, version: str | None = None) -> TemplateSet:
    try:
        document = parse(text)
    except YamlProblems as problems:
        raise TemplatesError([TemplateFileError(path, p.line, p.column, p.message)
                              for p in problems.problems]) from None
    reader = _Reader(document, text, path)
    templates = reader.read()
    if reader.errors:
        raise TemplatesError(reader.errors)
    return TemplateSet(templates, path, version or version_of(text.encode()))


class _Reader:
    def __init__(self, document: Document, text: str, path: str) -> None:
        self.document = document
        self.text = text
        self.path = path
        self.errors: list[TemplateFileError] = []

    def error(self, loc: tuple[str | int, ...], message: str, *, at_key: bool = False) -> None:
        line, column = self.document.position(loc, at_key=at_key)
        self.errors.append(TemplateFileError(self.path, line, column, message))

    def read(self) -> dict[str, Template]:
        data = self.document.data
        if data is None:
            return {}  # an empty file: no templates, not an error
        if not isinstance(data, dict):
            self.error((), "the file must be a mapping with a `templates:` key")
            return {}
        for key in data:
            if key != "templates":
                self.error((key,), f"unknown key {key!r}; the file has one key, `templates:`", at_key=True)
        entries = data.get("templates") or {}
        if not isinstance(entries, dict):
            self.error(("templates",), "`templates:` must map template names to templates")
            return {}
        if len(entries) > MAX_TEMPLATES:
            self.error(("templates",), f"more than {MAX_TEMPLATES} templates")
            return {}
        templates: dict[str, Template] = {}
        for name, body in entries.items():
            template = self.template(str(name), body)
            if template is not None:
                templates[str(name)] = template
        return templates

    def template(self, name: str, body: Any) -> Template | None:
        loc: tuple[str | int, ...] = ("templates", name)
        if not TEMPLATE_NAME.match(name):
            self.error(loc, f"template name {name!r}: use lower-case letters, digits, '-' and '_'", at_key=True)
        short = isinstance(body, str)
        if short:
            body = {"default": body}  # `name: text` is a template with one text for every channel
        if not isinstance(body, dict):
            self.error(loc, f"template {name!r} must be a text or a mapping of {', '.join(KEYS)}")
            return None
        ok = True
        for key in body:
            if key not in KEYS:
                self.error((*loc, key), f"unknown key {key!r} in template {name!r}; known: {', '.join(KEYS)}",
                           at_key=True)
                ok = False
        variables = self.variables(loc, body.get("variables"))
        known = set(BUILTIN) | set(variables)
        description = body.get("description") or ""
        if not isinstance(description, str):
            self.error((*loc, "description"), "description must be text")
            ok = False
        variants: dict[str, list[Part]] = {}
        for variant in VARIANTS:
            if variant in body:
                parts = self.text_of(loc if short else (*loc, variant), body[variant], known, name)
                ok = ok and parts is not None
                if parts is not None:
                    variants[variant] = parts
        subject = self.text_of((*loc, "subject"), body["subject"], known, name) if "subject" in body else None
        if "subject" in body and subject is None:
            ok = False
        if not variants and ok:
            self.error(loc, f"template {name!r} has no text: give it `default:` and/or one per channel "
                            f"({', '.join(VARIANTS[1:])})")
            ok = False
        if not ok:
            return None
        return Template(name, variants, tuple(variables), description, subject)

    def variables(self, loc: tuple[str | int, ...], value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error((*loc, "variables"), "variables must be a list of names, e.g. [order, eta]")
            return []
        names: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not VARIABLE.match(item):
                self.error((*loc, "variables", index), f"variable {item!r}: use lower-case letters, digits and "
                                                       "'_' (dots are for the built-in names)")
            elif item in names:
                self.error((*loc, "variables", index), f"variable {item!r} is declared twice")
            else:
                names.append(item)
        return names

    def text_of(self, loc: tuple[str | int, ...], value: Any, known: set[str], name: str) -> list[Part] | None:
        if not isinstance(value, str) or not value.strip():
            self.error(loc, f"{loc[-1]} must be non-empty text")
            return None
        if len(value) > MAX_TEXT:
            self.error(loc, f"{loc[-1]} is longer than {MAX_TEXT:,} characters")
            return None
        parts, problems = split(value)
        node = self.document.node(loc)
        ok = not problems
        for problem in problems:
            self.errors.append(self.inside(loc, node, problem.raw, problem.offset, value, problem.message))
        for part in parts:
            if isinstance(part, Placeholder) and part.name not in known:
                ok = False
                self.errors.append(self.inside(loc, node, part.raw, part.offset, value, _unknown(part.name, name)))
        return parts if ok else None

    def inside(self, loc: tuple[str | int, ...], node: Node | None, raw: str, offset: int, value: str,
               message: str) -> TemplateFileError:
        """The error at the placeholder itself: found in the file's own text of the value.

        The value's text in the file can differ from the parsed string (quotes, escapes, folded
        lines), so the placeholder is looked up as written, the n-th time it occurs, within the
        node's span; if that fails, the error points at the start of the value.
        """
        if node is not None:
            occurrence = value.count(raw, 0, offset)
            source = self.text[node.start_mark.index:node.end_mark.index]
            at = -1
            for _ in range(occurrence + 1):
                at = source.find(raw, at + 1)
                if at < 0:
                    break
            if at >= 0:
                absolute = node.start_mark.index + at
                line = self.text.count("\n", 0, absolute) + 1
                column = absolute - (self.text.rfind("\n", 0, absolute) + 1) + 1
                return TemplateFileError(self.path, line, column, message)
        line, column = self.document.position(loc)
        return TemplateFileError(self.path, line, column, message)


def _unknown(placeholder: str, template: str) -> str:
    builtin = ", ".join(f"{{{b}}}" for b in BUILTIN)
    hint = (f"declare it in the template's `variables:` if the caller passes it" if "." not in placeholder
            else f"the built-in ones are {builtin}")
    return f"unknown placeholder {{{placeholder}}} in template {template!r}: {hint}"
