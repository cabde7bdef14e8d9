"""deploy/nginx.conf, as docs/OPERATIONS.md gives it, in front of a real `gateway serve`.

TLS at nginx (a self-signed certificate for localhost), GATEWAY_PUBLIC_URL set
to the proxy's https URL: the web chat socket upgrades through the proxy, and
a Twilio webhook signed for the public URL is accepted although the gateway
itself is reached over plain http on another port.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from tests.gateway.proc import GatewayProcess, gateway_env, wait_for_status
from tests.support import IN_CI, ROOT, free_port, wait_until_sync

ACCOUNT_SID, AUTH_TOKEN = "AC" + "a" * 32, "proxy-test-auth-token"


def nginx() -> str:
    binary = shutil.which("nginx") or (("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs nginx for the reverse proxy test (apt-get install -y nginx-light)")
        pytest.skip("nginx is not installed")
    return binary


def test_the_documented_config_is_the_one_shipped():
    doc = (ROOT / "docs" / "OPERATIONS.md").read_text()
    block = re.search(r"```nginx\n(.*?)```", doc, re.S)
    assert block and block.group(1) == (ROOT / "deploy" / "nginx.conf").read_text()


def render(tmp_path: Path, proxy_port: int, web_port: int) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = (site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{web_port};")
                .replace("listen 443 ssl;", f"listen 127.0.0.1:{proxy_port} ssl;")
                .replace("support.example.com;", "localhost;")
                .replace("/etc/letsencrypt/live/support.example.com/fullchain.pem", str(tmp_path / "cert.pem"))
                .replace("/etc/letsencrypt/live/support.example.com/privkey.pem", str(tmp_path / "key.pem")))
    (tmp_path / "site.conf").write_text(site)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(f"""daemon off; user root; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {tmp_path}/access.log;
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy; fastcgi_temp_path {tmp_path}/fastcgi;
  uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
  include {tmp_path}/site.conf;
}}
""")
    return main


async def test_web_chat_and_a_signed_twilio_webhook_through_the_proxy(tmp_path, redis_url):
    binary = nginx()
    proxy_port, web_port = free_port(), free_port()
    public = f"https://localhost:{proxy_port}"
    config = render(tmp_path, proxy_port, web_port)
    proxy = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(web_port),
                      GATEWAY_PUBLIC_URL=public, GATEWAY_TWILIO__ACCOUNT_SID=ACCOUNT_SID,
                      GATEWAY_TWILIO__AUTH_TOKEN=AUTH_TOKEN, GATEWAY_TWILIO__FROM_NUMBER="+15005550006")
    web = GatewayProcess("serve", env=env, cwd=tmp_path)
    try:
        await asyncio.to_thread(wait_for_status, f"http://127.0.0.1:{web_port}/readyz")
        async with aiohttp.ClientSession() as session:
            await asyncio.to_thread(wait_until_sync, lambda: _answers(proxy_port), timeout=30, what="nginx")
            async with session.ws_connect(f"{public}/webchat/ws", ssl=False) as ws:
                await ws.send_json({"type": "hello"})
                assert (await ws.receive_json())["type"] == "welcome"
                await ws.send_json({"type": "message", "client_id": "c1", "text": "Hello through the proxy"})
                assert (await ws.receive_json())["type"] == "ack"

            form = {"MessageSid": "SM" + "1" * 32, "AccountSid": ACCOUNT_SID, "From": "+14155550100",
                    "To": "+15005550006", "Body": "Texting through the proxy", "NumMedia": "0"}
            signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{public}/sms/twilio", form)
            async with session.post(f"{public}/sms/twilio", data=form, ssl=False,
                                    headers={"X-Twilio-Signature": signature}) as response:
                assert response.status == 200 and "<Response/>" in await response.text()
            # Signed for the address the gateway itself listens on: not what Twilio calls, refused.
            internal = RequestValidator(AUTH_TOKEN).compute_signature(f"http://127.0.0.1:{web_port}/sms/twilio", form)
            async with session.post(f"{public}/sms/twilio", data=form, ssl=False,
                                    headers={"X-Twilio-Signature": internal}) as response:
                assert response.status == 403
    finally:
        assert web.stop() == 0
        proxy.terminate()
        proxy.wait(timeout=30)


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True
