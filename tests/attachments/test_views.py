"""Files shown where agents work: the admin API's message views and the conversation's Slack thread."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.attachments import files
from tests.attachments.test_inbound import mail_with_files
from tests.conftest import admin_headers
from tests.email.conftest import conversations, mail_gateway, sink, smtp_send  # noqa: F401
from tests.slack.conftest import fake_slack, slack_gateway  # noqa: F401


async def opens(client, url: str) -> bytes:
    """What an agent's browser gets for a signed URL (no token, no cookie)."""
    parts = urlsplit(url)
    response = await client.get(f"{parts.path}?{parts.query}")
    assert response.status == 200, await response.text()
    return await response.read()


async def test_the_admin_api_lists_attachments_with_signed_urls(mail_gateway):
    await smtp_send(mail_gateway, mail_with_files())
    [conversation_id] = await conversations(mail_gateway)
    view = await (await mail_gateway.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    [message] = [m for m in view["messages"] if m["direction"] == "inbound"]
    png, pdf, exe = message["attachments"]
    assert png["content_type"] == "image/png" and png["url"].startswith("http://127.0.0.1:8080/attachments/att_")
    assert "exp=" in png["url"] and "sig=" in png["url"]
    assert await opens(mail_gateway, png["url"]) == files.png()
    assert await opens(mail_gateway, pdf["url"]) == files.pdf()
    assert exe["url"] is None and exe["refused"].startswith("application/x-msdownload files are not accepted")


async def test_the_slack_thread_links_files_that_open_without_slack_credentials(slack_gateway, fake_slack):
    gw = slack_gateway
    shared = fake_slack.add_file("error.png", "image/png", files.png())
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "the app shows an error", "ts": "1700000300.000001", "client_msg_id": "cm-v-1", "files": [shared]}
    await gw.event(dm, event_id="Ev-v-1")
    await gw.drain()
    [parent] = fake_slack.parents("#support")
    [post] = [m for m in fake_slack.thread("#support", parent.ts) if ":paperclip:" in m.text]
    [url] = re.findall(r"<(https://gateway\.example/attachments/[^|>]+)\|error\.png>", post.text)
    assert await opens(gw.client, url.replace("&amp;", "&")) == files.png()


async def test_the_slack_thread_says_why_a_file_was_not_kept(slack_gateway, fake_slack):
    gw = slack_gateway
    gone = fake_slack.add_file("deleted.png", "image/png", files.png())
    fake_slack.files.clear()  # deleted in Slack before we could fetch it: Slack answers 404
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "see the file", "ts": "1700000700.000001", "client_msg_id": "cm-v-2", "files": [gone]}
    await gw.event(dm, event_id="Ev-v-2")
    await gw.drain()
    [parent] = fake_slack.parents("#service")
    [post] = [m for m in fake_slack.thread("#service", parent.ts) if ":paperclip:" in m.text]
    assert ":paperclip: deleted.png _(not kept: the provider answered 404 for the file)_" in post.text
