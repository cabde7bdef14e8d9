"""The whole flow on a Redis Cluster: the conversation data on three primaries, RQ on its own Redis.

``gateway serve``, ``worker --no-sweeper`` and ``sweeper`` run with
``GATEWAY_REDIS_CLUSTER=true`` (``GATEWAY_REDIS_URL`` names one node) and
``GATEWAY_QUEUE_REDIS_URL`` on a plain redis-server. A visitor chats, a
customer texts (signed Twilio webhooks; replies go to a local Twilio fake),
agents reply, transfer, link the two customers (their keys live on different
nodes) and leave one conversation unanswered until its SLA breaches.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import aiohttp
import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from twilio.request_validator import RequestValidator

from conversations.messages import InboundMessage
from conversations.models import Channel, Conversation, Identity
from conversations.store import Change, ConversationStore
from gateway.redis_clients import close_data
from tests.faults.load import ChatVisitor
from tests.faults.processes import (
    OUR_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    Process,
    WebProcess,
    admin_headers,
    gateway_env,
    rules_file,
)
from tests.faults.servers import Cluster, RedisNode
from tests.faults.verify import report, sla_timer_fires
from tests.sms.fake_twilio import FakeTwilio
from tests.support import wait_until


@pytest.fixture
async def twilio(aiohttp_server):
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    return fake


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.mark.timeout(120)
async def test_the_whole_flow_runs_on_a_redis_cluster(twilio, cluster):
    queue = RedisNode().start()
    env = gateway_env({"GATEWAY_REDIS_CLUSTER": "true", "GATEWAY_REDIS_URL": cluster.url,
                       "GATEWAY_QUEUE_REDIS_URL": queue.url}, rules_file(),
                      GATEWAY_TWILIO__API_BASE_URL=twilio.url)
    processes: list[Process] = []
    try:
        web = WebProcess(env)
        worker = Process(["worker", "--no-sweeper"], env, "worker")
        sweeper = Process(["sweeper"], env, "sweeper")
        processes += [web, worker, sweeper]
        await wait_until(lambda: _workers_on_cluster(queue.url, cluster), timeout=30,
                         what="the worker (on the queue Redis) and the sweeper (on the cluster) to start")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            api = Api(session, web.url)
            figures = await _flow(api, session, web, cluster, twilio)
            await sla_timer_fires(session, web.url)
        _keys_where_they_belong(cluster, queue)
        for process in processes:
            assert process.alive(), f"{process.name} died:\n{process.output()[-3000:]}"
        report("cluster_flow", figures)
    finally:
        for process in processes:
            process.stop()
        queue.stop()


async def test_concurrent_changes_of_one_conversation_all_apply_on_a_cluster(cluster):
    """WATCH/MULTI runs on the node owning the customer's slot; a concurrent write retries, none is lost."""
    clients = [RedisCluster.from_url(cluster.url, decode_responses=True) for _ in range(3)]
    stores = [ConversationStore(client) for client in clients]  # type: ignore[arg-type]
    try:
        message = InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, "+14155550199"),
                                 provider_id="SM" + uuid.uuid4().hex, text="hi", received_at=datetime.now(UTC))
        result = await stores[0].ingest(message)
        for client in clients:
            await client.initialize()

        def bump(current: Conversation) -> Change:
            return Change(fields={"bumps": int(current.extra.get("bumps") or 0) + 1})

        await asyncio.gather(*(stores[n % 3].mutate(result.conversation_id, bump) for n in range(60)))
        conversation = await stores[1].conversation(result.conversation_id)
        assert conversation.extra["bumps"] == "60"
    finally:
        for client in clients:
            await close_data(client)


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(self, path: str) -> dict:
        async with self.session.get(self.base + path, headers=admin_headers()) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: dict, status: int = 200) -> dict:
        async with self.session.post(self.base + path, json=body, headers=admin_headers()) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def sms(self, phone: str, text: str, sid: str | None = None) -> int:
        sid = sid or "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": TWILIO_SID, "From": phone, "To": OUR_NUMBER,
                "Body": text, "NumMedia": "0"}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(self.base + "/sms/twilio", form)
        async with self.session.post(self.base + "/sms/twilio", data=form,
                                     headers={"X-Twilio-Signature": signature}) as response:
            return response.status

    async def conversation_of_phone(self, phone: str) -> dict:
        for conversation in (await self.get("/api/conversations?channel=sms&limit=100"))["conversations"]:
            view = await self.get(f"/api/conversations/{conversation['id']}")
            if {"channel": "sms", "address": phone} in view["customer"]["identities"]:
                return view
        raise AssertionError(f"no conversation for {phone}")


async def _flow(api: Api, session: aiohttp.ClientSession, web: WebProcess, cluster: Cluster,
                twilio: FakeTwilio) -> dict[str, object]:
    # Web chat: a visitor writes; an agent's reply reaches the socket through the worker and pub/sub.
    visitor = ChatVisitor(session, [web.url], "ada")
    done = asyncio.Event()
    connection = asyncio.create_task(visitor.keep_connected(done))
    try:
        await visitor.say("Hello, my invoice is wrong")
        await wait_until(lambda: visitor.conversation_id, timeout=10, what="the chat message to be acked")
        chat = await api.get(f"/api/conversations/{visitor.conversation_id}")
        await api.post(f"/api/conversations/{chat['conversation']['id']}/messages",
                       {"text": "Looking into it", "author": "Grace"}, status=201)
        await wait_until(lambda: any(m["text"] == "Looking into it" for m in visitor.live), timeout=15,
                         what="the reply to reach the visitor")

        # SMS from a customer whose keys live on another node than the visitor's.
        phone, sms = await _sms_customer_on_another_node(api, cluster, chat["customer"]["id"])
        sid = "SM" + uuid.uuid4().hex
        assert await api.sms(phone, "And my parcel?", sid) == 200
        assert await api.sms(phone, "And my parcel?", sid) == 200  # Twilio's retry: stored once
        await api.post(f"/api/conversations/{sms['conversation']['id']}/messages",
                       {"text": "It ships today", "author": "Grace"}, status=201)
        await wait_until(lambda: any(s.get("Body") == "It ships today" and s.get("To") == phone for s in twilio.sent),
                         timeout=15, what="the SMS reply to reach Twilio")

        # Transfer the SMS conversation to the other queue.
        await api.post(f"/api/conversations/{sms['conversation']['id']}/transfer",
                       {"queue": "support", "reason": "parcel question"})
        transferred = await api.get(f"/api/conversations/{sms['conversation']['id']}")
        assert transferred["conversation"]["queue"] == "support"

        # Link the phone to the visitor: the two customers (two slots, two nodes) merge into the older one.
        merged = await api.post(f"/api/customers/{chat['customer']['id']}/identities",
                                {"channel": "sms", "address": phone})
        assert {"channel": "sms", "address": phone} in merged["customer"]["identities"]
        view = await api.get(f"/api/conversations/{visitor.conversation_id}")
        texts = [m["text"] for m in view["messages"] if m["direction"] in ("inbound", "outbound")]
        for expected in ("Hello, my invoice is wrong", "Looking into it", "And my parcel?", "It ships today"):
            assert texts.count(expected) == 1, texts
        # The customer's next text lands in the survivor's live conversation.
        assert await api.sms(phone, "Thanks!") == 200
        view = await api.get(f"/api/conversations/{visitor.conversation_id}")
        assert [m["text"] for m in view["messages"] if m["direction"] == "inbound"][-1] == "Thanks!"
        return {"nodes": len(cluster.nodes), "merged_across_nodes": True,
                "timeline_after_merge": len(view["messages"])}
    finally:
        done.set()
        await connection


async def _sms_customer_on_another_node(api: Api, cluster: Cluster, other_customer: str) -> tuple[str, dict]:
    """Text from new numbers until one's customer lives on another node than ``other_customer``."""
    for n in range(20):
        phone = f"+1415556{n:04d}"
        assert await api.sms(phone, f"Hi, this is {phone}") == 200
        view = await api.conversation_of_phone(phone)
        if _node(cluster, view["customer"]["id"]) != _node(cluster, other_customer):
            return phone, view
    raise AssertionError("every customer landed on one node")


def _node(cluster: Cluster, customer_id: str) -> int:
    client = cluster.nodes[0].client()
    slot = client.execute_command("CLUSTER", "KEYSLOT", f"gw:{{c:{customer_id}}}:customer")
    for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(primary[1])
    raise AssertionError(f"slot {slot} is not served")


def _workers_on_cluster(queue_url: str, cluster: Cluster) -> bool:
    client = cluster.client()
    try:
        return _rq_workers(queue_url) and bool(client.exists("gw:timers:sweeper"))
    finally:
        client.close()


def _rq_workers(queue_url: str) -> bool:
    client = redis.Redis.from_url(queue_url)
    try:
        return client.scard("rq:workers") >= 1
    finally:
        client.close()


def _keys_where_they_belong(cluster: Cluster, queue: RedisNode) -> None:
    """Conversation data on every node of the cluster, no RQ keys there; RQ's keys, and only those, on the queue Redis."""
    for node in cluster.nodes:
        client = node.client()
        assert client.dbsize() > 0, f"node {node.port} holds nothing"
        assert not list(client.scan_iter("rq:*", count=1000)), f"RQ keys on cluster node {node.port}"
    queue_keys = list(queue.client().scan_iter(count=1000))
    assert any(k.startswith("rq:") for k in queue_keys)
    assert not [k for k in queue_keys if k.startswith("gw:")], "gateway data on the queue Redis"
