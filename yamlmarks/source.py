"""YAML → plain data, keeping every node so errors can point at line and column.

``yaml.safe_load`` throws the positions away. Here the file is composed into
nodes first, plain data is built from them, and :meth:`Document.position`
walks a pydantic error location (``("rules", 3, "then", "queue")``) back down
the node tree to the exact key or value.

The loader also reads scalars the YAML 1.2 way: only ``true``/``false`` are
booleans (``country: NO`` stays Norway, ``on:`` stays a key) and ``9:30``
is text, not the base-60 number 570 that YAML 1.1 makes of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


# Bounds on what a file may expand to. Aliases are references: "&a [*b, *b, ...]" chained ten
# deep stands for billions of values ("billion laughs") in a few hundred bytes, and building them
# would take the process's memory and minutes of CPU. A real rule file has a few thousand values.
MAX_VALUES = 100_000  # values after expanding every alias and merge key
MAX_DEPTH = 64  # nesting levels, aliases followed (the composer and the builder recurse per level)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and numbers; bounded nesting; aliases recorded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases: list[tuple[Node, yaml.Mark, str]] = []  # target, where the alias is, its name

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if node is not None and isinstance(event.start_mark, yaml.Mark):
                self.aliases.append((node, event.start_mark, str(event.anchor)))
            return node
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)

_HINTS = {
    "mapping values are not allowed here": "check the indentation, or quote a value that contains ': '",
    "found character '\\t' that cannot start any token": "YAML indents with spaces, not tabs",
    "expected <block end>, but found": "check the indentation of this line against the lines above",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found while reading YAML, before any schema is applied."""

    line: int  # 1-based
    column: int
    message: str


class YamlProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(slots=True)
class Document:
    """Plain data read from YAML, with the node tree it came from."""

    data: Any
    root: Node | None

    def node(self, loc: tuple[str | int, ...]) -> Node | None:
        """The node ``loc`` names exactly (keys and indexes only), or None if the file has none there."""
        node = self.root
        for part in loc:
            if isinstance(node, MappingNode):
                found = [v for k, v in node.value if isinstance(k, ScalarNode) and k.value == str(part)]
                node = found[-1] if found else None
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
            else:
                return None
        return node

    def position(self, loc: tuple[str | int, ...], *, at_key: bool = False) -> tuple[int, int]:
        """1-based line and column of the value (or key) that ``loc`` names.

        Location parts that do not name a key or index (pydantic adds union
        member names, and missing keys do not exist in the file) are skipped,
        so the answer is the deepest node that does exist.
        """
        if self.root is None:
            return 1, 1
        node: Node = self.root
        key: Node | None = None
        for part in loc:
            if part == "[key]" and key is not None:
                return _mark(key)
            if isinstance(node, MappingNode):
                found = None
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                        found = key_node, value_node  # the last one wins, as in the data
                if found is not None:
                    key, node = found
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                key, node = None, node.value[part]
        if at_key and key is not None:
            return _mark(key)
        return _mark(node)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse(text: str) -> Document:
    """Read one YAML document; every syntax and duplicate-key problem at once.

    Raises:
        YamlProblems: syntax errors (one: the parser cannot go on after it)
            or duplicate keys (all of them).
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        raise YamlProblems([_syntax_problem(error)]) from None
    except yaml.YAMLError as error:
        raise YamlProblems([Problem(1, 1, f"YAML syntax: {error}")]) from None
    finally:
        loader.dispose()
    if root is None:
        return Document(None, None)
    too_big = _expansion_problem(root, loader.aliases)
    if too_big is not None:
        raise YamlProblems([too_big])
    problems: list[Problem] = []
    data = _Builder(loader, problems).build(root)
    if problems:
        raise YamlProblems(problems)
    return Document(data, root)


def _expansion_problem(root: Node, aliases: list[tuple[Node, yaml.Mark, str]]) -> Problem | None:
    """A problem if the document, aliases and merges expanded, exceeds ``MAX_VALUES`` or ``MAX_DEPTH``.

    Sizes and depths are computed once per distinct node (an alias shares its
    target's numbers), so the check is linear in the file, however much the
    aliases would expand to. Iterative, as alias chains can be deeper than
    Python's stack.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in on_path:  # an alias that contains itself: _Builder reports it
                continue
            on_path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        on_path.discard(key)
        sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in children)
        depths[key] = 1 + max((depths.get(id(child), 1) for child in children), default=0)
    size, depth = sizes[id(root)], depths[id(root)]
    if size <= MAX_VALUES and depth <= MAX_DEPTH:
        return None
    # Blame the alias that stands for the most (the first of equals): that is the line to fix.
    worst = max(aliases, key=lambda alias: sizes.get(id(alias[0]), 1), default=None)
    line, column = (worst[1].line + 1, worst[1].column + 1) if worst is not None else _mark(root)
    where = f"; *{worst[2]} here stands for {sizes.get(id(worst[0]), 1):,} values" if worst is not None else ""
    if size > MAX_VALUES:
        return Problem(line, column, f"the file expands to more than {MAX_VALUES:,} values through its aliases "
                                     f"and merge keys{where}; refused (a billion-laughs file?)")
    return Problem(line, column, f"the file nests deeper than {MAX_DEPTH} levels through its aliases{where}")


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _syntax_problem(error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = error.problem or "invalid YAML"
    message = f"YAML syntax: {problem}"
    if error.context:
        message += f" ({error.context})"
    for start, hint in _HINTS.items():
        if problem.startswith(start):
            message += f"; {hint}"
            break
    return Problem(line, column, message)


class _Builder:
    """Builds plain data from nodes, noting duplicate keys instead of dropping them."""

    def __init__(self, loader: _Loader, problems: list[Problem]) -> None:
        self.loader = loader
        self.problems = problems
        self._active: set[int] = set()

    def build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as error:
                # Only the marked errors (constructor errors among them) carry a problem text.
                detail = error.problem if isinstance(error, yaml.MarkedYAMLError) else error
                self._note(node, f"cannot read value: {detail}")
                return None
        if id(node) in self._active:  # an alias that contains itself
            self._note(node, "recursive alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item) for item in node.value]
            if isinstance(node, MappingNode):
                return self._mapping(node)
            self._note(node, f"unsupported YAML node {node.tag}")
            return None
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        seen: dict[str, Node] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                first = seen.setdefault(key_node.value, key_node)
                if first is not key_node:
                    self._note(key_node, f"duplicate key {key_node.value!r} (first on line {first.start_mark.line + 1})")
        try:
            self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merges
        except yaml.MarkedYAMLError as error:
            self.problems.append(_syntax_problem(error))
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._note(key_node, "a key must be plain text")
                continue
            result[self.build(key_node)] = self.build(value_node)
        return result

    def _note(self, node: Node, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(Problem(line, column, message))
