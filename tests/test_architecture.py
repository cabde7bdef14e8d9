"""The layering holds: imports only point down (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import IN_CI, ROOT


def test_import_contracts_are_kept():
    binary = shutil.which("lint-imports")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs import-linter (pip install -e '.[test]')")
        pytest.skip("import-linter is not installed")
    result = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
