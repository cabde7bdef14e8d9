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
