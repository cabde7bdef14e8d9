"""Hot reload: a good edit takes effect, a broken one is refused and reported."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from router.default import DEFAULT_RULES_NAME
from router.errors import RulesError
from router.live import LiveRules
from tests.router.helpers import MINIMAL, WEDNESDAY_MORNING, message

SUPPORT_FOR_REFUNDS = MINIMAL.replace("then: {queue: service}", "then: {queue: support}")


def write(path: Path, text: str, bump: int = 0) -> None:
    path.write_text(text, encoding="utf-8")
    # Some filesystems keep one mtime per second or coarser; move it on
    # explicitly so a change is visible without sleeping.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def queue_for(live: LiveRules, text: str) -> str:
    return live.current.decide(None, message(text), None, WEDNESDAY_MORNING).queue


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    write(path, MINIMAL)
    return path


def test_good_edit_takes_effect(rule_file: Path) -> None:
    live = LiveRules(rule_file)
    old = live.current.version
    assert queue_for(live, "refund") == "service"
    write(rule_file, SUPPORT_FOR_REFUNDS, bump=1)
    assert live.reload_if_changed() is True
    assert live.current.version != old
    assert queue_for(live, "refund") == "support"
    assert live.status()["error"] is None


def test_broken_edit_keeps_the_old_rules_and_reports(rule_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    live = LiveRules(rule_file)
    version = live.current.version
    write(rule_file, MINIMAL.replace("then: {queue: service}", "then: {queue: servce}"), bump=1)
    with caplog.at_level(logging.ERROR, logger="gateway.router"):
        assert live.reload_if_changed() is False
    assert live.current.version == version
    assert queue_for(live, "refund") == "service"
    status = live.status()
    assert status["version"] == version
    assert "unknown queue 'servce'" in status["error"]
    assert status["errors"] == [{"line": 15, "column": 19, "message": status["errors"][0]["message"]}]
    assert status["error_at"] is not None
    assert any("refused" in r.message for r in caplog.records)
    # The same broken file is not parsed (or logged) again on every poll.
    caplog.clear()
    assert live.reload_if_changed() is False
    assert caplog.records == []
    # Fixing it clears the error.
    write(rule_file, SUPPORT_FOR_REFUNDS, bump=2)
    assert live.reload_if_changed() is True
    assert live.status()["error"] is None
    assert queue_for(live, "refund") == "support"


def test_reload_if_changed_is_a_no_op_until_the_file_changes(rule_file: Path) -> None:
    live = LiveRules(rule_file)
    assert live.reload_if_changed() is False
    # Touched but identical: nothing new takes effect.
    write(rule_file, MINIMAL, bump=1)
    assert live.reload_if_changed() is False
    # Same size, new content: the stat differs, the hash decides.
    write(rule_file, MINIMAL.replace("refund", "refunx"), bump=2)
    assert live.reload_if_changed() is True
    assert queue_for(live, "refunx") == "service"


def test_explicit_reload(rule_file: Path) -> None:
    live = LiveRules(rule_file)
    rule_file.write_text(SUPPORT_FOR_REFUNDS, encoding="utf-8")  # mtime untouched: reload() does not care
    assert live.reload() is True
    assert live.reload() is False


def test_status_shape(rule_file: Path) -> None:
    status = LiveRules(rule_file).status()
    assert set(status) >= {"path", "version", "loaded_at", "rules", "error", "errors", "error_at"}
    assert status["rules"] == 1
    assert status["path"] == str(rule_file)


def test_missing_file_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "routing.yaml"
    monkeypatch.delenv("GATEWAY_RULES_PATH", raising=False)
    live = LiveRules.open(missing)
    assert live.current.path == DEFAULT_RULES_NAME
    assert set(live.current.queues) == {"service", "support"}
    decision = live.current.decide(None, message("anything"), None, WEDNESDAY_MORNING)
    assert (decision.queue, decision.tier, decision.priority.value) == ("service", 1, "normal")
    assert live.reload_if_changed() is False and live.status()["error"] is None
    # The file appears later: it is picked up.
    write(missing, SUPPORT_FOR_REFUNDS)
    assert live.reload_if_changed() is True
    assert queue_for(live, "refund") == "support"


def test_explicitly_named_file_must_exist_and_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RULES_PATH", str(tmp_path / "missing.yaml"))
    with pytest.raises(RulesError):
        LiveRules.open()
    broken = tmp_path / "broken.yaml"
    broken.write_text("queues: [\n", encoding="utf-8")
    monkeypatch.setenv("GATEWAY_RULES_PATH", str(broken))
    with pytest.raises(RulesError) as caught:
        LiveRules.open()
    assert caught.value.errors[0].path == str(broken)


def test_file_removed_after_start(rule_file: Path) -> None:
    live = LiveRules(rule_file)
    version = live.current.version
    rule_file.unlink()
    assert live.reload_if_changed() is False
    assert live.current.version == version
    assert "cannot read" in live.status()["error"]


async def test_watch_reloads_each_interval(rule_file: Path) -> None:
    live = LiveRules(rule_file)
    write(rule_file, SUPPORT_FOR_REFUNDS, bump=1)
    intervals: list[float] = []

    class Stop(Exception):
        pass

    async def fake_sleep(seconds: float) -> None:
        intervals.append(seconds)
        if len(intervals) == 2:
            raise Stop  # two polls are enough; no real waiting

    with pytest.raises(Stop):
        await live.watch(interval=3.0, sleep=fake_sleep)
    assert intervals == [3.0, 3.0]
    assert queue_for(live, "refund") == "support"
