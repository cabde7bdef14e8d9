"""The reply corpus: one YAML file per language, each case the body as a client lays it out.

Case fields: ``id``, ``client``, ``kind`` (reply | keep | forward | signature),
``body``, ``expected`` (the text an agent sees; a keep case expects its whole
body), optional ``signature``, ``subject``, ``language`` (defaults to the
file's) and, for forwards, ``forward`` (sender, date, subject, text).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).parent
KINDS = ("reply", "keep", "forward", "signature")


@dataclass(frozen=True)
class Case:
    id: str
    language: str
    client: str
    kind: str
    body: str
    expected: str
    signature: str
    subject: str | None
    forward: dict[str, str] | None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def load() -> list[Case]:
    cases = []
    for path in sorted(HERE.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for raw in data["cases"]:
            kind = raw["kind"]
            assert kind in KINDS, (path.name, raw["id"], kind)
            body = str(raw["body"])
            expected = body if kind == "keep" else raw["expected"]
            forward = raw.get("forward")
            cases.append(Case(
                id=raw["id"], language=raw.get("language", data["language"]), client=raw["client"], kind=kind,
                body=body, expected=_text(expected), signature=_text(raw.get("signature")),
                subject=raw.get("subject"),
                forward={key: _text(value) for key, value in forward.items()} if forward else None,
            ))
    return cases


def counts(cases: list[Case]) -> dict[str, Counter[str]]:
    return {
        "kind": Counter(case.kind for case in cases),
        "language": Counter(case.language for case in cases),
        "client": Counter(case.client for case in cases),
        "reply_language": Counter(case.language for case in cases if case.kind in ("reply", "signature")),
        "reply_client": Counter(case.client for case in cases if case.kind in ("reply", "signature")),
    }
