"""Proactive message fixtures: rules that route an answer about something broken to support."""

from __future__ import annotations

from pathlib import Path

RULES = """\
queues:
  service: {}
  support: {}
rules:
  - name: broken-things
    when:
      content:
        words: [broken]
    then:
      queue: support
default:
  queue: service
"""
EXAMPLE_TEMPLATES = Path(__file__).resolve().parents[2] / "examples" / "templates.yaml"


def rule_files(tmp_path: Path) -> dict[str, Path]:
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    (tmp_path / "templates.yaml").write_text(EXAMPLE_TEMPLATES.read_text())  # found beside the rules
    return {"rules_path": rules}
