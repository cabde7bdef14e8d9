"""The mail parser's worker processes: what starting one costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

# Importing the web stack costs over a second of CPU; a forked worker that inherits it, milliseconds.
MAX_WORKER_START_CPU = 0.5


@pytest.mark.parametrize("main", [["-m", "tests.email.parser_host"], [str(ROOT / "tests/email/parser_script.py")]],
                         ids=["python -m module", "console script"])
def test_a_parser_worker_inherits_the_main_module_instead_of_importing_it_again(main):
    """multiprocessing has each worker re-run the parent's main module (the whole web stack for
    ``gateway serve``); the fork server imports what it imports once, so a worker (replaced every 200
    mails) starts in milliseconds of CPU instead of seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # a script's own directory is first on sys.path, not the root
    done = subprocess.run([sys.executable, *main], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                          check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["text"] == "hello from a worker"
    assert report["worker_cpu"] < MAX_WORKER_START_CPU, report
    assert "RuntimeWarning" not in done.stderr, done.stderr
