"""The benchmarks run without a test runner: they share tests/support.py, never the pytest fixtures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

BENCHMARKS = sorted(f"benchmarks.{path.stem}" for path in (ROOT / "benchmarks").glob("*.py")
                    if path.stem != "__init__")


@pytest.mark.parametrize("module", BENCHMARKS)
def test_a_benchmark_imports_without_pytest(module):
    check = f"import sys; import {module}; assert 'pytest' not in sys.modules, 'pytest was imported'"
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_timers_benchmark_answers_help_without_pytest():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "benchmarks.timers", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--conversations" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "pytest" not in imported and "_pytest" not in imported


# Each benchmark at a tiny size, so none can rot: the ones with one server process, then the ones
# with several (SMTP listener; web + worker processes with the Slack and Twilio fakes).
@pytest.mark.parametrize("group", [["ingest_sms", "ingest_webchat", "ingest_store", "ingest_roundtrips", "memory",
                                    "routing", "timers", "archive"],
                                   ["ingest_email", "fanout", "end_to_end"]])
def test_the_benchmarks_run_at_a_tiny_size(group):
    result = subprocess.run([sys.executable, "-m", "benchmarks.all", "--tiny", "--no-write", "--only", *group],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in group:
        assert f"{name}" in result.stdout
    assert "ratio" in result.stdout


# The Redis topology benchmarks behind docs/OPERATIONS.md (WAIT's cost, a cluster's): their own servers, tiny.
@pytest.mark.parametrize(("module", "says"), [("replica_ack", "WAIT costs"),
                                              ("cluster_ingest", "cluster data per primary")])
def test_the_redis_topology_benchmarks_run_at_a_tiny_size(module, says):
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--messages", "20", "--rounds", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and says in result.stdout, result.stdout + result.stderr[-3000:]
