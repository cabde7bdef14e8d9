"""A dead Redis under a running worker and sweeper: one line when it goes, one when it is back, no tracebacks.

Before: `gateway sweeper` wrote some 2,000 traceback lines in 20 s of
outage, and RQ's scheduler process died. Here both processes (the worker
with its sweeper child, and a sweeper of its own) run on a real
redis-server that is shut down for 15 s and started again on the same
port; the test counts their output lines during the outage, waits for them
to notice Redis is back, and has each do real work afterwards.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time

import redis
from rq import Queue
from rq.job import JobStatus

from tests.gateway.proc import GatewayProcess, gateway_env
from tests.support import free_port, wait_until_sync
from workers import defaults, outbound

OUTAGE_SECONDS = 15


class OwnRedis:
    """A redis-server on a port of our choosing, so it can come back where the processes look for it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="gateway-outage-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        wait_until_sync(lambda: _pings(client), timeout=20, what="redis-server")
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def test_worker_and_sweeper_wait_out_a_dead_redis_quietly_and_recover(redis_server, tmp_path):
    server = OwnRedis(free_port())
    server.start()
    env = gateway_env(GATEWAY_REDIS_URL=f"redis://127.0.0.1:{server.port}/0", GATEWAY_SECRET_KEY="k",
                      GATEWAY_LOG_LEVEL="INFO")
    worker = GatewayProcess("worker", env=env, cwd=tmp_path)  # RQ worker + scheduler + sweeper child
    sweeper = GatewayProcess("sweeper", env=env, cwd=tmp_path)
    client = redis.Redis(port=server.port)
    try:
        worker.wait_for("Listening on", timeout=90)
        worker.wait_for("running every", timeout=90)  # its sweeper child
        sweeper.wait_for("running every", timeout=90)
        before = {"worker": len(worker.lines()), "sweeper": len(sweeper.lines())}

        server.kill()
        killed = time.monotonic()
        worker.wait_for("unreachable", timeout=30)
        sweeper.wait_for("unreachable", timeout=30)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - killed)))  # the outage itself: its length is the test
        during = {"worker": worker.lines()[before["worker"]:], "sweeper": sweeper.lines()[before["sweeper"]:]}

        server.start()
        restarted = time.monotonic()
        worker.wait_for("reachable again", timeout=30)
        sweeper.wait_for("reachable again", timeout=30)
        recovered = time.monotonic() - restarted

        # Each does real work again: the worker runs a job, the sweepers take the leader lock.
        job = Queue(defaults.OUTBOUND, connection=client).enqueue(outbound.deliver, "cnv_none")
        wait_until_sync(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout=60, what="a job to run")
        wait_until_sync(lambda: client.exists("gw:timers:sweeper"), timeout=30, what="a sweeper to lead")
    finally:
        codes = {"worker": worker.stop(signal.SIGTERM), "sweeper": sweeper.stop(signal.SIGTERM)}
        client.close()
        server.close()
    print(f"\nlines during a {OUTAGE_SECONDS}s outage: worker (with its sweeper) {len(during['worker'])}, "
          f"sweeper {len(during['sweeper'])}; back {recovered:.1f}s after Redis restarted")
    for name, lines in during.items():
        text = "\n".join(lines)
        assert "Traceback" not in text, text
        assert len(lines) <= (4 if name == "worker" else 2), text  # worker: its own line and its sweeper's
    assert recovered < 15  # the back-off waits at most 5 s between tries
    assert codes == {"worker": 0, "sweeper": 0}
    for process in (worker, sweeper):
        assert "Traceback" not in process.output, process.output
