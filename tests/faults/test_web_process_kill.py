"""A web process killed (kill -9) while a visitor is connected: the widget reconnects to the other one and
shows every message it missed, once, in order.

Two ``gateway serve`` processes on one real Redis behind a small TCP proxy
("the same URL": a new connection goes to the first process that accepts
it), a ``gateway worker``, and the real widget in Debian's Chromium. The
process holding the visitor's socket is killed; while the proxy has not
noticed yet (it refuses connections for a moment, as a load balancer between
health checks would), agents answer three times and the visitor types a
message. Then the widget gets through to the surviving process.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
from aiohttp import web

from tests.faults.processes import Process, WebProcess, admin_headers, gateway_env, rules_file, workers_running
from tests.faults.servers import RedisNode
from tests.faults.verify import report
from tests.support import free_port, wait_until
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)

class FailoverProxy:
    """Each new connection goes to the first upstream that accepts it; ``refusing`` drops new ones."""

    def __init__(self, upstreams: list[int]) -> None:
        self.upstreams = upstreams
        self.port = free_port()
        self.refusing = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in self._pipes:
            pipe.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        for port in self.upstreams:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        self.connections += 1
        for task in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            pipe = asyncio.ensure_future(task)
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


@pytest.mark.timeout(120)
async def test_the_widget_reconnects_to_another_web_process_and_shows_what_it_missed_once_in_order(
        browser, aiohttp_server):
    redis = RedisNode().start()
    proxy = FailoverProxy([free_port(), free_port()])
    env = gateway_env({"GATEWAY_REDIS_URL": redis.url}, rules_file())
    processes: list[Process] = []
    try:
        first = WebProcess(env, port=proxy.upstreams[0], public_url=proxy.url)
        processes.append(first)
        second = WebProcess(env, port=proxy.upstreams[1], public_url=proxy.url)
        processes.append(second)
        worker = Process(["worker"], env, "worker")
        processes.append(worker)
        await wait_until(lambda: workers_running(redis.url), timeout=30, what="the worker to start")
        await proxy.start()
        page_server = await aiohttp_server(_page_app(proxy.url))
        context = await browser.new_context()
        page = await context.new_page()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            figures = await _kill_while_connected(page, session, proxy, first, second,
                                                  str(page_server.make_url("/")))
        await context.close()
        assert second.alive() and worker.alive()
        report("web_process_kill", figures)
    finally:
        for process in processes:
            process.stop()
        await proxy.close()
        redis.stop()


def _page_app(gateway: str) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=(
            "<!doctype html><html><head><meta charset='utf-8'><title>shop</title></head><body><h1>Shop</h1>"
            f"<script src='{gateway}/webchat/widget.js' defer data-name='Ada'></script></body></html>"))

    app = web.Application()
    app.router.add_get("/", page)
    return app


async def _kill_while_connected(page, session: aiohttp.ClientSession, proxy: FailoverProxy, first: WebProcess,
                                second: WebProcess, page_url: str) -> dict[str, object]:
    await page.goto(page_url)
    await page.click("#gw-chat-bubble")
    await _type(page, "Hi, where is my order?")
    await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=10_000)
    conversation = await _conversation(session, second.url)
    await _reply(session, second.url, conversation, "Let me check.")  # through the other process: pub/sub
    await page.wait_for_selector("text=Let me check.", timeout=15_000)

    # kill -9 of the process holding the socket; the proxy refuses for a moment, as a balancer would.
    proxy.refusing = True
    first.kill()
    await page.wait_for_selector("#gw-chat-status:has-text('reconnecting')", timeout=10_000)
    missed = ["It left the warehouse.", "It arrives tomorrow.", "Anything else?"]
    for text in missed:
        await _reply(session, second.url, conversation, text)
    await wait_until(lambda: _all_sent(session, second.url, conversation, len(missed) + 1), timeout=20,
                     what="the worker to deliver the replies nobody was connected for")
    await _type(page, "Thanks, typed while offline")
    assert await page.locator(".gw-msg.gw-pending").count() == 1

    proxy.refusing = False
    await page.wait_for_selector(".gw-msg:has-text('Anything else?')", timeout=20_000)
    await page.wait_for_selector(".gw-msg.gw-in:has-text('typed while offline'):not(.gw-pending)", timeout=20_000)

    expected = ["Hi, where is my order?", "Let me check.", *missed, "Thanks, typed while offline"]
    timeline = await _visible_texts(session, second.url, conversation)
    assert timeline == expected, timeline
    shown = await page.evaluate(
        "() => Array.from(document.querySelectorAll('.gw-msg')).map(n => n.lastChild.textContent)")
    assert shown == expected, shown
    return {"missed_replies_shown": len(missed), "shown_once_in_order": True, "proxy_connections": proxy.connections}


async def _type(page, text: str) -> None:
    await page.fill("#gw-chat-input", text)
    await page.press("#gw-chat-input", "Enter")


async def _conversation(session: aiohttp.ClientSession, base: str) -> str:
    async def found() -> str | None:
        async with session.get(f"{base}/api/conversations", headers=admin_headers()) as response:
            conversations = (await response.json())["conversations"]
        return conversations[0]["id"] if conversations else None

    return await wait_until(found, timeout=10, what="the visitor's conversation")


async def _reply(session: aiohttp.ClientSession, base: str, conversation: str, text: str) -> None:
    async with session.post(f"{base}/api/conversations/{conversation}/messages", headers=admin_headers(),
                            json={"text": text, "author": "Grace"}) as response:
        assert response.status == 201, await response.text()


async def _messages(session: aiohttp.ClientSession, base: str, conversation: str) -> list[dict]:
    async with session.get(f"{base}/api/conversations/{conversation}", headers=admin_headers()) as response:
        return (await response.json())["messages"]


async def _all_sent(session: aiohttp.ClientSession, base: str, conversation: str, count: int) -> bool:
    outbound = [m for m in await _messages(session, base, conversation) if m["direction"] == "outbound"]
    return len(outbound) == count and all(m["delivery"] in ("sent", "delivered") for m in outbound)


async def _visible_texts(session: aiohttp.ClientSession, base: str, conversation: str) -> list[str]:
    return [m["text"] for m in await _messages(session, base, conversation)
            if m["direction"] in ("inbound", "outbound")]
