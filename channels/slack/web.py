"""``POST /slack/events``: slack-bolt verifies, we classify and enqueue, Slack gets its 200 at once.

Events, interactivity (buttons, shortcuts, modals) and the ``/gateway``
command share the one URL. Bolt checks the signature and the 5-minute
window (401 otherwise) and answers ``url_verification``. Our listeners only
read Redis, write a marker, and enqueue jobs, so the answer is well inside
Slack's 3 seconds; the exception is a customer's message, which is stored
(ingested) before the 200, like every channel's, so an accepted message is
never lost. Two Web API calls are made inline: opening the note modal
(Slack's ``trigger_id`` expires after 3 seconds), and "Show full email",
which reads one message and posts it ephemerally to the agent who asked
(read-only, nothing to retry, and the agent is waiting for it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from channels.deps import CHANNEL_DEPS, ChannelDeps
from channels.slack import blocks, commands, jobnames
from channels.slack import inbound as events
from channels.slack.api import SlackApi, SlackError, configured, make_client
from channels.slack.settings import SlackSettings
from channels.slack.state import SlackState
from conversations.backlog import LIVE, Filter, Order
from conversations.errors import NotFound
from conversations.messages import InvalidPayload

log = logging.getLogger("gateway.slack")

BOLT = web.AppKey("slack_bolt", AsyncApp)
SETTINGS: web.AppKey[SlackSettings] = web.AppKey("slack_settings", SlackSettings)
QUEUE_LISTING = 20  # conversations shown by `/gateway queue`, most urgent first; the count covers all

NOTE_MODAL = "gw_note_modal"
BUTTON_ACTIONS = {"gw_claim": ("claim", ""), "gw_escalate": ("escalate", ""), "gw_resolve": ("resolve", ""),
                  "gw_transfer_service": ("transfer", "service"), "gw_transfer_support": ("transfer", "support")}


def setup_routes(app: web.Application, settings: SlackSettings) -> None:
    app[SETTINGS] = settings
    app.router.add_post("/slack/events", slack_events)
    app.cleanup_ctx.append(_lifecycle)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    if configured(app[SETTINGS]):
        app[BOLT] = build_bolt_app(app[CHANNEL_DEPS], app[SETTINGS])
    yield


async def slack_events(request: web.Request) -> web.Response:
    bolt = request.app.get(BOLT)
    if bolt is None:
        raise web.HTTPNotFound(text="Slack is not configured (GATEWAY_SLACK__BOT_TOKEN, __SIGNING_SECRET)")
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))


def build_bolt_app(deps: ChannelDeps, settings: SlackSettings) -> AsyncApp:
    assert settings.signing_secret is not None  # configured() checked it
    client = make_client(settings)
    bolt = AsyncApp(signing_secret=settings.signing_secret.get_secret_value(), client=client,
                    process_before_response=True, logger=log)
    slack = SlackState(deps.redis)
    api = SlackApi(client, deps.redis)
    customer_channels = frozenset(settings.customer_channels)

    async def enqueue(conversation_id: str, job: str, *args: str) -> None:
        """An agent's job on the conversation's job queue, named by its dotted path."""
        conversation = await deps.store.conversation(conversation_id)
        await deps.jobs.enqueue(jobnames.job_queue(conversation.queue), job, conversation_id, *args,
                                retry_intervals=jobnames.RETRY_INTERVALS)

    @bolt.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        seen = events.classify(event, bot_user_id=context.bot_user_id, customer_channels=customer_channels)
        if seen.kind == events.Kind.IGNORE:
            return
        event_id = body.get("event_id")
        if event_id and not await slack.first_delivery(event_id):
            return  # Slack's retry (X-Slack-Retry-Num) or a redelivery: handled the first time
        try:
            await _handle(seen, body, event)
        except Exception:
            if event_id:
                await slack.forget_delivery(event_id)  # let Slack's retry try again
            raise

    async def _handle(seen: events.Classified, body: dict[str, Any], event: dict[str, Any]) -> None:
        if seen.kind == events.Kind.CUSTOMER:
            try:
                inbound = events.to_inbound(body, event)
            except InvalidPayload as error:
                log.info("ignored a Slack customer message: %s", error)
                return
            await deps.service.ingest(inbound)  # with the customer's Slack thread as a conversation fact
            return
        conversation_id = await slack.conversation_for_thread(seen.channel, seen.thread_ts)
        if conversation_id is None:
            return  # a thread that is not a conversation's: agents talking among themselves
        if seen.kind == events.Kind.AGENT_REPLY:
            await enqueue(conversation_id, jobnames.AGENT_REPLY, seen.channel, seen.thread_ts, seen.ts, seen.user,
                          events.plain_text(seen.text))
        else:
            await enqueue(conversation_id, jobnames.AGENT_EDITED, seen.channel, seen.thread_ts, seen.ts, seen.kind.value)

    @bolt.event("app_mention")
    async def on_mention() -> None:
        return  # the message event carries the same text; nothing more to do

    @bolt.action(re.compile("^gw_(claim|escalate|resolve|transfer_service|transfer_support)$"))
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        verb, argument = BUTTON_ACTIONS[action["action_id"]]
        conversation_id = action.get("value", "")
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id", "")
        once = f"action:{action.get('action_ts') or body.get('trigger_id')}"
        try:
            await enqueue(conversation_id, jobnames.AGENT_ACTION, verb, user, argument, channel, once)
        except NotFound:
            await api.ephemeral(channel, user, f"No conversation {conversation_id}; it may have been merged.")

    @bolt.action(blocks.FULL_MESSAGE_ACTION)
    async def on_full_message(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The whole mail (quoted history, signature) to the agent who pressed, and only to them."""
        await ack()
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id", "")
        container = body.get("container") or {}
        thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
        conversation_id, _, message_id = str(action.get("value", "")).partition(" ")
        try:
            message = await deps.store.message(conversation_id, message_id)
        except NotFound:
            text = "That message is no longer stored (its conversation may have been merged)."
        else:
            text = blocks.original_text(message)
        try:
            await api.ephemeral(channel, user, text, thread_ts=thread_ts)
        except SlackError as error:
            log.warning("could not show the full message %s to %s: %s", message_id, user, error)

    @bolt.action("gw_note")
    async def on_note_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await _open_note_modal(body["trigger_id"], action.get("value", ""))

    @bolt.shortcut("gw_note")
    async def on_note_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id", "")
        root = message.get("thread_ts") or message.get("ts") or ""
        conversation_id = await slack.conversation_for_thread(channel, root)
        if conversation_id is None:
            await api.ephemeral(channel, body["user"]["id"], "That message is not in a conversation's thread.")
            return
        await _open_note_modal(body["trigger_id"], conversation_id)

    async def _open_note_modal(trigger_id: str, conversation_id: str) -> None:
        try:
            await api.open_view(trigger_id, note_modal(conversation_id))
        except SlackError as error:
            log.warning("could not open the note modal: %s", error)

    @bolt.view(NOTE_MODAL)
    async def on_note_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = view["state"]["values"]["note"]["text"]["value"] or ""
        if not text.strip():
            await ack(response_action="errors", errors={"note": "Write the note first."})
            return
        await ack()
        conversation_id = view.get("private_metadata", "")
        await enqueue(conversation_id, jobnames.AGENT_ACTION, "note", body["user"]["id"], text, "",
                      f"view:{view.get('id')}")

    @bolt.command("/gateway")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        try:
            parsed = commands.parse(command.get("text", ""))
        except commands.CommandError as error:
            await ack(response_type="ephemeral", text=str(error))
            return
        if parsed.verb == "help":
            await ack(response_type="ephemeral", text=commands.USAGE)
            return
        if parsed.verb == "queue":
            await ack(response_type="ephemeral", text=await _queue_listing(parsed.argument))
            return
        assert parsed.conversation is not None  # parse() names the conversation of every action
        try:
            await enqueue(parsed.conversation, jobnames.AGENT_ACTION, parsed.verb, command["user_id"], parsed.argument,
                          command.get("channel_id", ""), f"command:{command.get('trigger_id')}")
        except NotFound:
            await ack(response_type="ephemeral", text=f"No conversation {parsed.conversation}.")
            return
        await ack(response_type="ephemeral", text=f"{parsed.verb.capitalize()}: on it ({parsed.conversation}).")

    async def _queue_listing(queue: str) -> str:
        # The backlog index: the most urgent live conversations of the whole queue, exact at any size,
        # a few round trips whatever the backlog holds; fast enough to answer inline.
        wanted = Filter(queues=frozenset({queue} if queue else ()), statuses=LIVE, routed_only=True)
        page = await deps.store.index.page(wanted, Order.URGENCY, limit=QUEUE_LISTING)
        total = await deps.store.index.count(wanted, Order.URGENCY)
        conversations = await deps.store.conversations(conversation_id for conversation_id, _ in page.items)
        names: dict[str, str] = {}
        for conversation in conversations:
            if conversation.customer_id not in names:
                try:
                    names[conversation.customer_id] = (await deps.store.customer(conversation.customer_id)).name
                except NotFound:
                    names[conversation.customer_id] = "customer"
        return commands.queue_listing(conversations, names, queue, total=total)

    return bolt


def note_modal(conversation_id: str) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": NOTE_MODAL, "private_metadata": conversation_id,
        "title": {"type": "plain_text", "text": "Internal note"},
        "submit": {"type": "plain_text", "text": "Add note"},
        "blocks": [
            {"type": "input", "block_id": "note", "label": {"type": "plain_text", "text": "Note (agents only)"},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": True}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": "Never sent to the customer. Conversation "
                                                      f"`{conversation_id}`"}]},
        ],
    }
