"""The operator's Slack set-up, as Slack's side sees it: the Request URL check and the manifest."""

from __future__ import annotations

import json

import yaml

from tests.slack.signing import signed_headers
from tests.support import ROOT

CHALLENGE = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                        "type": "url_verification"})


async def test_the_request_url_check_passes_once_both_secrets_are_set(slack_gateway):
    response = await slack_gateway.client.post("/slack/events", data=CHALLENGE, headers=signed_headers(CHALLENGE))
    assert response.status == 200
    assert (await response.json())["challenge"] == json.loads(CHALLENGE)["challenge"]
    # Signed with another app's secret (the secret pasted into the wrong gateway): refused.
    wrong = await slack_gateway.client.post("/slack/events", data=CHALLENGE,
                                            headers=signed_headers(CHALLENGE, secret="another-app"))
    assert wrong.status == 401


def test_the_manifest_points_every_url_at_slack_events_and_can_join_public_channels():
    manifest = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())
    settings = manifest["settings"]
    urls = {settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"],
            *(command["url"] for command in manifest["features"]["slash_commands"])}
    assert urls == {"https://gateway.example.com/slack/events"}
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"channels:join", "channels:history", "groups:history", "chat:write"} <= scopes
    assert set(settings["event_subscriptions"]["bot_events"]) == {"message.channels", "message.groups", "message.im"}
