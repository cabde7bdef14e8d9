"""A file an operator edits while the gateway runs: stat it cheaply, read it, poll it.

The rules (``router.live``) and the templates (``templates.live``) both keep the
last good version in force and read the file again only when its stamp changes.
This is the part they share; what "load" and "in force" mean stays with each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from yamlmarks.errors import FileError, FileErrors

log = logging.getLogger("gateway.files")


@dataclass(frozen=True, slots=True)
class Stamp:
    """What ``stat`` says about the file; a different stamp means "read it again"."""

    mtime_ns: int
    size: int
    inode: int


def stamp_of(path: Path, errors: type[FileErrors]) -> Stamp:
    """The file's stamp.

    Raises:
        errors: the file cannot be stat'ed (gone, or no permission), as one error at 1:1.
    """
    try:
        st = path.stat()
    except OSError as error:
        raise _unreadable(path, errors, error) from None
    return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


def read(path: Path, errors: type[FileErrors]) -> bytes:
    """The file's bytes.

    Raises:
        errors: the file cannot be read, as one error at 1:1.
    """
    try:
        return path.read_bytes()
    except OSError as error:
        raise _unreadable(path, errors, error) from None


def _unreadable(path: Path, errors: type[FileErrors], error: OSError) -> FileErrors:
    return errors([FileError(str(path), 1, 1, f"cannot read the {errors.kind}: {error.strerror}")])


async def poll(check: Callable[[], object], path: Path, interval: float, *,
               sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Call ``check`` every ``interval`` seconds, off the event loop; run as a task, cancel to stop.

    Loading a large file takes milliseconds, hence the thread. ``sleep`` is replaceable so
    tests drive the loop without waiting.
    """
    while True:
        try:
            await asyncio.to_thread(check)
        except Exception:  # a bug here must not stop hot reload for good
            log.exception("checking %s failed", path)
        await sleep(interval)
