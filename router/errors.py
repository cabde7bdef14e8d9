"""Errors in a rule file, each pinned to a file, line and column."""

from __future__ import annotations

from yamlmarks.errors import FileError, FileErrors

RuleFileError = FileError  # one problem in a rule file


class RulesError(FileErrors):
    """A rule file that cannot take effect, with every error found in it."""

    kind = "rule file"
