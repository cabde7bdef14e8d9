"""The ``gateway`` command: serve, demo, worker, rules."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr
from rq import Queue

from gateway import index_cli, redaction
from gateway.app import create_app
from gateway.appkeys import DEMO, SERVICES
from gateway.embedded import start_embedded
from gateway.redis_clients import RedisClients
from gateway.worker_host import GatewayWorker, run_worker
from gateway.runtime import load_live_rules, services_factory
from gateway.settings import Settings, SettingsError, load_settings
from router import cli as rules_cli
from workers import context, defaults
from workers import sweeper as sweeper_module
from workers.sweeper import Sweeper

log = logging.getLogger("gateway")
EXAMPLE_RULES = Path("examples/routing.yaml")


def _logging(settings: Settings) -> None:
    """Log to stderr, never writing a configured secret or a credential-shaped string (gateway/redaction.py)."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redaction.install(redaction.secret_values(settings))


def _run(app: web.Application, settings: Settings) -> None:
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log_class=redaction.AccessLogger)


def serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    _logging(settings)
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway serve`; use `gateway demo` for the embedded default")
    _require_secret_key(settings, "serve")
    log.info("data on %s", RedisClients(settings).describe())
    _run(create_app(settings), settings)
    return 0


def demo(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    if "rules_path" not in settings.model_fields_set and not settings.rules_path.exists() and EXAMPLE_RULES.exists():
        # A newcomer sees real routing: the shipped example rules, not the catch-all default.
        settings = load_settings(**overrides, rules_path=EXAMPLE_RULES)
    generated = {}
    if settings.admin_token is None:
        generated["admin_token"] = _secret(secrets.token_urlsafe(16))
    if settings.secret_key is None:
        generated["secret_key"] = _secret(secrets.token_urlsafe(32))
    settings = settings.model_copy(update=generated)
    _logging(settings)  # after generating: the generated token is a secret to keep out of the log too
    if settings.redis_configured:
        log.info("demo on %s", RedisClients(settings).describe())
        app = create_app(settings)
    else:
        embedded, workers, rules = start_embedded(settings)
        log.warning("running on the EMBEDDED DEFAULT: in-process Redis and job workers; nothing is persisted. "
                    "Set GATEWAY_REDIS_URL for real use.")
        app = create_app(settings, redis=embedded.async_client(), sync_redis=embedded.sync_client(), rules=rules)

        async def run_workers(app: web.Application) -> AsyncIterator[None]:
            # Jobs in a thread; the SLA sweeper on this loop (the embedded Redis lives in this process).
            workers.start()
            stop = asyncio.Event()
            sweeper = asyncio.create_task(Sweeper(app[SERVICES]).run(settings.worker.sweep_interval_seconds, stop))
            yield
            stop.set()
            await sweeper
            workers.stop()

        app.cleanup_ctx.append(run_workers)
    app[DEMO] = True
    assert settings.admin_token is not None  # set above when the environment had none
    if "admin_token" in generated:
        # The one place a secret is written: the operator has no other way to learn a generated token.
        # It goes to stdout, never through the log; the page takes it out of its address bar at once.
        token = settings.admin_token.get_secret_value()
        print(f"Gateway demo on {settings.base_url}/?token={token}  (admin API token: {token}; "
              f"rules: {settings.rules_path})", flush=True)
    else:
        print(f"Gateway demo on {settings.base_url}/  (admin API token: the one in GATEWAY_ADMIN_TOKEN; "
              f"rules: {settings.rules_path})", flush=True)
    _run(app, settings)
    return 0


def worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    _logging(settings)
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway worker` (the demo runs its workers in-process)")
    _require_secret_key(settings, "worker")
    clients = RedisClients(settings)
    log.info("data on %s", clients.describe())
    connection = clients.queue()
    names = args.queues or list(defaults.JOB_QUEUES)
    # The rule file is parsed once here and inherited by every forked job.
    context.install(services_factory(settings, load_live_rules(settings)))
    sweeper = None if args.no_sweeper else _start_sweeper()
    try:
        run_worker(lambda: GatewayWorker([Queue(name, connection=connection) for name in names],
                                         connection=connection,
                                         maintenance_interval=settings.worker.maintenance_interval_seconds),
                   connection, settings.log_level.upper())
    finally:
        if sweeper is not None:
            sweeper.terminate()
            sweeper.wait(timeout=10)
    return 0


def _start_sweeper() -> subprocess.Popen[bytes]:
    """The SLA sweeper as a child process: RQ forks per job, and forking beside a thread is unsafe."""
    env = {**os.environ, "GATEWAY_SWEEPER_PARENT": str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "sweeper"], env=env)


def sweeper(args: argparse.Namespace) -> int:
    settings = load_settings()
    _logging(settings)
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway sweeper`")
    _require_secret_key(settings, "sweeper")
    context.install(services_factory(settings, load_live_rules(settings)))
    parent = os.environ.get("GATEWAY_SWEEPER_PARENT")
    sweeper_module.main(int(parent) if parent else None)
    return 0


def _require_secret_key(settings: Settings, command: str) -> None:
    if settings.secret_key is None:
        raise SettingsError(f"GATEWAY_SECRET_KEY: required by `gateway {command}`: a long random string, "
                            "the same on every web and worker process (it signs visitor tokens and reply addresses)")


def _secret(value: str) -> SecretStr:
    return SecretStr(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Omnichannel message routing gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the web process (needs GATEWAY_REDIS_URL)").set_defaults(func=serve)
    demo_parser = sub.add_parser("demo", help="everything in one process, on the embedded default")
    demo_parser.add_argument("--port", type=int, default=None)
    demo_parser.set_defaults(func=demo)
    worker_parser = sub.add_parser("worker", help="run an RQ worker with the scheduler")
    worker_parser.add_argument("queues", nargs="*", help="job queues (default: outbound service support)")
    worker_parser.add_argument("--no-sweeper", action="store_true", help="do not start the SLA/outbound sweeper")
    worker_parser.set_defaults(func=worker)
    sub.add_parser("sweeper", help="run the SLA timer and outbound recovery sweeper").set_defaults(func=sweeper)
    rules_cli.register(sub)
    index_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        sys.exit(args.func(args))
    except SettingsError as error:
        print(f"gateway: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
