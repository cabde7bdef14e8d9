"""Abuse limits of anonymous web chat, and the retention of what anonymous visitors leave behind.

Regression tests for issue 10 item 8: on the code before, a socket that never
said hello stayed open forever, a token could spread its frame rate over many
sockets, one address could open any number of conversations (each posted to
Slack), and anonymous customers were kept forever.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from channels.webchat import limits
from channels.webchat.web import OPEN_BY_ADDRESS
from conversations.clock import utcnow
from gateway.appkeys import SERVICES
from gateway.settings import Settings
from tests.conftest import admin_headers, make_settings, start_client
from tests.support import wait_until
from tests.webchat.chat import hello, proof, receive, say
from workers.sweeper import Sweeper


async def webchat_client(aiohttp_client, backend, headers=None, **webchat):
    backend.settings = make_settings(webchat={"identity_secret": "test-identity-secret", **webchat},
                                     **({"trusted_proxies": "127.0.0.1"} if headers else {}))
    return await start_client(aiohttp_client, backend)


async def test_a_socket_without_hello_is_closed(aiohttp_client, fake_backend):
    client = await webchat_client(aiohttp_client, fake_backend, hello_timeout_seconds=0.3)
    ws = await client.ws_connect("/webchat/ws")
    assert (await receive(ws, "error"))["code"] == "hello_timeout"
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            pass
    assert ws.close_code == 4008


async def test_the_hello_timeout_defaults_to_ten_seconds():
    assert Settings(_env_file=None).webchat.hello_timeout_seconds == 10


async def test_the_rate_limit_holds_across_sockets_of_one_token(aiohttp_client, fake_backend):
    client = await webchat_client(aiohttp_client, fake_backend, frames_per_second=0.01, frame_burst=4)
    first, welcome = await hello(client)
    token = welcome["visitor_token"]
    sockets = [first] + [(await hello(client, visitor_token=token))[0] for _ in range(3)]
    # Each socket's own budget (4, one spent on hello) allows its 2 pings; the token's 4 in all do not.
    codes = []
    for ws in sockets:
        for _ in range(2):
            await ws.send_json({"type": "ping"})
            frame = await ws.receive_json()
            codes.append(frame.get("code", frame["type"]))
    assert codes.count("pong") == 4 and codes.count("rate_limited") == 4
    # Another visitor is not affected.
    other, _ = await hello(client)
    await other.send_json({"type": "ping"})
    assert (await other.receive_json())["type"] == "pong"


async def test_new_anonymous_conversations_are_capped_per_address(aiohttp_client, fake_backend):
    client = await webchat_client(aiohttp_client, fake_backend, new_conversations_per_address_per_hour=2)
    for n in range(2):
        ws, _ = await hello(client)
        await say(ws, f"c-{n}", "spam")
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "client_id": "c-3", "text": "spam"})
    assert (await receive(ws, "error"))["code"] == "too_many_conversations"
    assert len(await client.app[SERVICES].store.recent_conversation_ids(limit=10)) == 2
    # A visitor already in a conversation goes on writing; a verified one is not capped.
    first, _ = await hello(client)
    verified, _ = await hello(client, **proof("ada@example.com"))
    assert not (await say(verified, "v-1", "logged-in customer"))["duplicate"]


async def first_from(client, address: str) -> dict:
    """A new anonymous visitor behind the proxy at ``address`` says hello and writes: the answer frame."""
    ws = await client.ws_connect("/webchat/ws", headers={"X-Forwarded-For": address})
    await ws.send_json({"type": "hello"})
    await receive(ws, "welcome")
    await ws.send_json({"type": "message", "client_id": "c", "text": "hi"})
    return await ws.receive_json()


async def test_behind_a_trusted_proxy_the_cap_counts_the_forwarded_address(aiohttp_client, fake_backend):
    client = await webchat_client(aiohttp_client, fake_backend, headers=True, new_conversations_per_address_per_hour=1)

    assert (await first_from(client, "203.0.113.7"))["type"] == "ack"
    assert (await first_from(client, "198.51.100.9"))["type"] == "ack"
    assert (await first_from(client, "203.0.113.7"))["code"] == "too_many_conversations"
    # A spoofed hop left of the real one does not help.
    assert (await first_from(client, "10.9.9.9, 203.0.113.7"))["code"] == "too_many_conversations"


async def test_ipv6_visitors_are_counted_by_their_64_prefix(aiohttp_client, fake_backend):
    """One IPv6 subscriber holds a /64: per address, every new address would have opened another conversation."""
    client = await webchat_client(aiohttp_client, fake_backend, headers=True, new_conversations_per_address_per_hour=2)

    assert (await first_from(client, "2001:db8:1:2::1"))["type"] == "ack"
    assert (await first_from(client, "2001:db8:1:2:aaaa:bbbb:cccc:dddd"))["type"] == "ack"
    assert (await first_from(client, "2001:db8:1:2::3"))["code"] == "too_many_conversations"  # same /64
    assert (await first_from(client, "2001:db8:1:3::1"))["type"] == "ack"  # the next /64 is someone else
    assert (await first_from(client, "::ffff:203.0.113.7"))["type"] == "ack"  # an IPv4 client, written as IPv6
    assert (await first_from(client, "203.0.113.7"))["type"] == "ack"
    assert (await first_from(client, "203.0.113.7"))["code"] == "too_many_conversations"  # ... is that IPv4 address
    assert limits.counted_as("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"


async def test_one_address_holds_a_bounded_number_of_open_sockets(aiohttp_client, fake_backend):
    """Sockets cost memory until they close: one address opening thousands would hold them all."""
    client = await webchat_client(aiohttp_client, fake_backend, headers=True, sockets_per_address=2)
    here = {"X-Forwarded-For": "203.0.113.7"}
    first = await client.ws_connect("/webchat/ws", headers=here)
    second = await client.ws_connect("/webchat/ws", headers={"X-Forwarded-For": "2001:db8::1"})
    third = await client.ws_connect("/webchat/ws", headers={"X-Forwarded-For": "2001:db8::2"})  # the same /64
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/webchat/ws", headers={"X-Forwarded-For": "2001:db8::3"})
    assert refused.value.status == 429
    other = await client.ws_connect("/webchat/ws", headers=here)  # another address is not affected
    await third.close()
    await wait_until(lambda: client.app[OPEN_BY_ADDRESS].get("2001:db8::/64") == 1, what="the socket to be let go")
    again = await client.ws_connect("/webchat/ws", headers={"X-Forwarded-For": "2001:db8::3"})
    await again.send_json({"type": "hello"})
    assert (await receive(again, "welcome"))["visitor_token"]
    for ws in (first, second, other, again):
        await ws.close()
    await wait_until(lambda: client.app[OPEN_BY_ADDRESS] == {}, what="every count to be released")


async def test_the_socket_cap_defaults_to_one_hundred_per_address():
    assert Settings(_env_file=None).webchat.sockets_per_address == 100


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy():
    from ipaddress import ip_network
    proxies = (ip_network("10.0.0.0/8"),)
    assert limits.client_address("198.51.100.1", "203.0.113.7", proxies) == "198.51.100.1"
    assert limits.client_address("10.0.0.5", "203.0.113.7", proxies) == "203.0.113.7"
    assert limits.client_address("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.0.0.9", proxies) == "203.0.113.7"
    assert limits.client_address("10.0.0.5", "garbage", proxies) == "10.0.0.5"
    assert limits.client_address("10.0.0.5", "203.0.113.7", ()) == "10.0.0.5"


async def test_idle_anonymous_customers_are_erased_by_the_sweeper(gateway):
    services = gateway.app[SERVICES]
    redis = services.redis
    idle_ws, idle_welcome = await hello(gateway)
    idle = await say(idle_ws, "c-1", "anonymous and gone")
    await gateway.post(f"/api/conversations/{idle['conversation_id']}/messages", json={"text": "reply"},
                       headers=admin_headers())
    await gateway.backend.drain_async()
    verified_ws, _ = await hello(gateway, **proof("ada@example.com"))
    kept = await say(verified_ws, "v-1", "a known customer")
    idle_customer = (await services.store.conversation(idle["conversation_id"])).customer_id

    soon = Sweeper(services, clock=lambda: utcnow() + timedelta(days=89))
    assert await soon.expire_anonymous() == 0
    later = Sweeper(services, clock=lambda: utcnow() + timedelta(days=91))
    assert await later.expire_anonymous() == 1

    assert not [k for k in await redis.keys("*") if idle_customer in k or idle["conversation_id"] in k]
    assert idle["conversation_id"] not in await services.store.all_conversation_ids()  # out of the backlog index
    assert await redis.zscore("gw:webchat:anonymous", idle_customer) is None
    assert (await services.store.conversation(kept["conversation_id"])).message_count == 1
    # The visitor coming back finds an empty session, and may start again.
    again, welcome = await hello(gateway, visitor_token=idle_welcome["visitor_token"])
    assert welcome["messages"] == [] and welcome["conversation_id"] is None
    assert not (await say(again, "c-2", "back"))["duplicate"]


async def test_anonymous_retention_defaults_to_ninety_days():
    assert Settings(_env_file=None).webchat.anonymous_retention == timedelta(days=90)


def test_the_settings_read_as_the_readme_writes_them(monkeypatch):
    from ipaddress import ip_network

    import pytest

    from gateway.settings import SettingsError, load_settings
    monkeypatch.setenv("GATEWAY_WEBCHAT__TOKEN_TTL", "P1D")
    monkeypatch.setenv("GATEWAY_WEBCHAT__ANONYMOUS_RETENTION", "P30D")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    settings = load_settings(_env_file=None)
    assert settings.webchat.token_ttl == timedelta(days=1)
    assert settings.webchat.anonymous_retention == timedelta(days=30)
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("192.0.2.1/32"))
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "my-proxy")
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        load_settings(_env_file=None)
