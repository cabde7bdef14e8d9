"""Real ``gateway`` processes for the start/stop tests: run in a directory of the test's own, output to a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tests.support import ROOT, wait_until_sync


def gateway_env(**variables: str) -> dict[str, str]:
    """The test process's environment without any GATEWAY_* of the shell, plus ``variables``.

    PYTHONPATH points at this checkout so the process runs from any directory
    (a test's own, with its own .env and routing.yaml, or none).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(variables)
    return env


class GatewayProcess:
    """``python -m gateway.cli ARGS`` with stdout and stderr in one file (read while it runs)."""

    def __init__(self, *args: str, env: dict[str, str], cwd: Path | str, module: str = "gateway.cli") -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="gateway-out-", suffix=".log", delete=False)
        self.process = subprocess.Popen([sys.executable, "-m", module, *args], env=env, cwd=cwd,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]

    def wait_for(self, text: str, timeout: float = 60) -> None:
        wait_until_sync(lambda: text in self.output or self.process.poll() is not None, timeout=timeout,
                        what=f"{text!r} in the output")
        assert text in self.output, f"the process ended without {text!r}:\n{self.output}"

    def send(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.send(signum)
        try:
            return self.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


def run_to_exit(*args: str, env: dict[str, str], cwd: Path | str, timeout: float = 60) -> tuple[int, str]:
    """Run a command that should stop by itself; its exit code and whole output."""
    process = GatewayProcess(*args, env=env, cwd=cwd)
    try:
        code = process.wait(timeout)
        return code, process.output
    finally:
        process.close()


def http_status(url: str, *, method: str = "GET", data: bytes | None = None, timeout: float = 5) -> int:
    """The status code, or 0 when nothing answers."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wait_for_status(url: str, status: int = 200, timeout: float = 60) -> None:
    wait_until_sync(lambda: http_status(url) == status, timeout=timeout, what=f"{url} to answer {status}")
