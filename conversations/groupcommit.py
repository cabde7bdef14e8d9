"""Group commit: the Redis commands of concurrent callers sent in one pipeline, each answered its own replies.

The ingest path costs round trips, not Redis work (docs/PERFORMANCE.md). When
32 webhooks are being stored at once, each waits for its own script's reply;
here one task sends every batch of commands queued meanwhile as one
non-transactional pipeline, so 32 round trips become one.

The guarantees hold because nothing about a single caller changes:

- A caller's commands stay in its order, and batches go out one at a time, in
  the order callers queued them: a customer's messages reach Redis in the
  order ingest was called for them.
- Each command is still atomic on its own (the ingest script is one script);
  a pipeline is not a transaction, and no caller relies on others' commands.
- ``run`` returns only after the batch's replies came back, and a caller gets
  only its own replies: a command error (a script's refusal) goes to the caller
  who sent it, a connection error to every caller of that batch (none was
  acknowledged; each retries or answers 503, and the ingest script's dedupe
  makes a retry of a stored message a duplicate, not a second copy).

Scripts are sent as ``EVALSHA``; a script the server lost (a restart, a
failover) is loaded and that one command sent again: a missing script ran
nothing, so sending it again cannot apply it twice.

Only for one Redis (or a Sentinel primary): on a Redis Cluster the callers'
keys live on different nodes, and the ingest keeps its per-message path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

log = logging.getLogger("gateway.groupcommit")

Command = tuple[str | int | float, ...]
MAX_BATCH_COMMANDS = 2000  # one pipeline's size; the rest waits for the next round trip


def script_sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


def _retrieved(future: asyncio.Future[list[Any]]) -> None:
    """Mark a batch's error as seen for a caller that went away (else asyncio logs it as never retrieved)."""
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class _Waiting:
    commands: Sequence[Command]
    wait: tuple[int, int] | None  # (replicas, timeout ms): WAIT after the batch, its reply appended
    done: asyncio.Future[list[Any]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def __post_init__(self) -> None:
        self.done.add_done_callback(_retrieved)


class GroupCommit:
    """One per process and Redis client; ``run`` is safe to call from any number of tasks of one loop."""

    def __init__(self, redis: Redis, scripts: Sequence[str] = (), *, shared: bool = True) -> None:
        """``shared=False``: each caller's commands go out as a pipeline of their own (no batching)."""
        self.redis = redis
        self.shared = shared
        self._scripts = {script_sha(source): source for source in scripts}
        self._queue: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None
        self.batches = 0  # how many pipelines were sent (tests and benchmarks read it)
        self.largest = 0  # the most callers one pipeline carried

    def evalsha(self, source: str, keys: Sequence[str], args: Sequence[str | int | float]) -> Command:
        """The command running a script registered with this group commit."""
        sha = script_sha(source)
        if sha not in self._scripts:
            raise KeyError("script not registered with this group commit")
        return ("EVALSHA", sha, len(keys), *keys, *args)

    async def run(self, commands: Sequence[Command], *, wait: tuple[int, int] | None = None) -> list[Any]:
        """Send ``commands`` in the next batch; their replies, once Redis answered them.

        ``wait`` = (replicas, timeout ms): a ``WAIT`` follows the batch (one for all its callers:
        the replication stream is one ordered log) and its reply ends this caller's replies.
        Raises the first command error among this caller's replies (after all of them came back).
        """
        if not self.shared:
            replies = await self._send([*commands, *([("WAIT", *wait)] if wait else [])])
        else:
            waiting = _Waiting(commands, wait)
            self._queue.append(waiting)
            if self._sender is None or self._sender.done():
                self._sender = asyncio.create_task(self._send_all(), name="group-commit")
            # shield: a caller that goes away (a closed socket) does not cancel the batch it is in.
            replies = await asyncio.shield(waiting.done)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def _send_all(self) -> None:
        while self._queue:
            batch: list[_Waiting] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].commands) <= MAX_BATCH_COMMANDS):
                waiting = self._queue.pop(0)
                batch.append(waiting)
                size += len(waiting.commands)
            commands = [command for waiting in batch for command in waiting.commands]
            waits = [waiting.wait for waiting in batch if waiting.wait]
            if waits:
                commands.append(("WAIT", max(w[0] for w in waits), max(w[1] for w in waits)))
            try:
                replies = await self._send(commands)
            except BaseException as error:
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            self.batches += 1
            self.largest = max(self.largest, len(batch))
            at = 0
            for waiting in batch:
                if not waiting.done.done():
                    own = replies[at:at + len(waiting.commands)]
                    waiting.done.set_result([*own, replies[-1]] if waiting.wait else own)
                at += len(waiting.commands)

    async def _send(self, commands: list[Command]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        lost = [n for n, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if lost:  # the server forgot a script: load it, then send just those commands again
            for sha in {str(commands[n][1]) for n in lost}:
                await self.redis.script_load(self._scripts[sha])
            async with self.redis.pipeline(transaction=False) as pipe:
                for n in lost:
                    pipe.execute_command(*commands[n])
                for n, reply in zip(lost, await pipe.execute(raise_on_error=False), strict=True):
                    replies[n] = reply
        return replies
