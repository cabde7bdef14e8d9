"""What agents do from Slack, run inside jobs: thread messages (replies, templates, notes), claim, escalate,
transfer, resolve.

Each action is keyed (Slack message ts, action ts, trigger id) and runs at
most once: sending a customer the same reply twice is worse than asking an
agent to press a button again. Refusals (already resolved, last tier, ...)
are told to the agent who acted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from channels.slack import blocks, commands
from channels.slack.api import RateLimited, SlackApi, SlackError, make_client
from channels.slack.deps import ConsoleDeps
from channels.slack.files import store_files
from channels.slack.state import SlackState
from channels.slack.threadreplies import Route
from conversations.errors import DomainError
from conversations.models import Attachment

log = logging.getLogger("gateway.slack")

REFUSED = "refused"  # the once key's value for a thread message the service refused (nothing stored)


def slack_api(deps: ConsoleDeps) -> SlackApi:
    return SlackApi(make_client(deps.slack), deps.redis)


async def author_name(api: SlackApi, user: str, names: Mapping[str, str]) -> str:
    """The agent's name for a Slack user: GATEWAY_SLACK__AGENT_NAMES by user id, then by the profile's
    e-mail, else the Slack display name. The mapping is read each time (only the profile is cached), so a
    changed mapping counts at the next restart, not a day later."""
    if user in names:
        return names[user]
    profile = await api.user_profile(user)
    if profile.email and profile.email in names:
        return names[profile.email]
    return profile.name


async def agent_reply(deps: ConsoleDeps, conversation_id: str, channel: str, thread_ts: str, ts: str, user: str,
                      text: str, files: str = "") -> str:
    """A thread message for the customer: they get it on their channel, files included.

    ``files``: the reply's Slack files (JSON of ``Attachment`` fields); fetched with the bot token and
    stored first. A file that cannot be fetched or that the agent limits refuse stops the whole reply:
    the agent is told why, and nothing reaches the customer.
    """
    return await agent_message(deps, Route.CUSTOMER, conversation_id, channel, thread_ts, ts, user, text, files)


async def agent_note(deps: ConsoleDeps, conversation_id: str, channel: str, thread_ts: str, ts: str, user: str,
                     text: str) -> str:
    """A thread message kept internal: a note in the conversation's timeline, never sent."""
    return await agent_message(deps, Route.INTERNAL, conversation_id, channel, thread_ts, ts, user, text)


async def agent_message(deps: ConsoleDeps, route: Route, conversation_id: str, channel: str, thread_ts: str,
                        ts: str, user: str, text: str, files: str = "") -> str:
    """Store an agent's thread message as a reply or a note, once, then mark it in the thread.

    The mark (a reaction: ``blocks.REACTIONS``) says where the message went. It is
    put after the message is stored and again by a retry (the once key records the
    route), so a failed reaction is retried without storing the message twice.
    """
    slack = SlackState(deps.redis)
    key = f"reply:{channel}:{ts}"
    api = slack_api(deps)
    outcome = "already handled"
    if await slack.once(key, route.value):
        meta = {blocks.AGENT_CHANNEL: channel, blocks.AGENT_THREAD: thread_ts, "agent_slack_ts": ts,
                "agent_slack_user": user}
        try:
            author = await author_name(api, user, deps.slack.agent_names)
            if route == Route.CUSTOMER:
                stored = await _agent_files(deps, channel, ts, files)
                template = commands.thread_template(text)
                if template is not None:
                    text = await render_template(deps, conversation_id, *template, author)
                await deps.service.reply(conversation_id, text, author, attachments=stored, meta=meta)
                outcome = "replied"
            else:
                await deps.service.note(conversation_id, text, author, meta=meta)
                outcome = "noted"
        except (DomainError, commands.CommandError, FileRefused) as error:
            await slack.handled(key, REFUSED)
            what = "Not sent to the customer" if route == Route.CUSTOMER else "Not kept as a note"
            await api.post(channel, f":x: {what}: {error}", thread_ts=thread_ts)
            outcome = f"refused: {error}"
        except Exception:
            await slack.forget_once(key)  # nothing was stored: let the job's retry try again
            raise
    reaction = blocks.REACTIONS.get(await slack.handled_as(key) or "")
    if reaction:
        try:
            await api.react(channel, ts, reaction)
        except SlackError as error:
            if not error.permanent:
                raise  # RQ retries the job: the message is stored, only the mark is missing
            log.warning("could not mark %s in %s with :%s: %s", ts, channel, reaction, error)
    return outcome


async def render_template(deps: ConsoleDeps, conversation_id: str, name: str, variables: dict[str, str],
                          agent: str) -> str:
    """Template ``name`` for the conversation's customer, in the text for the channel a reply goes out on."""
    conversation = await deps.store.conversation(conversation_id)
    customer = await deps.store.current_customer(conversation.customer_id)
    return deps.templates.render(name, conversation.last_inbound_channel, customer=customer,
                                 conversation_id=conversation.id, agent=agent, variables=variables).text


class FileRefused(Exception):
    """A file of an agent's reply that cannot go to the customer (not fetched, too large, a refused type)."""


async def _agent_files(deps: ConsoleDeps, channel: str, ts: str, files: str) -> tuple[Attachment, ...]:
    if not files:
        return ()
    if deps.attachments is None:
        raise FileRefused("this worker has no attachment store")
    wanted = tuple(Attachment(**item) for item in json.loads(files))
    stored = await store_files(deps.attachments, deps.slack, "agent", deps.attachments.secret_key,
                               f"slack-agent:{channel}:{ts}", wanted)
    refused = [f"{a.name}: {a.refused}" for a in stored if a.refused or not a.id]
    if refused:
        for attachment in stored:  # the reply is not sent: keep none of its files
            if attachment.id:
                await deps.attachments.store.delete(attachment.id)
        raise FileRefused("; ".join(refused))
    return stored


async def agent_edited(deps: ConsoleDeps, conversation_id: str, channel: str, thread_ts: str, ts: str, kind: str) -> str:
    """Tell the agent that an edit or delete of a sent reply does not reach the customer."""
    slack = SlackState(deps.redis)
    route = await slack.handled_as(f"reply:{channel}:{ts}")
    if route is None:
        return "not a reply of ours"
    if route == REFUSED:
        return "nothing was stored"
    if not await slack.once(f"{kind}:{channel}:{ts}"):
        return "already told"
    await slack_api(deps).post(channel, blocks.edit_notice(kind, route), thread_ts=thread_ts)
    return "told"


async def agent_action(deps: ConsoleDeps, conversation_id: str, action: str, user: str, argument: str, reply_channel: str,
                       once: str) -> str:
    """A button or command: claim, escalate, transfer, resolve, note, template."""
    slack = SlackState(deps.redis)
    if once and not await slack.once(once):
        return "already handled"
    api = slack_api(deps)
    service = deps.service
    try:
        name = await author_name(api, user, deps.slack.agent_names)
        if action == "claim":
            await service.assign(conversation_id, name, author=name)
        elif action == "escalate":
            # The service reads the rule file's agent step inside the atomic change, as for the admin API.
            await service.escalate(conversation_id, name, argument or None)
        elif action == "transfer":
            queue, _, reason = argument.partition(" ")
            await service.transfer(conversation_id, queue, name, reason or None)
        elif action == "resolve":
            await service.resolve(conversation_id, name)
        elif action == "note":
            await service.note(conversation_id, argument, name)
        elif action == "template":
            text = await render_template(deps, conversation_id, *commands.template_arguments(argument), name)
            await service.reply(conversation_id, text, name)
        else:
            return f"unknown action {action}"
    except (DomainError, commands.CommandError) as error:
        if reply_channel:
            await _tell(api, reply_channel, user, f":x: {action} refused: {error}")
        return f"refused: {error}"
    except (RateLimited, SlackError):
        if once:
            await slack.forget_once(once)  # users.info failed before anything changed
        raise
    return action


async def _tell(api: SlackApi, channel: str, user: str, text: str) -> None:
    try:
        await api.ephemeral(channel, user, text)
    except SlackError as error:
        log.warning("could not tell %s in %s: %s", user, channel, error)
