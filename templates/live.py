"""``LiveTemplates``: the template set in force, reloaded when the file changes or on SIGHUP.

Like the rules (``router.live``): the last good set stays in force until an
edited file loads without errors; a broken edit is kept for ``status()``
(``GET /api/templates``) and the log, and changes nothing. No file, when none
was named, is an empty set watched for the file to appear.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from conversations.clock import utcnow
from conversations.models import Channel, Customer
from templates.catalog import Rendered, TemplateSet, version_of
from templates.context import builtin_values
from templates.errors import TemplateFileError, TemplatesError
from templates.loader import load_templates_bytes
from yamlmarks import watched
from yamlmarks.watched import Stamp

log = logging.getLogger("gateway.templates")


class LiveTemplates:
    def __init__(self, path: str | Path, *, required: bool = False) -> None:
        """Load ``path``; a missing file is an empty set unless ``required``.

        Raises:
            TemplatesError: the file is broken, or required and missing.
        """
        self.path = Path(path)
        self._error: TemplatesError | None = None
        self._error_at: datetime | None = None
        self._stamp: Stamp | None = None
        self._current = TemplateSet(path=str(self.path))
        self._loaded_at = utcnow()
        if self.path.exists() or required:
            stamp = self._stat()
            self._current = load_templates_bytes(self._read(), str(self.path))
            self._stamp = stamp

    @classmethod
    def of(cls, templates: TemplateSet) -> LiveTemplates:
        """A fixed set (tests, tools), not backed by a file."""
        live = cls(Path("/nonexistent/templates.yaml"))
        live._current = templates
        return live

    @property
    def current(self) -> TemplateSet:
        return self._current

    @property
    def error(self) -> TemplatesError | None:
        return self._error

    def render(self, name: str, channel: Channel | None, *, customer: Customer | None,
               conversation_id: str | None, agent: str, variables: Mapping[str, str] | None = None) -> Rendered:
        """Template ``name`` from the set in force, for a message on ``channel``.

        Raises:
            NotFound, InvalidRequest: see ``TemplateSet.render``.
        """
        return self._current.render(name, channel, builtin_values(customer, conversation_id, agent), variables)

    def reload_if_changed(self) -> bool:
        """Stat the file; read, check and swap it in if it changed. True if a new set took effect."""
        try:
            stamp = self._stat() if self.path.exists() else None
            if stamp == self._stamp:
                return False
            if stamp is None:  # the file went away: keep the set in force, say so once
                self._fail(TemplatesError([TemplateFileError(str(self.path), 1, 1, "the template file is gone; "
                                                             "the templates loaded before stay in force")]), None)
                return False
            data = self._read()
        except TemplatesError as error:
            self._fail(error, None)
            return False
        return self._apply(data, stamp)

    def reload(self, trigger: str = "reload") -> bool:
        """Read the file now, whatever its stamp says (SIGHUP); True if a new set took effect."""
        if not self.path.exists() and self._stamp is None and self._error is None:
            return False  # still no file, and none was ever loaded: the empty set is not an error
        log.info("template file %s: reload asked (%s)", self.path, trigger)
        try:
            stamp = self._stat()
            data = self._read()
        except TemplatesError as error:
            self._fail(error, None)
            return False
        return self._apply(data, stamp)

    def _apply(self, data: bytes, stamp: Stamp) -> bool:
        if version_of(data) == self._current.version:
            self._stamp = stamp
            self._error = self._error_at = None
            return False
        try:
            templates = load_templates_bytes(data, str(self.path))
        except TemplatesError as error:
            self._fail(error, stamp)
            return False
        self._current = templates
        self._stamp = stamp
        self._loaded_at = utcnow()
        self._error = self._error_at = None
        log.info("templates %s loaded from %s: %d templates", templates.version, self.path,
                 len(templates.templates))
        return True

    def _fail(self, error: TemplatesError, stamp: Stamp | None) -> None:
        # The broken file's stamp is remembered, so it is parsed (and logged) once, not every poll.
        self._stamp = stamp
        self._error = error
        self._error_at = utcnow()
        log.error("template file %s refused; keeping templates %s in force:\n%s", self.path,
                  self._current.version, error)

    def _stat(self) -> Stamp:
        return watched.stamp_of(self.path, TemplatesError)

    def _read(self) -> bytes:
        return watched.read(self.path, TemplatesError)

    def status(self) -> dict[str, Any]:
        """JSON-ready state for ``GET /api/templates``."""
        error = self._error
        return {
            "path": str(self.path),
            "version": self._current.version,
            "loaded_at": self._loaded_at.isoformat(),
            "templates": self._current.public(),
            "error": str(error) if error else None,
            "errors": [e.as_dict() for e in error.errors] if error else [],
            "error_at": self._error_at.isoformat() if self._error_at else None,
        }

    async def watch(self, interval: float = 2.0, *,
                    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        """Reload whenever the file changes; run as a task, cancel to stop."""
        await watched.poll(self.reload_if_changed, self.path, interval, sleep=sleep)
