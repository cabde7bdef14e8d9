"""Property-based: any Slack event, interaction or command, correctly signed, never breaks the gateway.

Two layers. The pure path every request takes (``payloads.bolt_request``:
decode, Bolt's parse, the type check; then ``inbound.classify`` and
``to_inbound``, ``commands.parse``, the rendering of customer text) and the
HTTP edge (``POST /slack/events`` on the whole app) run 1,000 examples each in
CI. The edge asserts never a 5xx, never an unhandled exception in the log,
nothing stored for a refused request.

Field values are mostly the type Slack sends, sometimes anything JSON can
hold, so both the accepted path and the refusals are exercised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from channels.slack import blocks, commands, payloads
from channels.slack import inbound as events
from conversations.messages import InvalidPayload
from conversations.models import Direction, Message
from tests import hypothesis_profiles
from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import SIGNING_SECRET
from tests.snapshots import changes, snapshot

PROFILE = hypothesis_profiles.load()
# Whole-app requests: 1,000 in CI like every suite (issue 10), a quick 30 on a laptop.
EDGE_EXAMPLES = hypothesis_profiles.CI_EXAMPLES if PROFILE == "ci" else 30
SUPPORT = FakeSlack.channel_id("#support")
PARENT_TS = "1700000000.000001"  # the parent the edge fixture's conversation gets (the fake's first post)
MENTIONS = re.compile(r"<(?:!channel|!here|!everyone|@[UW][A-Z0-9]+|#C[A-Z0-9]+|!subteam\^[A-Z0-9]+)")

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["", " ", "hello", "<!channel> help", "<@UAGENT> <!here>", "a\n:memo: *Note by Grace:* ok",
                     "*Grace* replied (email): done", "&lt;!channel&gt;", "x" * 5000, "\u202e\ufeff", "```",
                     "<https://evil.example|https://bank.example>", "\ud800" * 0 + "e\u0301" * 30]),
)
timestamps = st.one_of(
    st.sampled_from(["1700000000.000100", "1700000001.000200", PARENT_TS, "0", "abc", "nan", "inf", "1e400", "-1",
                     "99999999999999.1", ""]),
    st.floats(min_value=0, max_value=4e9).map(lambda f: f"{f:.6f}"),
)
users = st.one_of(st.sampled_from(["UCUST", "UAGENT", "UAGENT2", "UBOT", "UGUEST"]), st.text(max_size=12))
channels = st.one_of(st.sampled_from(["D0CUST", "CSHARED01", SUPPORT, "C0OTHER"]), st.text(max_size=12))


good_ts = st.one_of(st.sampled_from(["1700000000.000100", "1700000001.000200"]),
                    st.floats(min_value=1e9, max_value=2e9).map(lambda f: f"{f:.6f}"))
texts_or_none = st.one_of(texts, st.none())
files = st.lists(st.fixed_dictionaries({"name": st.text(max_size=20)}, optional={
    "mimetype": st.text(max_size=10), "size": st.integers(0, 10**9),
    "permalink": st.one_of(st.just("https://files.slack.test/a"), st.text(max_size=30))}), max_size=2)
KNOWN_KEYS = ["type", "subtype", "channel", "channel_type", "user", "team", "user_team", "ts", "thread_ts", "text",
              "client_msg_id", "bot_id", "files", "user_profile", "message", "previous_message", "event_id",
              "authorizations", "actions", "view", "state", "values", "value", "id", "action_id", "private_metadata",
              "callback_id", "trigger_id", "container", "team_id", "user_id", "command"]


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> dict:
    """Half the time as Slack sends it; else a few fields dropped, retyped or added (to any JSON value)."""
    if draw(st.booleans()):
        return base
    result = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(set(KNOWN_KEYS) | set(base))), min_size=1, max_size=3)):
        if key in result and draw(st.booleans()):
            del result[key]
        else:
            result[key] = draw(json_values)
    return result


@st.composite
def message_events(draw: st.DrawFn) -> dict:
    """A ``message`` event of each kind the gateway tells apart, then maybe mutated."""
    kind = draw(st.sampled_from(["customer dm", "shared channel", "agent reply", "agent edit", "agent delete",
                                 "bot", "top level", "system"]))
    base: dict = {"type": "message", "ts": draw(good_ts), "text": draw(texts)}
    if kind == "customer dm":
        base |= {"channel": "D0CUST", "channel_type": "im", "user": draw(st.sampled_from(["UCUST", "UEVE"])),
                 "team": "T0GATEWAY", "client_msg_id": draw(st.uuids()).hex,
                 "user_profile": {"display_name": draw(texts)}, "files": draw(files)}
    elif kind == "shared channel":
        base |= {"channel": "CSHARED01", "channel_type": "channel", "user": "UGUEST", "user_team": "T0PARTNER",
                 "thread_ts": draw(st.one_of(st.none(), good_ts))}
    elif kind == "agent reply":
        base |= {"channel": SUPPORT, "channel_type": "channel", "user": draw(st.sampled_from(["UAGENT", "UCUST"])),
                 "thread_ts": draw(st.sampled_from([PARENT_TS, "1600000000.000001"])),
                 "subtype": draw(st.sampled_from([None, "thread_broadcast"]))}
    elif kind == "agent edit":
        edited = {"user": "UAGENT", "text": draw(texts), "ts": draw(good_ts), "thread_ts": PARENT_TS}
        base = {"type": "message", "channel": SUPPORT, "channel_type": "channel", "subtype": "message_changed",
                "message": edited, "previous_message": {**edited, "text": draw(texts)}}
    elif kind == "agent delete":
        deleted = {"user": "UAGENT", "text": draw(texts), "ts": draw(good_ts), "thread_ts": PARENT_TS}
        base = {"type": "message", "channel": SUPPORT, "channel_type": "channel", "subtype": "message_deleted",
                "previous_message": deleted, "deleted_ts": deleted["ts"]}
    elif kind == "bot":
        base |= {"channel": "D0CUST", "channel_type": "im", "bot_id": "BBOT", "user": "UBOT"}
    elif kind == "top level":
        base |= {"channel": SUPPORT, "user": "UAGENT"}
    else:
        base |= {"channel": SUPPORT, "user": "UAGENT", "subtype": draw(st.sampled_from(["channel_join", "bot_message"]))}
    return draw(mutated({k: v for k, v in base.items() if v is not None}))


@st.composite
def envelopes(draw: st.DrawFn) -> dict:
    envelope = {"token": "legacy", "team_id": "T0GATEWAY", "api_app_id": "AGATEWAY", "type": "event_callback",
                "event_id": f"Ev{draw(st.uuids()).hex[:12]}", "event_time": 1700000000,
                "event": draw(st.one_of(message_events(), message_events(), message_events(), json_values))}
    if draw(st.integers(0, 9)) == 0:
        envelope["authorizations"] = [{"team_id": "T0GATEWAY", "is_bot": True}]
    return draw(mutated(envelope))


conversation_values = st.one_of(st.just("CONVERSATION"), st.just("cnv_0123456789abcdefghjk"), st.text(max_size=30))


@st.composite
def interactions(draw: st.DrawFn) -> dict:
    """A button press, a note submission or a shortcut, by an agent, a customer or anyone; then maybe mutated."""
    kind = draw(st.sampled_from(["button", "note submitted", "shortcut", "other"]))
    user = {"id": draw(st.one_of(st.sampled_from(["UAGENT", "UAGENT", "UCUST"]), st.text(max_size=8))),
            "team_id": "T0GATEWAY"}
    base: dict = {"type": "block_actions", "team": {"id": "T0GATEWAY"}, "user": user, "api_app_id": "AGATEWAY",
                  "token": "legacy", "trigger_id": draw(st.text(max_size=10)), "channel": {"id": SUPPORT}}
    if kind == "button":
        base["actions"] = [{"type": "button", "block_id": "gw_actions", "action_ts": draw(good_ts),
                            "action_id": draw(st.sampled_from(["gw_claim", "gw_escalate", "gw_resolve", "gw_note",
                                                               "gw_transfer_service", "gw_transfer_support", "x"])),
                            "value": draw(conversation_values)}]
    elif kind == "note submitted":
        base = {"type": "view_submission", "team": {"id": "T0GATEWAY"}, "user": user, "api_app_id": "A",
                "token": "legacy", "view": {"id": draw(st.text(max_size=6)), "type": "modal",
                                            "callback_id": "gw_note_modal",
                                            "private_metadata": draw(conversation_values),
                                            "state": {"values": {"note": {"text": {"type": "plain_text_input",
                                                                                   "value": draw(texts_or_none)}}}}}}
    elif kind == "shortcut":
        base |= {"type": draw(st.sampled_from(["message_action", "shortcut"])), "callback_id": "gw_note",
                 "message": {"ts": draw(st.sampled_from([PARENT_TS, "1.1"])), "thread_ts": PARENT_TS}}
    else:
        base["type"] = draw(st.sampled_from(["view_closed", "block_suggestion", "dialog_submission", "x"]))
    return draw(mutated(base))


command_texts = st.one_of(texts, st.sampled_from(
    ["queue", "queue support", "queue sales", "help", "claim CONVERSATION", "resolve CONVERSATION",
     "escalate CONVERSATION too slow", "transfer CONVERSATION service", "note CONVERSATION the payload failed",
     "note CONVERSATION <!channel>", "claim cnv_0123456789abcdefghjk"]))
command_forms = st.fixed_dictionaries(
    {"command": st.one_of(st.just("/gateway"), st.just("/gateway"), st.text(max_size=10)), "text": command_texts,
     "user_id": st.one_of(st.sampled_from(["UAGENT", "UAGENT", "UCUST"]), st.text(max_size=8)),
     "channel_id": st.just(SUPPORT), "team_id": st.just("T0GATEWAY"), "trigger_id": st.text(max_size=10)},
).flatmap(lambda form: st.sets(st.sampled_from(sorted(form))).map(
    lambda dropped: {k: v for k, v in form.items() if k == "command" or k not in dropped}))


def encode_form(form: dict[str, str]) -> bytes:
    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in form.items()}).encode()


def as_form(payload: dict) -> bytes:
    return encode_form({"payload": json.dumps(payload)})


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# -- the pure path: 1,000 examples each in CI --------------------------------------------------------------


def rendered_is_safe(message: Message) -> None:
    line = blocks.message_line(message, thread=("C0", "1.1")) or ""
    assert not MENTIONS.search(line), line
    header, *rest = line.split("\n")
    words = [r for r in rest if not r.startswith(":paperclip:")]
    assert all(w.startswith(">") for w in words), line


@given(raw=st.one_of(envelopes().map(lambda e: json.dumps(e).encode()), st.binary(max_size=200)))
def test_any_event_body_is_read_refused_or_ignored(raw):
    try:
        request = payloads.bolt_request(raw, headers=JSON)
    except InvalidPayload:
        event("refused")
        return
    body = request.body
    payload_event = body.get("event")
    if not isinstance(payload_event, dict):
        event("no event")
        return
    seen = events.classify(payload_event, bot_user_id="UBOT", customer_channels={"CSHARED01"})
    event(seen.kind.value)
    if seen.kind != events.Kind.CUSTOMER:
        return
    try:
        inbound = events.to_inbound(body, payload_event)
    except InvalidPayload:
        event("customer message refused")
        return
    rendered_is_safe(Message(id="msg_1", conversation_id="cnv_1", direction=Direction.INBOUND,
                             channel=inbound.channel, author=inbound.name or inbound.identity.address,
                             text=inbound.text, created_at=datetime.now(UTC), attachments=inbound.attachments))


@given(payload=st.one_of(interactions(), interactions(), json_values))
def test_any_interaction_payload_is_read_or_refused(payload):
    try:
        request = payloads.bolt_request(as_form(payload), headers=FORM)
    except InvalidPayload:
        event("refused")
        return
    body = request.body
    event(f"read {payloads.text(body.get('type'))}")
    # What the listeners read: always a string, whatever was sent.
    for path in (("user", "id"), ("user", "team_id"), ("channel", "id"), ("trigger_id",), ("view", "id"),
                 ("view", "private_metadata"), ("view", "state", "values", "note", "text", "value")):
        assert isinstance(payloads.field(body, *path), str)
    for action in body.get("actions") or ():
        assert isinstance(payloads.text(action.get("value")), str)


@given(form=command_forms, names=st.dictionaries(st.sampled_from(["cus_1", "cus_2"]), texts, max_size=2))
def test_any_command_is_parsed_or_explained(form, names):
    try:
        request = payloads.bolt_request(encode_form(form), headers=FORM)
    except InvalidPayload:
        event("refused")
        return
    text = payloads.text(request.body.get("text"))
    try:
        parsed = commands.parse(text)
    except commands.CommandError as error:
        event("explained")
        assert str(error)
        return
    event(parsed.verb)
    listing = commands.queue_listing([], names, parsed.argument if parsed.verb == "queue" else "", total=0)
    assert not MENTIONS.search(listing)


# -- the HTTP edge: a few hundred examples --------------------------------------------------------------------


def assert_no_unhandled_errors(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in errors)


@pytest.fixture
async def edge(slack_gateway):
    """The app, one real conversation with a thread in #support (so agent replies have somewhere to go)."""
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "my app shows an error", "ts": "1700000000.000050", "client_msg_id": "cm-seed"}
    assert (await gw.event(dm, event_id="Ev-seed")).status == 200
    await gw.drain()
    assert gw.fake.parents("#support")[0].ts == PARENT_TS
    [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=1)
    return gw, conversation_id


async def post_and_check(edge, caplog, raw: bytes, content_type: str) -> int:
    gw, conversation_id = edge
    raw = raw.replace(b"CONVERSATION", conversation_id.encode())
    redis = gw.runtime.redis
    caplog.set_level(logging.WARNING)
    caplog.clear()
    before = await snapshot(redis)
    response = await gw.client.post("/slack/events", data=raw, headers=signed(raw, content_type))
    body = await response.text()
    event(f"{response.status}")
    assert response.status < 500, body
    assert_no_unhandled_errors(caplog)
    if response.status >= 400:
        assert changes(before, await snapshot(redis)) == [], f"{response.status} {body}"
    return response.status


def signed(raw: bytes, content_type: str) -> dict[str, str]:
    """Slack's signature over the exact bytes sent (the body may not be UTF-8)."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(envelope=envelopes())
async def test_any_signed_event_is_answered_below_500_and_a_refusal_stores_nothing(edge, caplog, envelope):
    await post_and_check(edge, caplog, json.dumps(envelope).encode(), "application/json")


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(payload=interactions())
async def test_any_signed_interaction_is_answered_below_500_and_a_refusal_stores_nothing(edge, caplog, payload):
    await post_and_check(edge, caplog, as_form(payload), "application/x-www-form-urlencoded")


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(form=command_forms)
async def test_any_signed_command_is_answered_below_500_and_a_refusal_stores_nothing(edge, caplog, form):
    await post_and_check(edge, caplog, encode_form(form), "application/x-www-form-urlencoded")
