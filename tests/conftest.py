"""Fixtures shared by all tests.

``redis_server``: a real redis-server (integration tests); under CI=true a
missing server fails the run instead of skipping. ``gateway``: the aiohttp app
on fakeredis or the real server, with ``drain()`` to run queued jobs.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from gateway.app import create_app
from gateway.runtime import load_live_rules, services_factory
from gateway.settings import Settings
from router.default import DEFAULT_RULES_YAML
from tests import hypothesis_profiles
from tests.support import IDENTITY_SECRET  # noqa: F401  (re-exported: tests import it from here)
from tests.support import ADMIN_TOKEN, IN_CI, RedisServer, settings_for
from workers import context, defaults
from workers.embedded import ThreadWorker

hypothesis_profiles.load()

# Every test names its rules: the built-in ones written to a file of the test session's own, never
# whatever ./routing.yaml or GATEWAY_RULES_PATH the shell that runs pytest happens to have.
BUILTIN_RULES = Path("/nonexistent/routing.yaml")  # set by the session fixture below


@pytest.fixture(scope="session", autouse=True)
def builtin_rules_file(tmp_path_factory) -> Path:
    global BUILTIN_RULES
    BUILTIN_RULES = tmp_path_factory.mktemp("rules") / "routing.yaml"
    BUILTIN_RULES.write_text(DEFAULT_RULES_YAML)
    return BUILTIN_RULES


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch) -> None:
    """No GATEWAY_* variable of the shell reaches a test (or a process a test starts)."""
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def redis_server():
    try:
        server = RedisServer()
    except FileNotFoundError as error:
        if IN_CI:
            pytest.fail(f"CI needs a real redis-server: {error}")
        pytest.skip(str(error))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


def make_settings(**overrides: Any) -> Settings:
    """Test settings on the session's built-in rule file unless ``rules_path`` is given."""
    return settings_for(overrides.pop("rules_path", BUILTIN_RULES), **overrides)


@dataclass
class Backend:
    """Redis clients for one test: fakeredis (one shared server) or a real redis-server."""

    settings: Settings
    fake_server: Any = None

    def async_client(self) -> Redis:
        if self.fake_server is not None:
            return fakeredis.FakeAsyncRedis(server=self.fake_server, decode_responses=True)
        return Redis.from_url(self.settings.redis_url, decode_responses=True)

    def sync_client(self) -> SyncRedis:
        if self.fake_server is not None:
            return fakeredis.FakeRedis(server=self.fake_server)
        return SyncRedis.from_url(self.settings.redis_url)

    def configure_jobs(self) -> None:
        """Jobs run on this backend's Redis with the settings' rules, as `gateway worker` would."""
        context.install(services_factory(self.settings, load_live_rules(self.settings), self.async_client,
                                         self.sync_client))

    def drain(self, queues: tuple[str, ...] = defaults.JOB_QUEUES) -> bool:
        """Run every queued job (and due scheduled ones) in this thread, like a burst worker."""
        connection = self.sync_client()
        worker = ThreadWorker([Queue(name, connection=connection) for name in queues], connection=connection)
        return worker.work(burst=True, with_scheduler=True, logging_level="WARNING")

    async def drain_async(self, queues: tuple[str, ...] = defaults.JOB_QUEUES) -> bool:
        return await asyncio.to_thread(self.drain, queues)


@pytest.fixture
def fake_backend() -> Backend:
    backend = Backend(make_settings(), fakeredis.FakeServer())
    backend.configure_jobs()
    yield backend
    context.install(None)


@pytest.fixture
def real_backend(redis_url) -> Backend:
    backend = Backend(make_settings(redis_url=redis_url))
    backend.configure_jobs()
    yield backend
    context.install(None)


@pytest.fixture(params=["fake", "real"])
def backend(request) -> Backend:
    """Runs a test on fakeredis and on a real redis-server (one contract, two stores)."""
    return request.getfixturevalue(f"{request.param}_backend")


async def start_client(aiohttp_client, backend: Backend, **app_options: Any):
    app = create_app(backend.settings, redis=backend.async_client(), sync_redis=backend.sync_client(), **app_options)
    client = await aiohttp_client(app)
    return client


@pytest.fixture
async def gateway(aiohttp_client, fake_backend):
    """A test client of the whole app on fakeredis; ``gateway.app['runtime']`` is the runtime."""
    client = await start_client(aiohttp_client, fake_backend)
    client.backend = fake_backend
    return client


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
