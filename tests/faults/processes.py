"""The gateway's own processes for the fault tests: ``gateway serve``, ``worker``, ``sweeper`` as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import redis

from tests.faults.servers import env_without_gateway
from tests.support import ROOT, free_port, wait_until_sync
from tests.workers.processes import descendants

ADMIN_TOKEN = "fault-admin-token"
SECRET_KEY = "fault-secret-key"
TWILIO_TOKEN = "fault-twilio-token"
TWILIO_SID = "AC" + "f" * 32
OUR_NUMBER = "+15005550006"

# Timers that fire within seconds, so a test sees the sweeper work.
RULES = """\
queues:
  service:
    sla_policy: quick
  support:
    sla_policy: quick
sla_policies:
  quick:
    first_response: 3s
    resolution: 1h
default:
  queue: service
  tier: 1
  priority: normal
"""


def rules_file(text: str = RULES) -> Path:
    handle, name = tempfile.mkstemp(prefix="gateway-fault-rules-", suffix=".yaml")
    os.close(handle)
    Path(name).write_text(text)
    return Path(name)


def gateway_env(redis: dict[str, str], rules: Path, **extra: str) -> dict[str, str]:
    """Settings of every gateway process in a fault test; ``redis`` holds the GATEWAY_*REDIS* variables."""
    return {
        **env_without_gateway(), **redis,
        "GATEWAY_RULES_PATH": str(rules), "GATEWAY_SECRET_KEY": SECRET_KEY, "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_TWILIO__ACCOUNT_SID": TWILIO_SID, "GATEWAY_TWILIO__AUTH_TOKEN": TWILIO_TOKEN,
        "GATEWAY_TWILIO__FROM_NUMBER": OUR_NUMBER, "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_WORKER__SWEEP_INTERVAL_SECONDS": "0.2", "GATEWAY_WORKER__OUTBOUND_STUCK_SECONDS": "2",
        "GATEWAY_WORKER__OUTBOUND_LOCK_SECONDS": "5", "GATEWAY_WORKER__SEND_TIMEOUT_SECONDS": "3",
        **extra,
    }


class Process:
    """One gateway command in its own process group, its output in a file for the failure message."""

    def __init__(self, args: list[str], env: dict[str, str], name: str) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"gateway-fault-{name}-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], env=env, cwd=ROOT,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the process and everything it started (RQ's horses leave the process group)."""
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.kill()
        if not os.environ.get("KEEP_FAULT_LOGS"):
            self.log.unlink(missing_ok=True)


class WebProcess(Process):
    """``gateway serve`` on a free port; ready once /healthz answers."""

    def __init__(self, env: dict[str, str], *, port: int | None = None, public_url: str | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "GATEWAY_PORT": str(self.port), "GATEWAY_PUBLIC_URL": public_url or self.url}
        super().__init__(["serve"], env, f"web-{self.port}")
        try:
            wait_until_sync(lambda: self.answers("/healthz") == 200 or not self.alive(), timeout=30,
                            what="gateway serve to listen")
            assert self.alive(), self.output()
        except BaseException:
            self.stop()  # the caller never got hold of it
            raise

    def answers(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return None


def workers_running(queue_url: str, data_url: str | None = None, *, workers: int = 1) -> bool:
    """RQ workers registered on the queue Redis, and a sweeper holding its leader lock on the data Redis."""
    queue = redis.Redis.from_url(queue_url, socket_timeout=1)
    data = redis.Redis.from_url(data_url or queue_url, socket_timeout=1)
    try:
        return queue.scard("rq:workers") >= workers and bool(data.exists("gw:timers:sweeper"))
    except redis.exceptions.RedisError:
        return False
    finally:
        queue.close()
        data.close()


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
