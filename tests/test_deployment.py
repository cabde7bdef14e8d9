"""The deployment files as a newcomer uses them: compose.yaml, the Dockerfile's steps, the Procfile under honcho.

No Docker daemon runs where this suite runs, so the image itself is not
built here; instead: compose.yaml is checked for what `docker compose up`
relies on (every command a real `gateway` subcommand, every GATEWAY_ name
a real setting, Redis with AOF, the start order), and the Dockerfile's
COPY and RUN steps are replayed in a fresh virtualenv in a directory
holding only what the image copies, whose `gateway serve` must then answer.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.request

import pytest
import redis
import yaml

from gateway.cli import build_parser
from gateway.settings import known_names
from tests.gateway.proc import GatewayProcess, gateway_env, http_status, run_to_exit, wait_for_status
from tests.support import IN_CI, ROOT, free_port, wait_until_sync

GATEWAY_SERVICES = ("web", "worker", "sweeper")


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def parses(command: list[str]) -> bool:
    assert command[0] == "gateway", command
    try:
        build_parser().parse_args(command[1:])
    except SystemExit:
        return False
    return True


def test_compose_runs_redis_with_aof_and_the_three_processes():
    services = compose()["services"]
    assert set(services) == {"redis", "keygen", *GATEWAY_SERVICES}
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert [services[name]["command"][:2] for name in GATEWAY_SERVICES] == [
        ["gateway", "serve"], ["gateway", "worker"], ["gateway", "sweeper"]]
    for name in GATEWAY_SERVICES:
        service = services[name]
        # The gateway waits for a healthy Redis (it refuses to start without one) and for its secrets.
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["depends_on"]["keygen"]["condition"] == "service_completed_successfully"
        assert service["init"] is True
        assert service["environment"]["GATEWAY_REDIS_URL"] == "redis://redis:6379/0"


def test_every_compose_command_is_a_real_gateway_subcommand_and_every_variable_a_setting():
    services = compose()["services"]
    for name, service in services.items():
        if name == "redis":
            continue
        assert parses(service["command"]), (name, service["command"])
        for variable in service.get("environment", {}):
            assert variable in known_names(), (name, variable)
    # The secrets keygen writes are the ones the processes read from GATEWAY_SECRETS_DIR.
    keygen = services["keygen"]["command"]
    assert keygen[keygen.index("--dir") + 1] == services["web"]["environment"]["GATEWAY_SECRETS_DIR"]


def test_every_procfile_line_is_a_real_gateway_subcommand():
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    names = [line.split(":", 1)[0] for line in lines]
    assert names[0] == "web" and "sweeper" in names
    for line in lines:
        assert parses(shlex.split(line.split(":", 1)[1])), line


def dockerfile_steps() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    steps = []
    for line in text.splitlines():
        match = re.match(r"^(FROM|COPY|RUN|WORKDIR|ENV|USER|EXPOSE|STOPSIGNAL|CMD)\s+(.*)$", line.strip())
        if match:
            steps.append((match.group(1), match.group(2)))
    return steps


def test_the_dockerfile_copies_every_package_the_project_installs():
    # A package pyproject.toml installs but the image does not copy builds fine and fails at the first
    # import (templates/ and yamlmarks/ were once missing: every container exited at start).
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {argument.split()[0].rstrip("/") for kind, argument in dockerfile_steps() if kind == "COPY"}
    assert packages <= copied, f"the Dockerfile does not COPY {sorted(packages - copied)}"
    top_level = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks"}
    assert top_level <= packages, f"pyproject.toml does not install {sorted(top_level - packages)}"


def test_the_dockerfiles_steps_install_a_gateway_that_serves(tmp_path, redis_url):
    """COPY into an empty directory, RUN the pip step in a fresh virtualenv, then run its CMD against Redis."""
    steps = dockerfile_steps()
    assert steps[0] == ("FROM", "python:3.11-slim") and steps[-1] == ("CMD", '["gateway", "serve"]')
    app = tmp_path / "app"
    app.mkdir()
    venv = tmp_path / "venv"
    # The dependencies come from this machine's site-packages (already satisfied, nothing downloaded
    # but the build backend pip's isolated build asks for); the gateway is built from the copied files only.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    for kind, argument in steps:
        if kind == "COPY":
            *sources, _ = argument.split()
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, app / source, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(origin, app / source)
        elif kind == "RUN" and argument.startswith("pip install"):
            done = subprocess.run(shlex.split(argument), cwd=app, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
    assert (venv / "bin" / "gateway").exists()

    # The image's command, from a directory without the source tree: package data (widget, Lua scripts) included.
    port = free_port()
    run_env = {**gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port)),
               "PATH": env["PATH"]}
    run_env.pop("PYTHONPATH", None)
    workdir = tmp_path / "run"
    workdir.mkdir()
    process = subprocess.Popen([str(venv / "bin" / "gateway"), "serve"], cwd=workdir, env=run_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Ready, or gone (a package the image lacks ends it at its first import): say why at once.
        wait_until_sync(lambda: process.poll() is not None or http_status(f"http://127.0.0.1:{port}/readyz") == 200,
                        timeout=90, what="the installed gateway to get ready")
        assert process.poll() is None, f"the installed gateway exited:\n{process.communicate()[0][-3000:]}"
        assert http_status(f"http://127.0.0.1:{port}/webchat/widget.js") == 200
        where = subprocess.run([str(venv / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
                               cwd=workdir, env=run_env, capture_output=True, text=True, check=True).stdout
        assert where.startswith(str(venv)), where  # the copy installed from the image's files, not this checkout
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in output, output


def test_honcho_starts_the_procfile_and_stops_it(tmp_path, redis_url):
    honcho = shutil.which("honcho")
    if honcho is None:  # the test extra installs it: CI must run this, not skip it
        (pytest.fail if IN_CI else pytest.skip)("honcho is not installed (pip install '.[test]')")
    port = free_port()
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port))
    process = subprocess.Popen([honcho, "start", "-f", str(ROOT / "Procfile"), "-d", str(tmp_path), "--no-colour"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/readyz", timeout=120)
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        client = redis.Redis.from_url(redis_url)
        # Every worker registered with RQ, and the sweeper leads.
        wait_until_sync(lambda: len(client.smembers("rq:workers")) == 3, timeout=120, what="three RQ workers")
        wait_until_sync(lambda: client.exists("gw:timers:sweeper"), timeout=60, what="the sweeper")
        client.close()
    finally:
        process.send_signal(signal.SIGTERM)  # honcho passes it to every process
        output, _ = process.communicate(timeout=90)
    assert "Traceback" not in output, output
    for name in ("web.1", "outbound.1", "service.1", "support.1", "sweeper.1"):
        assert f"{name}" in output and re.search(rf"{re.escape(name)}\s*\|?.*(stopped|exited with code 0)", output), \
            (name, output)


def test_keygen_writes_the_secrets_once_and_the_processes_read_them_like_compose_does(tmp_path, redis_url):
    secrets_dir = tmp_path / "secrets"
    code, printed = run_to_exit("keygen", env=gateway_env(), cwd=tmp_path)
    assert code == 0 and re.fullmatch(r"[A-Za-z0-9_-]{43}\n", printed)  # `$(gateway keygen)`
    code, output = run_to_exit("keygen", "--dir", str(secrets_dir), env=gateway_env(), cwd=tmp_path)
    assert code == 0 and output.count("written") == 2
    files = {path.name: path.read_text() for path in secrets_dir.iterdir()}
    assert set(files) == {"GATEWAY_SECRET_KEY", "GATEWAY_ADMIN_TOKEN"}
    assert all(oct(path.stat().st_mode & 0o777) == "0o600" for path in secrets_dir.iterdir())
    code, output = run_to_exit("keygen", "--dir", str(secrets_dir), env=gateway_env(), cwd=tmp_path)
    assert output.count("kept") == 2 and {p.name: p.read_text() for p in secrets_dir.iterdir()} == files

    port = free_port()
    web = GatewayProcess("serve", env=gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_PORT=str(port),
                                                  GATEWAY_SECRETS_DIR=str(secrets_dir)), cwd=tmp_path)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/readyz")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/conversations",
                                         headers={"Authorization": f"Bearer {files['GATEWAY_ADMIN_TOKEN'].strip()}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        assert web.stop() == 0
