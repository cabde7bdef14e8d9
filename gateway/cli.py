"""The ``gateway`` command: serve, demo, worker, sweeper, keygen, rules, agents, report, templates.

Every process starts the same way (``gateway/lifecycle.py``): settings, then
logging, then one check at a time that fails with one line and exit code 2;
SIGTERM/SIGINT are caught from the first line of :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from gateway import agents_cli, envvalues, eventloop, index_cli, logs, redaction, report_cli
from gateway.app import create_app
from gateway.appkeys import SERVICES
from gateway.embedded import start_embedded
from gateway.lifecycle import STOP, open_rules, require_redis, require_secret_key, serve_web
from gateway.redis_clients import RedisClients
from gateway.runtime import services_factory
from gateway.settings import Settings, SettingsError, known_names, load_settings
from router import cli as rules_cli
from router.live import rules_path_from_env
from templates import cli as templates_cli
from workers import context, defaults, rqworker
from workers import sweeper as sweeper_module
from workers.sweeper import Sweeper

log = logging.getLogger("gateway")
EXAMPLE_RULES = Path("examples/routing.yaml")
SECRET_FILES = ("GATEWAY_SECRET_KEY", "GATEWAY_ADMIN_TOKEN")


def _start(**overrides: object) -> Settings:
    """Settings, logging, and a warning for every GATEWAY_… name no setting reads."""
    settings = load_settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    redaction.install(redaction.secret_values(settings))  # no configured secret ever reaches a log line
    seen = [*os.environ, *envvalues.dotenv_names(Path(".env"))]
    for warning in envvalues.unknown_names(seen, known_names()):
        log.warning(warning)
    return settings


async def freeze_heap(app: web.Application) -> None:
    """After start-up: what the process loaded stays for good, so the collector stops walking it.

    A full collection walks every tracked object: the libraries' few hundred
    thousand made each one take 100-200 ms, an event-loop pause of its own
    (measured while a 25 MB mail arrived). Frozen objects are never collected;
    everything created later is, as before.
    """
    gc.collect()
    gc.freeze()


def serve(args: argparse.Namespace) -> int:
    settings = _start()
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway serve`; use `gateway demo` for the embedded default")
    require_secret_key(settings, "serve")
    rules = open_rules(settings)
    require_redis(settings, "serve")
    eventloop.install(settings.event_loop)
    app = create_app(settings, rules=rules)
    app.on_startup.append(freeze_heap)
    asyncio.run(serve_web(app, settings))
    return 0


def demo(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["port"] = args.port
    settings = _start(**overrides)
    if "rules_path" not in settings.model_fields_set and not settings.rules_path.exists() and EXAMPLE_RULES.exists():
        # A newcomer sees real routing: the shipped example rules, not the catch-all default.
        settings = load_settings(**overrides, rules_path=EXAMPLE_RULES)
    generated = {}
    if settings.admin_token is None:
        generated["admin_token"] = SecretStr(secrets.token_urlsafe(16))
    if settings.secret_key is None:
        generated["secret_key"] = SecretStr(secrets.token_urlsafe(32))
    settings = settings.model_copy(update=generated)
    redaction.install(redaction.secret_values(settings))  # after generating: keep those out of the log too
    rules = open_rules(settings)
    if settings.redis_configured:
        require_redis(settings, "demo")
        log.info("demo on %s", RedisClients(settings).describe())
        app = create_app(settings, rules=rules, demo=True)
    else:
        embedded, workers, rules = start_embedded(settings, rules)
        log.warning("running on the EMBEDDED DEFAULT: in-process Redis and job workers; nothing is persisted. "
                    "Set GATEWAY_REDIS_URL for real use.")
        app = create_app(settings, redis=embedded.async_client(), sync_redis=embedded.sync_client(), rules=rules,
                         demo=True)

        async def run_workers(app: web.Application) -> AsyncIterator[None]:
            # Jobs in a thread; the SLA sweeper on this loop (the embedded Redis lives in this process).
            workers.start()
            stop = asyncio.Event()
            sweeper = asyncio.create_task(Sweeper(app[SERVICES]).run(settings.worker.sweep_interval_seconds, stop))
            yield
            stop.set()
            await sweeper
            workers.stop()  # the jobs already queued run first

        app.cleanup_ctx.append(run_workers)
    assert settings.admin_token is not None  # set above when the environment had none
    token = settings.admin_token.get_secret_value()
    if "admin_token" in generated:
        # The one place a secret is written: the operator has no other way to learn a generated token.
        # It goes to stdout, never through the log; the page takes it out of its address bar at once.
        line = (f"Gateway demo: agent inbox {settings.base_url}/inbox?token={token}  (admin API token: {token}; "
                f"customer page with the chat widget: {settings.base_url}/ ; rules: {settings.rules_path})")
    else:
        line = (f"Gateway demo: agent inbox {settings.base_url}/inbox  (admin API token: the one in GATEWAY_ADMIN_TOKEN; "
                f"customer page with the chat widget: {settings.base_url}/ ; rules: {settings.rules_path})")

    def announce() -> None:
        # Only now: the port accepts connections, so whoever reacts to this line can connect.
        print(logs.fatal_line(line, json_format=settings.log_format == "json", level="INFO"), flush=True)

    asyncio.run(serve_web(app, settings, on_listening=announce))
    return 0


def worker(args: argparse.Namespace) -> int:
    settings = _start()
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway worker` (the demo runs its workers in-process)")
    names = args.queues or list(defaults.JOB_QUEUES)
    unknown = [name for name in names if name not in defaults.JOB_QUEUES]
    if unknown:
        raise SettingsError(f"unknown job queue {', '.join(map(repr, unknown))}: the queues are "
                            f"{', '.join(defaults.JOB_QUEUES)}")
    require_secret_key(settings, "worker")
    # The rule file is parsed once here; each job checks it for edits (a stat call).
    rules = open_rules(settings)
    require_redis(settings, "worker")
    clients = RedisClients(settings)
    log.info("data on %s", clients.describe())
    context.install(services_factory(settings, rules), keep=True)  # one loop and one set of clients for all jobs
    sweeper = None if args.no_sweeper else _start_sweeper()
    try:
        rqworker.run(clients.queue(), names, address=clients.describe(),
                     maintenance_interval=settings.worker.maintenance_interval_seconds,
                     logging_level=settings.log_level, stop=STOP)
    finally:
        context.install(None)  # closes the jobs' clients
        if sweeper is not None:
            _stop_child(sweeper)
    return 0


def _start_sweeper() -> subprocess.Popen[bytes]:
    """The SLA sweeper as a child process: its own event loop and clients, and RQ's scheduler forks
    from the worker, which is unsafe beside a thread."""
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "sweeper", "--parent", str(os.getpid())])


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)  # it finishes its pass and hands the leader lock over
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def sweeper(args: argparse.Namespace) -> int:
    settings = _start()
    if not settings.redis_configured:
        raise SettingsError("GATEWAY_REDIS_URL: required by `gateway sweeper`")
    require_secret_key(settings, "sweeper")
    rules = open_rules(settings)
    if args.parent is None:  # started by `gateway worker`, which checked Redis: wait out an outage instead
        require_redis(settings, "sweeper")
    context.install(services_factory(settings, rules))
    sweeper_module.main(args.parent, stop_requested=lambda: STOP.requested)
    return 0


def keygen(args: argparse.Namespace) -> int:
    """Print a new secret; with ``--dir``, write the secret files a deployment shares (kept if present)."""
    if args.dir is None:
        print(secrets.token_urlsafe(32))
        return 0
    directory: Path = args.dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in SECRET_FILES:
            path = directory / name
            if path.exists() and path.read_text().strip():
                print(f"{path}: kept")
                continue
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
            print(f"{path}: written")
    except OSError as error:
        raise SettingsError(f"keygen: cannot write to {directory}: {error.strerror or error}") from None
    return 0


def configured_rules() -> tuple[Path, bool]:
    """The rule file `gateway serve` would load, and whether it was named (environment or .env)."""
    try:
        settings = load_settings()
    except SettingsError:  # another setting is bad: the rules commands still look where the gateway would
        return rules_path_from_env()
    return settings.rules_path, "rules_path" in settings.model_fields_set


def _json_requested() -> bool:
    """GATEWAY_LOG_FORMAT=json asked for, even if the settings as a whole could not be read."""
    return os.environ.get("GATEWAY_LOG_FORMAT", "").strip().lower() == "json"


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
    sweeper_parser = sub.add_parser("sweeper", help="run the SLA timer and outbound recovery sweeper")
    sweeper_parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)  # set by `gateway worker`
    sweeper_parser.set_defaults(func=sweeper)
    keygen_parser = sub.add_parser("keygen", help="print a new GATEWAY_SECRET_KEY (or write secret files to --dir)")
    keygen_parser.add_argument("--dir", type=Path, default=None,
                               help="write GATEWAY_SECRET_KEY and GATEWAY_ADMIN_TOKEN files here unless present "
                                    "(read back with GATEWAY_SECRETS_DIR)")
    keygen_parser.set_defaults(func=keygen)
    rules_cli.register(sub, configured=configured_rules)
    agents_cli.register(sub)
    report_cli.register(sub)
    templates_cli.register(sub)
    index_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    STOP.install()  # first: a stop signal from here on is never lost
    try:
        args = build_parser().parse_args(argv)
        try:
            code = args.func(args)
        except SettingsError as error:
            print(logs.fatal_line(f"gateway: {error}", json_format=_json_requested()), file=sys.stderr)
            code = 2
    finally:
        for signum, handler in previous.items():  # for callers in-process (tests); a process exits next
            signal.signal(signum, handler)
    sys.exit(code)


if __name__ == "__main__":
    main()
