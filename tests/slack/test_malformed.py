"""Slack requests that are signed (or not) but not what Slack sends: a clear 4xx or an ignored 200, never a 500."""

from __future__ import annotations

import json

import pytest

from gateway.appkeys import SERVICES
from tests.slack.signing import event_body, form_body, interactive_body, signed_headers
from tests.snapshots import changes, snapshot

DM = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hi", "ts": "1700000000.1"}


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-5", "١٧٠٠٠٠٠٠٠٠", "99999999999999999999"])
async def test_a_timestamp_that_is_not_unix_seconds_is_401(slack_gateway, timestamp):
    body = event_body(DM, event_id="Ev-ts")
    headers = {**signed_headers(body), "X-Slack-Request-Timestamp": timestamp}
    response = await slack_gateway.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    assert await slack_gateway.runtime.store.recent_conversation_ids(limit=5) == []


async def test_a_signature_header_with_odd_characters_is_401(slack_gateway):
    body = event_body(DM, event_id="Ev-sig")
    headers = {**signed_headers(body), "X-Slack-Signature": "v0=\u00e9" * 3}
    response = await slack_gateway.client.post("/slack/events", data=body.encode(),
                                               headers={k: v.encode("utf-8").decode("latin-1")
                                                        for k, v in headers.items()})
    assert response.status == 401


EVENTS = [
    {**DM, "ts": "abc"}, {**DM, "ts": "nan"}, {**DM, "ts": "1e400"}, {**DM, "ts": "-1e20"},
    {**DM, "user": {"id": "U1"}}, {**DM, "channel": ["D1"]}, {**DM, "files": "x"}, {**DM, "files": [1, "a"]},
    {**DM, "user_profile": "x"}, {**DM, "ts": 1e300}, {**DM, "text": {"t": 1}},
    {"type": "message", "subtype": "message_changed", "channel": "C1", "message": "x"},
    {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "2.2", "thread_ts": {"x": 1}},
    {"type": ["message"]}, "not an object", None, [], 5,
]


@pytest.mark.parametrize("event", EVENTS, ids=[json.dumps(e)[:40] for e in EVENTS])
async def test_a_signed_event_with_wrong_field_types_is_refused_or_ignored_never_500(slack_gateway, event):
    gw = slack_gateway
    redis = gw.runtime.redis
    before = await snapshot(redis)
    response = await gw.event(event, event_id="Ev-wrong")
    assert response.status < 500, await response.text()
    if response.status >= 400:
        assert changes(before, await snapshot(redis)) == []
    assert await gw.runtime.store.recent_conversation_ids(limit=5) == []


BODIES = [
    json.dumps([1, 2]), json.dumps({"type": 5}), json.dumps({"type": "event_callback", "event": None}),
    json.dumps({"type": "event_callback", "event_id": {"x": 1}, "event": DM}),
    json.dumps({"type": "event_callback", "authorizations": "x", "event": DM}),
    json.dumps({"type": "event_callback", "authorizations": [5], "event": DM}),
    "[" * 5000, "{", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
]


@pytest.mark.parametrize("body", BODIES, ids=[b[:30] for b in BODIES])
async def test_a_signed_body_that_is_not_a_slack_envelope_is_4xx(slack_gateway, body):
    gw = slack_gateway
    response = await gw.client.post("/slack/events", data=body.encode("latin-1", "replace"),
                                    headers=signed_headers(body.encode("latin-1", "replace").decode("latin-1")))
    assert 400 <= response.status < 500, await response.text()


PAYLOADS = [
    {"type": "block_actions", "user": "x", "actions": [{"action_id": "gw_claim", "value": "cnv_x"}]},
    {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "gw_claim", "value": 5}]},
    {"type": "block_actions", "user": {"id": "UAGENT"}, "actions": [{"action_id": "gw_note"}]},
    {"type": "block_actions", "user": {"id": "UAGENT"}, "actions": [{"action_id": "gw_claim", "value": "cnv_nope"}]},
    {"type": "view_submission", "user": {"id": "UAGENT"}, "view": {"callback_id": "gw_note_modal", "state": {}}},
    {"type": "view_submission", "user": {"id": "UAGENT"},
     "view": {"callback_id": "gw_note_modal", "private_metadata": "cnv_nope",
              "state": {"values": {"note": {"text": {"value": "hi"}}}}}},
    {"type": "shortcut", "callback_id": "gw_note", "user": {"id": "UAGENT"}},
    {"type": "message_action", "callback_id": "gw_note", "user": {"id": "UAGENT"}, "message": "x"},
    {"type": "block_actions", "user": {"id": "UAGENT"}, "actions": "gw_claim"},
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=[json.dumps(p)[:50] for p in PAYLOADS])
async def test_a_signed_interaction_of_the_wrong_shape_is_never_500(slack_gateway, payload):
    response = await slack_gateway.interact(payload)
    assert response.status < 500, await response.text()
    await slack_gateway.drain()
    assert await slack_gateway.runtime.store.recent_conversation_ids(limit=5) == []


@pytest.mark.parametrize("fields", [{"command": "/gateway", "text": "claim cnv_0123456789abcdefghjk"},
                                    {"command": "/gateway", "text": "queue"},
                                    {"command": "/gateway", "text": "note cnv_0123456789abcdefghjk the payload"}])
async def test_a_command_without_a_user_is_refused_never_500(slack_gateway, fields):
    body = form_body(fields)
    response = await slack_gateway.client.post(
        "/slack/events", data=body, headers=signed_headers(body, content_type="application/x-www-form-urlencoded"))
    assert response.status < 500
    if response.status == 200:
        assert "Only agents" in (await response.json())["text"]


async def test_the_snapshot_helper_sees_what_an_accepted_message_stores(slack_gateway):
    redis = slack_gateway.app[SERVICES].redis if hasattr(slack_gateway, "app") else slack_gateway.runtime.redis
    before = await snapshot(redis)
    await slack_gateway.event(DM, event_id="Ev-ok")
    assert changes(before, await snapshot(redis))  # a stored message shows up: the assertions above mean something
    assert interactive_body({"a": 1}).startswith("payload=")
