"""Worker processes for the crash tests: started in their own process group, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def worker_env(redis_url: str, rules_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "GATEWAY_REDIS_URL": redis_url, "GATEWAY_RULES_PATH": str(rules_path),
        "GATEWAY_SECRET_KEY": "crash-test-secret",
        "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_WORKER__SWEEP_INTERVAL_SECONDS": "0.1",
        "GATEWAY_WORKER__OUTBOUND_LOCK_SECONDS": "3", "GATEWAY_WORKER__OUTBOUND_STUCK_SECONDS": "2",
        "GATEWAY_WORKER__SEND_TIMEOUT_SECONDS": "2", **extra,
    }


class WorkerHost:
    """``gateway worker`` (with its sweeper child and job horses) as one process group."""

    def __init__(self, env: dict[str, str], module: str = "gateway.cli", *queues: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", module, "worker", *queues], env=env, cwd=ROOT,
                                        start_new_session=True)

    def kill(self) -> None:
        """kill -9 of the whole host: the worker, the job it runs, the sweeper.

        RQ's work horse calls setsid(), so it is not in the worker's process group:
        the tree is collected from /proc and every process in it killed.
        """
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()




def descendants(root: int) -> list[int]:
    """Every process below ``root`` (Linux /proc), children before grandchildren."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found
