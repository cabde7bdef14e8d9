"""``LiveRules``: the rule set in force, reloaded when the file changes.

The last good ``RuleSet`` stays in force until a new file loads without
errors; a broken edit is recorded (``status()``, the log) and changes
nothing. Swapping ``current`` is a single reference assignment, so readers
on other threads or tasks always see one whole rule set, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from conversations.clock import utcnow
from router.default import DEFAULT_RULES_NAME, default_ruleset
from router.errors import RulesError
from router.loader import load_rules_bytes, version_of
from router.rules import RuleSet
from yamlmarks import watched
from yamlmarks.watched import Stamp

log = logging.getLogger("gateway.router")

ENV_PATH = "GATEWAY_RULES_PATH"
DEFAULT_PATH = Path("routing.yaml")


@dataclass(frozen=True, slots=True)
class RulesChange:
    """A reload's outcome, told to ``on_change`` listeners (the gateway records it in the audit log).

    ``trigger`` says what asked for it: ``file-watch`` (an edited file found by the poll or a
    worker's check before a job), ``sighup``, or whatever the caller of :meth:`reload` named.
    """

    outcome: str  # "loaded" or "refused"
    path: str
    version: str  # in force after the reload
    previous: str  # in force before it
    trigger: str
    error: str = ""


ChangeListener = Callable[[RulesChange], None]


def rules_path_from_env() -> tuple[Path, bool]:
    """The configured rule file and whether it was named explicitly."""
    value = os.environ.get(ENV_PATH)
    return (Path(value), True) if value else (DEFAULT_PATH, False)


class LiveRules:
    """Holds the rule set in force for one process.

    ``LiveRules(path)`` loads ``path`` and raises ``RulesError`` if it is
    missing or broken; :meth:`open` is the startup helper that falls back
    to the built-in rules when no file was configured.
    """

    def __init__(self, path: str | Path, *, rules: RuleSet | None = None) -> None:
        self.path = Path(path)
        self._stamp: Stamp | None = None
        self._error: RulesError | None = None
        self._error_at: datetime | None = None
        self._listeners: list[ChangeListener] = []
        if rules is None:
            stamp = self._stat()
            data = self._read()
            rules = load_rules_bytes(data, str(self.path))
            self._stamp = stamp
        self._current = rules
        self._loaded_at = utcnow()

    @classmethod
    def default(cls, path: str | Path | None = None) -> LiveRules:
        """The built-in rules; ``path`` (if given) is watched for a file to appear."""
        return cls(path if path is not None else DEFAULT_PATH, rules=default_ruleset())

    @classmethod
    def open(cls, path: str | Path | None = None, *, explicit: bool | None = None) -> LiveRules:
        """Start-up: load the configured file, or the built-in rules if there is none.

        Args:
            path: the rule file; default ``$GATEWAY_RULES_PATH`` or ``routing.yaml``.
            explicit: whether the operator named the file (default: whether
                ``GATEWAY_RULES_PATH`` is set). A named file must exist.

        Raises:
            RulesError: the file exists but is broken, or was named and is missing.
        """
        env_path, env_explicit = rules_path_from_env()
        chosen = Path(path) if path is not None else env_path
        named = env_explicit if explicit is None else explicit
        if not chosen.exists() and not named:
            log.info("no rule file at %s; using the built-in rules", chosen)
            return cls.default(chosen)
        return cls(chosen)

    @property
    def current(self) -> RuleSet:
        return self._current

    @property
    def error(self) -> RulesError | None:
        return self._error

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener`` after every reload that loaded a new version or refused a file.

        It may be called on a worker thread (the watch loop reads the file off the event loop).
        """
        self._listeners.append(listener)

    def reload(self, trigger: str = "reload") -> bool:
        """Load the file now; True if a new version took effect.

        On any error the rules in force stay, and the error is kept for
        ``status()`` and logged.
        """
        try:
            stamp = self._stat()
            data = self._read()
        except RulesError as error:
            if self._current.path == DEFAULT_RULES_NAME and not self.path.exists():
                return False  # still no file: the built-in rules are not an error
            self._fail(error, None, trigger)
            return False
        return self._apply(data, stamp, trigger)

    def reload_if_changed(self) -> bool:
        """Cheap check for the watch loop: stat first, hash only if it changed."""
        try:
            stamp = self._stat()
        except RulesError as error:
            if self._current.path == DEFAULT_RULES_NAME:
                return False
            if self._error is None or self._stamp is not None:
                self._fail(error, None, "file-watch")  # the file went away: say so once
            return False
        if stamp == self._stamp:
            return False
        try:
            data = self._read()
        except RulesError as error:
            self._fail(error, stamp, "file-watch")
            return False
        return self._apply(data, stamp, "file-watch")

    def _apply(self, data: bytes, stamp: Stamp, trigger: str) -> bool:
        if version_of(data) == self._current.version:
            # Touched, or an edit undone: nothing to swap, and no error left.
            self._stamp = stamp
            self._clear_error()
            return False
        try:
            rules = load_rules_bytes(data, str(self.path))
        except RulesError as error:
            self._fail(error, stamp, trigger)
            return False
        previous = self._current.version
        self._current = rules
        self._stamp = stamp
        self._loaded_at = utcnow()
        self._clear_error()
        log.info("rules %s loaded from %s: %s", rules.version, self.path, rules.summary())
        self._tell(RulesChange("loaded", str(self.path), rules.version, previous, trigger))
        return True

    def _tell(self, change: RulesChange) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:  # recording a reload must never undo or block it
                log.exception("rules change listener %r failed", listener)

    def _fail(self, error: RulesError, stamp: Stamp | None, trigger: str) -> None:
        # Remember the stamp of the broken file so the watch loop does not
        # parse (and log) the same broken file every few seconds.
        self._stamp = stamp
        self._error = error
        self._error_at = utcnow()
        log.error(
            "rule file %s refused; keeping rules %s in force:\n%s", self.path, self._current.version, error
        )
        self._tell(RulesChange("refused", str(self.path), self._current.version, self._current.version, trigger,
                               str(error)))

    def _clear_error(self) -> None:
        self._error = None
        self._error_at = None

    def _stat(self) -> Stamp:
        return watched.stamp_of(self.path, RulesError)

    def _read(self) -> bytes:
        return watched.read(self.path, RulesError)

    def status(self) -> dict[str, Any]:
        """JSON-ready state for ``GET /api/rules``."""
        rules = self._current
        error = self._error
        return {
            "path": str(self.path),
            "version": rules.version,
            "loaded_at": self._loaded_at.isoformat(),
            "builtin": rules.path == DEFAULT_RULES_NAME,
            "rules": len(rules.rules),
            "queues": sorted(rules.queues),
            "error": str(error) if error else None,
            "errors": [e.as_dict() for e in error.errors] if error else [],
            "error_at": self._error_at.isoformat() if self._error_at else None,
        }

    async def watch(
        self, interval: float = 2.0, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    ) -> None:
        """Reload whenever the file changes; run as a task, cancel to stop.

        ``sleep`` is replaceable so tests can drive the loop without waiting.
        """
        await watched.poll(self.reload_if_changed, self.path, interval, sleep=sleep)
