"""`gateway demo` starts on the embedded default and answers, with nothing but pip install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from tests.support import ROOT, free_port, wait_until_sync


def fetch(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def test_demo_runs_on_the_embedded_default():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_PORT": str(port), "GATEWAY_ADMIN_TOKEN": "demo-token"})
    process = subprocess.Popen([sys.executable, "-c", "from gateway.cli import main; main()", "demo"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_sync(lambda: fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=30,
                        what="the demo to answer /healthz")
        assert fetch(f"http://127.0.0.1:{port}/readyz")[0] == 200
        assert fetch(f"http://127.0.0.1:{port}/api/conversations", "demo-token") == (200, {"conversations": [],
                                                                                           "next_cursor": None})
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "EMBEDDED DEFAULT" in output and "nothing is persisted" in output
    assert "Gateway demo: agent inbox http://" in output and "/inbox  (" in output  # it opens onto the inbox
