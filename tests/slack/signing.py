"""Sign requests exactly as Slack does: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret"


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


def event_body(event: dict, *, event_id: str, team: str = "T0GATEWAY") -> str:
    return json.dumps({"token": "legacy", "team_id": team, "api_app_id": "AGATEWAY", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": event})


def form_body(fields: dict[str, str]) -> str:
    return urlencode(fields)


def interactive_body(payload: dict) -> str:
    return urlencode({"payload": json.dumps(payload)})
