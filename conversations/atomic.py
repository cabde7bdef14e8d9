"""WATCH/MULTI/EXEC on the keys of one slot, on a single Redis or on a Redis Cluster.

Every transaction of the gateway touches the keys of one customer (one hash
tag, one slot), so on a cluster it can run on the node that owns that slot.
redis-py's own cluster pipelines either refuse transactions (older versions)
or run each WATCH and read on a thread with an event loop of its own (about
40 ms each, with the caller's loop blocked meanwhile); here the transaction
runs on an ordinary client connected to the owning node instead. A slot that
moved (MOVED/ASK) is pointed at its new node and the body runs again.

Use ``watched`` for read-modify-write (the body reads through the pipeline,
calls ``pipe.multi()``, queues the writes and ``execute()``s) and ``multi``
for writes that only need to be applied together.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, WatchError

T = TypeVar("T")
MAX_REDIRECTS = 5
# Connection settings a node client copies from the cluster client.
_NODE_OPTIONS = ("username", "password", "credential_provider", "decode_responses", "encoding", "encoding_errors",
                 "socket_timeout", "socket_connect_timeout", "socket_keepalive", "client_name")
_node_clients: weakref.WeakKeyDictionary[RedisCluster, dict[str, Redis]] = weakref.WeakKeyDictionary()


async def watched(redis: Any, keys: list[str], body: Callable[[Pipeline], Awaitable[T]]) -> T:
    """Run ``body`` on a pipeline watching ``keys`` (all in one slot); again after a concurrent write."""
    redirects = 0
    while True:
        async with _pipeline(redis, keys[0]) as pipe:
            try:
                await pipe.watch(*keys)
                return await body(pipe)
            except WatchError:
                continue
            except AskError as error:  # MovedError is an AskError: the slot lives elsewhere now
                redirects += 1
                if redirects > MAX_REDIRECTS or not isinstance(redis, RedisCluster):
                    raise
                # Point the slot at its new node, as redis-py does on MOVED (a full refresh would
                # replace every node's connections under the commands in flight).
                await redis.nodes_manager.move_slot(error)


@asynccontextmanager
async def multi(redis: Any, key: str) -> AsyncIterator[Pipeline]:
    """A MULTI/EXEC pipeline on the node owning ``key``'s slot; every queued key must share it."""
    async with _pipeline(redis, key) as pipe:
        yield pipe


@asynccontextmanager
async def _pipeline(redis: Any, key: str) -> AsyncIterator[Pipeline]:
    client = await node_client(redis, key) if isinstance(redis, RedisCluster) else redis
    async with client.pipeline(transaction=True) as pipe:
        yield pipe


async def node_client(cluster: RedisCluster, key: str) -> Redis:
    """A plain client of the primary that owns ``key``'s slot (one per node, kept with the cluster client)."""
    if cluster._initialize:  # the slot map is read on first use
        await cluster.initialize()
    node = cluster.get_node_from_key(key)
    if node is None:
        raise AskError(f"no node serves the slot of {key}")
    clients = _node_clients.setdefault(cluster, {})
    client = clients.get(node.name)
    if client is None:
        options = {name: node.connection_kwargs[name] for name in _NODE_OPTIONS if name in node.connection_kwargs}
        client = clients[node.name] = Redis(host=node.host, port=int(node.port), **options)
    return client


async def close_node_clients(cluster: Any) -> None:
    """Close the node clients made for ``cluster`` (call when closing the cluster client)."""
    for client in _node_clients.pop(cluster, {}).values():
        await client.aclose()
