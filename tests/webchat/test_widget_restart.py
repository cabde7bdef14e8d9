"""A web process restarted under a visitor: the widget is told "going away" (1001), reconnects, loses nothing."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from tests.gateway.proc import GatewayProcess, gateway_env, wait_for_status
from tests.support import free_port

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>shop</title></head><body>
<p>Our shop.</p><script src="http://127.0.0.1:{port}/webchat/widget.js" defer></script></body></html>"""


async def test_the_widget_reconnects_after_a_restart_and_sends_what_was_typed_meanwhile(
        tmp_path, redis_url, browser, aiohttp_server):
    port = free_port()
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="shared-by-every-web-process",
                      GATEWAY_PORT=str(port))
    async def shop_page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.format(port=port), content_type="text/html")

    site = web.Application()
    site.router.add_get("/", shop_page)
    shop = await aiohttp_server(site)

    first = GatewayProcess("serve", env=env, cwd=tmp_path)
    second = None
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await asyncio.to_thread(wait_for_status, f"http://127.0.0.1:{port}/readyz")
        await page.goto(str(shop.make_url("/")))
        await page.click("#gw-chat-bubble")
        await page.fill("#gw-chat-input", "My order never came")
        await page.press("#gw-chat-input", "Enter")
        await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=10000)

        # A deploy: the process is told to stop and closes the socket with 1001 "going away".
        first.send(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 60) == 0
        await page.wait_for_function("document.getElementById('gw-chat-status').textContent.includes('reconnecting')",
                                     timeout=10000)
        await page.fill("#gw-chat-input", "Hello? Are you there?")  # typed while no process answers
        await page.press("#gw-chat-input", "Enter")

        second = GatewayProcess("serve", env=env, cwd=tmp_path)  # the new version, same URL
        await asyncio.to_thread(wait_for_status, f"http://127.0.0.1:{port}/readyz")
        await page.wait_for_selector(".gw-msg.gw-pending", state="detached", timeout=60000)
        texts = await page.locator(".gw-msg").all_inner_texts()
        assert texts == ["My order never came", "Hello? Are you there?"]  # each once, in order
        assert await page.locator("#gw-chat-status").inner_text() == ""
    finally:
        await context.close()
        first.close()
        if second is not None:
            assert second.stop() == 0
    assert "Traceback" not in first.output + (second.output if second else "")
