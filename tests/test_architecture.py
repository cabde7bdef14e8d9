"""The layering holds: imports only point down (import-linter's contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess

import pytest

from channels.slack import jobnames
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


OUR_PACKAGES = ("gateway", "workers", "channels", "router", "templates", "conversations", "yamlmarks")


def _modules():
    for package in OUR_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(), filename=str(path))


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else []
    return [alias.name for alias in node.names]


def test_no_import_of_our_packages_below_module_level():
    """Deferred imports hid the old cycles: every import of our own packages sits at the top of its module."""
    deferred = []
    for path, tree in _modules():
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                ours = [name for name in _imported(node) if name.split(".")[0] in OUR_PACKAGES]
                if ours:
                    deferred.append(f"{path.relative_to(ROOT)}:{node.lineno} {', '.join(ours)}")
    assert deferred == []


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_every_redis_key_is_spelled_in_a_keys_module():
    """One keys module per package: no other module writes a ``gw:`` key or builds one from the prefix."""
    spelled = []
    for path, tree in _modules():
        if path.name == "keys.py":
            continue
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value.startswith("gw:") or node.value.startswith("gw{"):
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
            elif isinstance(node, ast.JoinedStr) and node.values:
                first = node.values[0]
                head = ast.unparse(first.value) if isinstance(first, ast.FormattedValue) else ""
                if head == "PREFIX" or head.startswith("keys.") or head.endswith("_keys.PREFIX"):
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert spelled == []


def test_one_clock():
    """``conversations/clock.py`` reads the wall clock (aware UTC, epoch ms, epoch seconds); nothing else does."""
    readings = []
    for path, tree in _modules():
        if path.relative_to(ROOT).as_posix() == "conversations/clock.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("datetime.now", "datetime.utcnow", "time.time",
                                                                         "time.time_ns", "datetime.datetime.now"):
                readings.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert readings == []


def test_the_slack_job_names_the_web_side_enqueues_name_the_workers_jobs():
    """The web side names the Slack jobs by dotted path (it may not import ``workers``); each resolves to the job."""
    names = [jobnames.SYNC, jobnames.AGENT_REPLY, jobnames.AGENT_NOTE, jobnames.AGENT_EDITED, jobnames.AGENT_ACTION]
    for name in names:
        module, _, function = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), name
