"""``POST /slack/events``: verify, check the payload, then slack-bolt classifies and we enqueue.

Events, interactivity (buttons, shortcuts, modals) and the ``/gateway``
command share the one URL. Before Bolt sees a request, ``slack_events``
checks the signature and the 5-minute window (401 otherwise) and the types of
every field that Bolt or a listener reads (400 otherwise, ``payloads``), so a
signed but malformed request is a clear 4xx, never a 500. Bolt answers
``url_verification``. Our listeners only read Redis, write a marker, and
enqueue jobs, so the answer is well inside Slack's 3 seconds; the exception
is a customer's message, which is stored (ingested) before the 200, like every
channel's, so an accepted message is never lost. Two Web API calls are made
inline: opening the note modal (Slack's ``trigger_id`` expires after 3
seconds), and "Show full email", which reads one message and posts it
ephemerally to the agent who asked (read-only, nothing to retry, and the agent
is waiting for it).

Every agent action (command, button, note, "Show full email", thread reply) is checked by
``agents.Agents`` first; a refusal is shown to that person only and changes
nothing (a refused thread message also gets an :x: reaction, so the thread
shows it went nowhere).

An agent's message in a conversation's thread goes to the customer or stays an
internal note as ``threadreplies.decide`` says (the mode, ``!note ``/``!reply ``,
mentions); the job that stores it puts the reaction that shows which.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from channels.deps import CHANNEL_DEPS, ChannelDeps
from channels.slack import blocks, commands, jobnames, payloads, threadreplies
from channels.slack import inbound as events
from channels.slack.agents import Agents
from channels.slack.api import SlackApi, SlackError, configured, make_client
from channels.slack.files import described, store_files
from channels.slack.settings import SlackSettings
from channels.slack.state import SlackState
from conversations.backlog import LIVE, Filter, Order
from conversations.clock import now_seconds
from conversations.errors import NotFound
from conversations.messages import InvalidPayload
from conversations.models import Channel

log = logging.getLogger("gateway.slack")

BOLT = web.AppKey("slack_bolt", AsyncApp)
SETTINGS: web.AppKey[SlackSettings] = web.AppKey("slack_settings", SlackSettings)
QUEUE_LISTING = 20  # conversations shown by `/gateway queue`, most urgent first; the count covers all

NOTE_MODAL = "gw_note_modal"
BUTTON_ACTIONS = {"gw_claim": ("claim", ""), "gw_escalate": ("escalate", ""), "gw_resolve": ("resolve", ""),
                  "gw_transfer_service": ("transfer", "service"), "gw_transfer_support": ("transfer", "support")}
NOT_SENT = "Not sent to the customer: {reason}"
FILES_NOT_IN_NOTES = ("This message stayed internal, so its files were not kept: an internal note carries "
                      "text only. Send them to the customer with `!reply `, or share them in the thread as they are.")
EMPTY_AFTER_PREFIX = "Nothing to send or keep: write the message after `!note ` or `!reply `."


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
    settings = request.app[SETTINGS]
    if bolt is None or settings.signing_secret is None:
        raise web.HTTPNotFound(text="Slack is not configured (GATEWAY_SLACK__BOT_TOKEN, __SIGNING_SECRET)")
    raw = await request.read()
    payloads.verify(settings.signing_secret.get_secret_value().encode(),
                    request.headers.get("X-Slack-Request-Timestamp", ""),
                    request.headers.get("X-Slack-Signature", ""), raw, now=now_seconds())
    bolt_request = payloads.bolt_request(raw, query=request.query_string, headers=request.headers)
    return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))


def build_bolt_app(deps: ChannelDeps, settings: SlackSettings) -> AsyncApp:
    assert settings.signing_secret is not None  # configured() checked it
    client = make_client(settings)
    # The signature is checked in slack_events, before the body is parsed at all.
    bolt = AsyncApp(signing_secret=settings.signing_secret.get_secret_value(), client=client,
                    process_before_response=True, logger=log, request_verification_enabled=False)
    slack = SlackState(deps.redis)
    api = SlackApi(client, deps.redis)
    agents = Agents(deps.redis, deps.store, api, settings.agent_ids)
    customer_channels = frozenset(settings.customer_channels)

    async def enqueue(conversation_id: str, job: str, *args: str) -> None:
        """An agent's job on the conversation's job queue, named by its dotted path."""
        conversation = await deps.store.conversation(conversation_id)
        await deps.jobs.enqueue(jobnames.job_queue(conversation.queue), job, conversation_id, *args,
                                retry_intervals=jobnames.RETRY_INTERVALS)

    async def tell(channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """Only ``user`` sees it; a failure to tell is logged, never the request's failure."""
        if not (channel and user):
            return
        try:
            await api.ephemeral(channel, user, text, thread_ts=thread_ts)
        except SlackError as error:
            log.warning("could not tell %s in %s: %s", user, channel, error)

    async def mark(channel: str, ts: str, route: str) -> None:
        """A reaction on a message that was not taken: nobody has to guess whether the customer got it."""
        try:
            await api.react(channel, ts, blocks.REACTIONS[route])
        except SlackError as error:
            log.warning("could not mark %s in %s: %s", ts, channel, error)

    async def customer_users(conversation_id: str) -> frozenset[str]:
        """The Slack user ids the conversation's customer writes from (identities ``slack:TEAM:USER``)."""
        conversation = await deps.store.conversation(conversation_id)
        customer = await deps.store.current_customer(conversation.customer_id)
        return frozenset(i.address.partition(":")[2] for i in customer.identities if i.channel == Channel.SLACK)

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        if isinstance(error, (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError)):
            log.error("storage unavailable handling a Slack request: %s", error)
            return BoltResponse(status=503, body="storage unavailable, retry later")  # Slack retries
        if isinstance(error, SlackError) and not error.permanent:
            log.warning("Slack API unavailable handling a Slack request: %s", error)
            return BoltResponse(status=503, body="Slack API unavailable, retry later")
        log.error("unhandled error in a Slack listener", exc_info=error)
        return BoltResponse(status=500, body="internal error")

    @bolt.event("message")
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        seen = events.classify(event, bot_user_id=context.bot_user_id, customer_channels=customer_channels)
        if seen.kind == events.Kind.IGNORE:
            return
        event_id = payloads.text(body.get("event_id"))
        if event_id and not await slack.first_delivery(event_id):
            return  # Slack's retry (X-Slack-Retry-Num) or a redelivery: handled the first time
        try:
            await _handle(seen, body, event, context.bot_user_id)
        except Exception:
            if event_id:
                await slack.forget_delivery(event_id)  # let Slack's retry try again
            raise

    async def _handle(seen: events.Classified, body: dict[str, Any], event: dict[str, Any],
                      bot_user: str | None) -> None:
        if seen.kind == events.Kind.CUSTOMER:
            await agents.mark_customer(seen.user)  # first: whoever writes as a customer is never an agent
            try:
                inbound = events.to_inbound(body, event)
            except InvalidPayload as error:
                log.info("ignored a Slack customer message: %s", error)
                return
            files = await store_files(deps.attachments, settings, "slack", deps.secret_key, inbound.dedupe_key,
                                      inbound.attachments)
            # With the customer's Slack thread as a conversation fact.
            await deps.service.ingest(replace(inbound, attachments=files))
            return
        conversation_id = await slack.conversation_for_thread(seen.channel, seen.thread_ts)
        if conversation_id is None:
            return  # a thread that is not a conversation's: agents talking among themselves
        try:
            await _agent_message(seen, body, event, conversation_id, bot_user)
        except NotFound:
            log.info("a Slack thread points at %s, which no longer exists", conversation_id)

    async def _agent_message(seen: events.Classified, body: dict[str, Any], event: dict[str, Any],
                             conversation_id: str, bot_user: str | None) -> None:
        if seen.kind == events.Kind.AGENT_REPLY:
            team = payloads.text(event.get("user_team") or event.get("team") or body.get("team_id"))
            refusal = await agents.refusal(seen.user, team)
            if refusal:
                log.info("a thread reply by %s was not sent to the customer: %s", seen.user, refusal)
                await tell(seen.channel, seen.user, NOT_SENT.format(reason=refusal), seen.thread_ts)
                await mark(seen.channel, seen.ts, "refused")
                return
            customers: frozenset[str] = frozenset()
            if threadreplies.mentioned_users(seen.text, bot_user=bot_user):
                customers = await customer_users(conversation_id)  # a mention of the customer is for them
            decision = threadreplies.decide(seen.text, default=settings.thread_replies, bot_user=bot_user,
                                            customer_users=customers)
            text = events.plain_text(decision.text)
            # Files are fetched by the job (with the bot token), not here: the event is answered at once.
            files = json.dumps([a.fields() for a in described(event.get("files") or ())]) if event.get("files") else ""
            if decision.why == "prefix" and not text.strip() and not files:
                await tell(seen.channel, seen.user, EMPTY_AFTER_PREFIX, seen.thread_ts)
                return
            if decision.route == threadreplies.Route.CUSTOMER:
                await enqueue(conversation_id, jobnames.AGENT_REPLY, seen.channel, seen.thread_ts, seen.ts, seen.user,
                              text, files)
                return
            if files:
                await tell(seen.channel, seen.user, FILES_NOT_IN_NOTES, seen.thread_ts)
            await enqueue(conversation_id, jobnames.AGENT_NOTE, seen.channel, seen.thread_ts, seen.ts, seen.user, text)
        else:
            await enqueue(conversation_id, jobnames.AGENT_EDITED, seen.channel, seen.thread_ts, seen.ts, seen.kind.value)

    @bolt.event("app_mention")
    async def on_mention() -> None:
        return  # the message event carries the same text; nothing more to do

    async def refused(body: dict[str, Any]) -> str | None:
        """Why the person behind an interactivity payload may not act (told to them), or None."""
        user = payloads.field(body, "user", "id")
        refusal = await agents.refusal(user, payloads.field(body, "user", "team_id") or payloads.field(body, "team", "id"))
        if refusal:
            await tell(payloads.field(body, "channel", "id"), user, refusal)
        return refusal

    @bolt.action(re.compile("^gw_(claim|escalate|resolve|transfer_service|transfer_support)$"))
    async def on_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        if await refused(body):
            return
        verb, argument = BUTTON_ACTIONS[payloads.text(action.get("action_id"))]
        conversation_id = payloads.text(action.get("value"))
        user = payloads.field(body, "user", "id")
        channel = payloads.field(body, "channel", "id")
        once = f"action:{payloads.text(action.get('action_ts')) or payloads.text(body.get('trigger_id'))}"
        try:
            await enqueue(conversation_id, jobnames.AGENT_ACTION, verb, user, argument, channel, once)
        except NotFound:
            await tell(channel, user, f"No conversation {conversation_id}; it may have been merged.")

    @bolt.action(blocks.FULL_MESSAGE_ACTION)
    async def on_full_message(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """The whole mail (quoted history, signature) to the agent who pressed, and only to them."""
        await ack()
        if await refused(body):
            return  # the customer's words are for agents only
        user = payloads.field(body, "user", "id")
        channel = payloads.field(body, "channel", "id")
        thread_ts = payloads.field(body, "container", "thread_ts") or payloads.field(body, "message", "thread_ts")
        conversation_id, _, message_id = payloads.text(action.get("value")).partition(" ")
        try:
            message = await deps.store.message(conversation_id, message_id)
        except NotFound:
            texts = ["That message is no longer stored (its conversation may have been merged)."]
        else:
            texts = blocks.original_text(message)
        for text in texts:  # in order: a long mail comes in parts
            await tell(channel, user, text, thread_ts or None)

    @bolt.action("gw_note")
    async def on_note_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        if await refused(body):
            return
        await _open_note_modal(payloads.text(body.get("trigger_id")), payloads.text(action.get("value")))

    @bolt.shortcut("gw_note")
    async def on_note_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        if await refused(body):
            return
        message = body.get("message") or {}
        channel = payloads.field(body, "channel", "id")
        root = payloads.text(message.get("thread_ts")) or payloads.text(message.get("ts"))
        conversation_id = await slack.conversation_for_thread(channel, root)
        if conversation_id is None:
            await tell(channel, payloads.field(body, "user", "id"), "That message is not in a conversation's thread.")
            return
        await _open_note_modal(payloads.text(body.get("trigger_id")), conversation_id)

    async def _open_note_modal(trigger_id: str, conversation_id: str) -> None:
        if not (trigger_id and conversation_id):
            return
        try:
            await api.open_view(trigger_id, note_modal(conversation_id))
        except SlackError as error:
            log.warning("could not open the note modal: %s", error)

    @bolt.view(NOTE_MODAL)
    async def on_note_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = payloads.field(view, "state", "values", "note", "text", "value")
        if not text.strip():
            await ack(response_action="errors", errors={"note": "Write the note first."})
            return
        user = payloads.field(body, "user", "id")
        refusal = await agents.refusal(user, payloads.field(body, "user", "team_id"))
        if refusal:
            await ack(response_action="errors", errors={"note": refusal})
            return
        await ack()
        conversation_id = payloads.text(view.get("private_metadata"))
        try:
            await enqueue(conversation_id, jobnames.AGENT_ACTION, "note", user, text, "",
                          f"view:{payloads.text(view.get('id'))}")
        except NotFound:
            log.info("a note for %r was dropped: no such conversation", conversation_id[:60])

    @bolt.command("/gateway")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        try:
            parsed = commands.parse(payloads.text(command.get("text")))
        except commands.CommandError as error:
            await ack(response_type="ephemeral", text=str(error))
            return
        if parsed.verb == "help":
            await ack(response_type="ephemeral", text=commands.help_text(settings.thread_replies))
            return
        user = payloads.text(command.get("user_id"))
        refusal = await agents.refusal(user, payloads.text(command.get("team_id")))
        if refusal:
            await ack(response_type="ephemeral", text=refusal)
            return
        if parsed.verb == "queue":
            await ack(response_type="ephemeral", text=await _queue_listing(parsed.argument))
            return
        assert parsed.conversation is not None  # parse() requires it for every action
        try:
            await enqueue(parsed.conversation, jobnames.AGENT_ACTION, parsed.verb, user, parsed.argument,
                          payloads.text(command.get("channel_id")),
                          f"command:{payloads.text(command.get('trigger_id'))}")
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
