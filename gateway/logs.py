"""Logging for every process: ``GATEWAY_LOG_FORMAT=text`` (default) or ``json``, one record per line.

JSON: one object per line, ``{"time", "level", "logger", "message"}`` plus
``conversation_id``, ``message_id`` and ``customer_id`` where the line is
about one (bound by ``conversations.logcontext.about`` or passed as
``extra=``), and ``exception`` (the traceback as one string) when there is
one. Uncaught exceptions, Python warnings, RQ's and aiohttp's own lines go
through the same handler, so every line of a process's output parses.
Text: the classic line, with the ids appended as ``[conversation_id=…]``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from conversations import logcontext
from conversations.clock import utcnow

log = logging.getLogger("gateway")


def ids_of(record: logging.LogRecord) -> dict[str, str]:
    ids = dict(logcontext.current())
    for name in logcontext.FIELDS:
        value = getattr(record, name, None)
        if value:
            ids[name] = str(value)
    return ids


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(ids_of(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # as logging.Formatter does: the text a filter may have redacted wins
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        ids = ids_of(record)
        return line + (" [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]" if ids else "")


def fatal_line(message: str, *, json_format: bool, level: str = "CRITICAL") -> str:
    """A line printed outside the log (a refused start; the demo's URL): plain, or one JSON object for JSON logs."""
    if not json_format:
        return message
    return json.dumps({"time": utcnow().isoformat(timespec="milliseconds"), "level": level,
                       "logger": "gateway", "message": message}, ensure_ascii=False)


def configure(level: str, fmt: str = "text") -> None:
    """Install the one handler (stderr) on the root logger; idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiosmtpd logs every SMTP command at INFO: a line per command of every mail is noise, not news.
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    log.critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    log.critical("uncaught %s in thread %s", args.exc_type.__name__, args.thread.name if args.thread else "?",
                 exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
