"""Errors in a template file, each pinned to a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class TemplateFileError:
    """One problem in a template file; ``line`` and ``column`` are 1-based."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


class TemplatesError(Exception):
    """A template file that cannot take effect, with every error found in it."""

    def __init__(self, errors: list[TemplateFileError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))

    @property
    def summary(self) -> str:
        if not self.errors:
            return "invalid template file"
        more = len(self.errors) - 1
        return str(self.errors[0]) + (f" (and {more} more)" if more else "")
