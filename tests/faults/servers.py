"""Real Redis processes for the fault tests: one server, a Sentinel set, a Cluster; all on loopback ports.

Shared with ``benchmarks/replica_ack.py``, so it never imports pytest.

Every process is started by the test and stopped by it (by its own pid).
Waiting is polling with a deadline (``wait_until_sync``), never a sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.support import free_port, wait_until_sync


BINARIES = ("redis-server", "redis-sentinel", "redis-cli")


def binary(name: str) -> str:
    """The path of a Redis program (tests/faults/conftest.py skips, or fails in CI, when one is missing)."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed (apt-get install -y redis-server redis-sentinel)")
    return path


def answers(url: str, *, role: str | None = None) -> bool:
    """The server at ``url`` answers PING (and has ``role``: master / slave)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        if not client.ping():
            return False
        return role is None or client.info("replication").get("role") == role
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


@dataclass
class RedisNode:
    """One redis-server on a fixed loopback port and data directory, so it can be restarted in place."""

    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="gateway-fault-redis-"))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> RedisNode:
        """Start (or start again, in the same directory); a server that does not answer is stopped."""
        command = [binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                   "--save", "", "--protected-mode", "no", "--logfile", str(Path(self.dir) / "redis.log"),
                   *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.kill()
                raise
        return self

    def wait_ready(self, timeout: float = 15) -> None:
        wait_until_sync(lambda: answers(self.url), timeout=timeout, what=f"redis-server on {self.port}")

    def client(self, **options: object) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True, **options)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """A clean stop (SHUTDOWN: the AOF is flushed and fsynced), as a service manager does it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)

    def kill(self) -> None:
        """kill -9: whatever the AOF policy had not written to disk is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def aof_args(fsync: str) -> list[str]:
    return ["--appendonly", "yes", "--appendfsync", fsync]


@dataclass
class SentinelSet:
    """A primary, one replica and three sentinels watching them (quorum 2)."""

    service: str = "gateway"
    down_after_ms: int = 1000
    primary: RedisNode = field(default_factory=lambda: RedisNode(aof_args("everysec")))
    replica: RedisNode | None = None
    sentinels: list[tuple[int, subprocess.Popen[bytes]]] = field(default_factory=list)
    dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="gateway-fault-sentinel-"))

    def start(self) -> SentinelSet:
        try:
            return self._start()
        except BaseException:
            self.stop()  # nothing started survives a failed start
            raise

    def _start(self) -> SentinelSet:
        self.primary.start()
        self.replica = RedisNode([*aof_args("everysec"), "--replicaof", "127.0.0.1", str(self.primary.port)]).start()
        wait_until_sync(self._replica_in_sync, timeout=15, what="the replica to sync")
        for n in range(3):
            port = free_port()
            conf = Path(self.dir) / f"sentinel-{n}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.dir}\n"
                f"logfile {self.dir}/sentinel-{n}.log\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 10000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            process = subprocess.Popen([binary("redis-sentinel"), str(conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            self.sentinels.append((port, process))
        wait_until_sync(self._sentinels_agree, timeout=20, what="three sentinels to see the primary and its replica")
        return self

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port, _ in self.sentinels)

    def master_address(self) -> tuple[str, int] | None:
        for port, _ in self.sentinels:
            client = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)
            try:
                host, master_port = client.execute_command("SENTINEL", "get-master-addr-by-name", self.service)
                return host, int(master_port)
            except (redis.exceptions.RedisError, TypeError, ValueError):
                continue
            finally:
                client.close()
        return None

    def _replica_in_sync(self) -> bool:
        assert self.replica is not None
        info = self.replica.client().info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port, _ in self.sentinels:
            client = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)
            try:
                masters = client.execute_command("SENTINEL", "masters")
                master = masters[0] if masters else {}
                if isinstance(master, list):  # RESP2: a flat field/value list
                    master = dict(zip(master[0::2], master[1::2]))
                if int(master.get("num-slaves", 0)) < 1 or int(master.get("num-other-sentinels", 0)) < 2:
                    return False
            except (redis.exceptions.RedisError, IndexError, ValueError):
                return False
            finally:
                client.close()
        return True

    def stop(self) -> None:
        for _, process in self.sentinels:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        self.primary.stop()
        if self.replica is not None:
            self.replica.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Cluster:
    """Three primaries, no replicas, every slot assigned."""

    nodes: list[RedisNode] = field(default_factory=list)

    def start(self) -> Cluster:
        try:
            return self._start()
        except BaseException:
            self.stop()  # nothing started survives a failed start
            raise

    def _start(self) -> Cluster:
        for _ in range(3):
            node = RedisNode(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                              "--cluster-node-timeout", "2000", "--appendonly", "no"], port=cluster_port())
            self.nodes.append(node.start())
        subprocess.run([binary("redis-cli"), "--cluster", "create", *(n.address for n in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        wait_until_sync(self._ok, timeout=20, what="the cluster to be ok on every node")
        return self

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def client(self) -> RedisCluster:
        return RedisCluster.from_url(self.url, decode_responses=True)

    def _ok(self) -> bool:
        for node in self.nodes:
            try:
                info = node.client().execute_command("CLUSTER", "INFO")
            except redis.exceptions.RedisError:
                return False
            text = info if isinstance(info, str) else info.decode()
            if "cluster_state:ok" not in text:
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) exists too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 <= 65535 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def env_without_gateway() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
