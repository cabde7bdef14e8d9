"""Property-based: whatever a client sends over the web chat socket, the gateway answers in frames.

Two suites, run with the project's Hypothesis profile (``tests/hypothesis_profiles.py``:
1,000 examples each in CI, 100 on a laptop; issue 10, property-based tests):
- the pure parser (``parse_frame``): a ``Frame`` or a ``FrameError``, never another
  exception, and what it accepts can be stored (valid Unicode, within limits);
- the socket handler (aiohttp test client against the app on fakeredis): for each
  sequence of frames, every answer is a JSON frame, never a close for an internal
  error, never an error logged, and a refused frame changes nothing in Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.webchat.inbound import ChatMessage, Delivered, FrameError, Hello, Ping, parse_frame
from channels.webchat.tokens import identifier_hash
from gateway.app import create_app
from tests.conftest import IDENTITY_SECRET, make_settings

TYPES = ["hello", "message", "delivered", "ping", "pong", "", "HELLO", None, 1, [], {}]

# Text with everything a JSON string can carry, lone surrogates and NULs included.
any_text = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Z", "C")), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(any_text, json_values, st.sampled_from(["v2.x.1.y", "v1.a.b", "ä" * 64, "00" * 32]))
shaped = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={name: field_values for name in
              ("visitor_token", "identifier", "identifier_hash", "name", "email", "client_id", "text", "message_ids")},
)
nested = st.integers(1, 6000).map(lambda depth: "[" * depth + "]" * depth) | st.integers(1, 2500).map(
    lambda depth: '{"type": "message", "text": ' + '{"a":' * depth + "1" + "}" * depth + "}")
raw_frames = st.one_of(
    any_text.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),  # a text frame is UTF-8
    json_values.map(json.dumps),
    shaped.map(json.dumps),
    nested,
)


@settings(database=None)
@given(raw=raw_frames)
def test_the_parser_returns_a_frame_or_a_frame_error(raw):
    try:
        frame = parse_frame(raw, max_text=4000)
    except FrameError as error:
        assert error.code and error.detail
        json.dumps({"detail": error.detail}).encode("utf-8")
        return
    if isinstance(frame, Hello):
        values = [frame.visitor_token, frame.identifier, frame.identifier_hash, frame.name, frame.email]
    elif isinstance(frame, ChatMessage):
        assert frame.text.strip() and len(frame.text) <= 4000 and frame.client_id
        values = [frame.text, frame.client_id]
    elif isinstance(frame, Delivered):
        assert 1 <= len(frame.message_ids) <= 500
        values = list(frame.message_ids)
    else:
        assert isinstance(frame, Ping)
        values = []
    for value in values:
        if value is not None:
            value.encode("utf-8")  # storable: never a lone surrogate


def proven(identifier: str) -> dict[str, str]:
    return {"identifier": identifier, "identifier_hash": identifier_hash(IDENTITY_SECRET.encode(), identifier)}


good_hello = st.sampled_from([{}, proven("ada@example.com"), proven("user-42"), {"name": "Ada"}]).map(
    lambda fields: json.dumps({"type": "hello", **fields}))
good_message = st.tuples(st.text(max_size=8), any_text).map(
    lambda pair: json.dumps({"type": "message", "client_id": "c" + pair[0], "text": pair[1] or "x"}))
socket_frames = st.one_of(raw_frames, good_message, good_hello)
sessions = st.tuples(st.one_of(good_hello, raw_frames), st.lists(socket_frames, max_size=4))


async def snapshot(redis) -> dict[str, tuple[str, int]]:
    """Every stored key with its type and size: a write of any kind changes it."""
    sizes = {"string": redis.strlen, "hash": redis.hlen, "set": redis.scard, "list": redis.llen,
             "zset": redis.zcard, "stream": redis.xlen}
    state = {}
    for key in await redis.keys("gw:*"):
        if key.startswith("gw:webchat:rate:"):
            continue  # the frame budget is spent by refused frames too, by design
        kind = await redis.type(key)
        state[key] = (kind, await sizes[kind](key))
    return state


async def exchange(client: TestClient, redis, frames: list[str]) -> None:
    await redis.flushall()  # each example starts from an empty store: snapshots stay small
    ws = await client.ws_connect("/webchat/ws")
    try:
        for raw in frames:
            before = await snapshot(redis)
            await ws.send_str(raw)
            await ws.send_str('{"type": "ping"}')  # every answer to ``raw`` arrives before this pong
            answers = []
            async with asyncio.timeout(10):
                while True:
                    message = await ws.receive()
                    assert message.type == WSMsgType.TEXT, (raw, message)
                    frame = json.loads(message.data)
                    if frame["type"] == "pong":
                        break
                    answers.append(frame)
            assert all(f["type"] in ("welcome", "ack", "error", "message") for f in answers), answers
            errors = [f for f in answers if f["type"] == "error"]
            assert not [f for f in errors if f["code"] in ("internal_error", "unavailable")], (raw, errors)
            if errors and not [f for f in answers if f["type"] in ("ack", "welcome")]:
                assert await snapshot(redis) == before, (raw, errors)  # refused: nothing written
    finally:
        await ws.close()


def test_the_socket_answers_every_frame_sequence_with_frames(fake_backend, caplog):
    fake_backend.settings = make_settings(webchat={
        "identity_secret": IDENTITY_SECRET, "frames_per_second": 100000, "frame_burst": 100000,
        "new_conversations_per_address_per_hour": 0})
    loop = asyncio.new_event_loop()
    redis = fake_backend.async_client()
    app = create_app(fake_backend.settings, redis=redis, sync_redis=fake_backend.sync_client())
    client = TestClient(TestServer(app), loop=loop)
    loop.run_until_complete(client.start_server())
    examples = 0

    @settings(database=None)
    @given(session=sessions)
    def check(session):
        nonlocal examples
        examples += 1
        first, rest = session
        loop.run_until_complete(exchange(client, redis, [first, *rest]))

    try:
        with caplog.at_level(logging.ERROR):
            check()
        assert examples >= settings().max_examples
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]
    finally:
        loop.run_until_complete(client.close())
        loop.close()
