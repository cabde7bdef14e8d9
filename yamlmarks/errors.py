"""Errors in an operator's file (rules, templates), each pinned to a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True, order=True)
class FileError:
    """One problem in a file; ``line`` and ``column`` are 1-based."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


class FileErrors(Exception):
    """A file that cannot take effect, with every error found in it (sorted, each once)."""

    kind: ClassVar[str] = "file"  # what the file is, for the summary of an empty list: "invalid rule file"

    def __init__(self, errors: list[FileError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))

    @property
    def summary(self) -> str:
        """One line for logs and status pages: the first error and how many more."""
        if not self.errors:
            return f"invalid {self.kind}"
        more = len(self.errors) - 1
        return str(self.errors[0]) + (f" (and {more} more)" if more else "")
