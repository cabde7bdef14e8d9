"""Errors in a template file, each pinned to a file, line and column."""

from __future__ import annotations

from yamlmarks.errors import FileError, FileErrors

TemplateFileError = FileError  # one problem in a template file


class TemplatesError(FileErrors):
    """A template file that cannot take effect, with every error found in it."""

    kind = "template file"
