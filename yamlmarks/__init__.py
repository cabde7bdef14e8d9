"""YAML read with every node's position, and errors pinned to it, for the files operators edit (rules, templates).

Not routing and not templates: both read their file through it, so it sits
below them and imports nothing of ours.
"""

from yamlmarks.source import MAX_DEPTH, MAX_VALUES, Document, Problem, YamlProblems, parse

__all__ = ["MAX_DEPTH", "MAX_VALUES", "Document", "Problem", "YamlProblems", "parse"]
