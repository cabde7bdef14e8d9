"""The composition root's wiring: settings, Redis clients, rules and channels into the process's services.

The web app, the worker processes and the sweeper all build their object
graph here; the lower layers only receive what they need (``Services`` for
jobs and the sweeper, ``ChannelDeps`` for the channels' handlers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import get_current_job

from channels.deps import ChannelDeps
from channels.slack.api import configured as slack_configured
from channels.webchat.hub import Hub
from conversations import audit
from conversations.attachment_s3 import S3AttachmentStore
from conversations.attachments import Attachments, AttachmentStore, LocalAttachmentStore
from conversations.events import EventBus
from conversations.service import ConversationService
from conversations.clock import now_ms
from conversations.identity_cache import IdentityCache
from conversations.store import ConversationStore, IngestResult, ReplicaAck
from gateway import inbox_live
from gateway.channels import build_senders
from gateway.redis_clients import RedisClients, close_data, prepare
from gateway.settings import Settings
from router import LiveRules
from templates import LiveTemplates
from workers.context import Services
from workers import keys as worker_keys, report_store, trends
from workers.dispatch import listeners
from workers.queues import JobQueues


def secret_key_bytes(settings: Settings) -> bytes:
    """The key that signs visitor tokens and reply addresses.

    Never a built-in default: a key anyone can read in the source would let
    anyone forge a visitor token. `gateway serve` and `gateway worker` refuse
    to start without GATEWAY_SECRET_KEY; the demo generates one.
    """
    if settings.secret_key is None:
        raise RuntimeError("GATEWAY_SECRET_KEY is not set")
    return settings.secret_key.get_secret_value().encode()


def load_live_rules(settings: Settings) -> LiveRules:
    """The configured rule file; the built-in rules when none was named and none exists.

    Raises:
        router.RulesError: the file is broken, or was named and is missing.
    """
    return LiveRules.open(settings.rules_path, explicit="rules_path" in settings.model_fields_set)


def build_attachments(settings: Settings) -> Attachments:
    """The attachment store: S3-compatible object storage when a bucket is named, else the local directory."""
    group = settings.attachments
    store: AttachmentStore
    if group.s3_bucket:
        secret = group.s3_secret_access_key
        store = S3AttachmentStore(group.s3_bucket, prefix=group.s3_prefix, endpoint_url=group.s3_endpoint_url,
                                  region=group.s3_region, access_key_id=group.s3_access_key_id,
                                  secret_access_key=secret.get_secret_value() if secret else None)
    else:
        store = LocalAttachmentStore(group.dir)
    return Attachments(store, secret_key_bytes(settings), settings.base_url, group.all_limits(), group.url_seconds,
                       group.posted_url_seconds)


def load_live_templates(settings: Settings) -> LiveTemplates:
    """The configured template file; none (when none was named) is an empty set, watched for the file.

    Raises:
        templates.TemplatesError: the file is broken, or was named and is missing.
    """
    return LiveTemplates(settings.templates_file, required=settings.templates_path is not None)


def build_services(settings: Settings, redis: Redis, sync_redis: SyncRedis, rules: LiveRules,
                   templates: LiveTemplates | None = None) -> Services:
    """The process's services on its data client ``redis`` and RQ's connection ``sync_redis``."""
    replica_ack = ReplicaAck(settings.redis_min_replicas_ack, settings.redis_replica_ack_timeout_ms)
    store = ConversationStore(redis, reopen_window=settings.reopen_window, replica_ack=replica_ack,
                              extra_writes=[sla_dirty_mark, report_dirty_mark], group_commit=settings.ingest.group_commit,
                              identity_cache=IdentityCache(settings.ingest.identity_cache_entries))
    events = EventBus()
    jobs = JobQueues(sync_redis)
    service = ConversationService(store, lambda: rules.current, events)
    # The store sends both dirty marks with each stored message: the listeners skip that event's.
    for listener in listeners(jobs, redis, slack_configured=slack_configured(settings.slack), ingest_marked=True):
        events.subscribe(listener)
    events.subscribe(audit.listener(audit_log(settings, redis)))
    events.subscribe(report_store.listener(store, ingest_marked=True))
    events.subscribe(trends.listener(store, lambda: rules.current, jobs, settings.base_url))
    events.subscribe(inbox_live.publisher(redis))  # every process's events reach the inbox pages
    senders = build_senders(settings, redis, secret_key_bytes(settings))
    return Services(settings=settings.worker, slack=settings.slack, public_url=settings.base_url, redis=redis,
                    sync_redis=sync_redis, store=store, service=service, rules=rules, jobs=jobs, senders=senders,
                    events=events, webchat=settings.webchat,
                    templates=templates if templates is not None else load_live_templates(settings),
                    proactive=settings.proactive, attachments=build_attachments(settings),
                    retention=settings.retention)


def sla_dirty_mark(result: IngestResult) -> list[tuple[str | int, ...]]:
    """The SLA sweeper's dirty mark of a stored message's conversation, sent in the message's own round trip.

    The same write as ``workers.timers.mark_dirty`` (idempotent: a later mark only moves the score).
    """
    return [("ZADD", worker_keys.TIMERS_DIRTY, now_ms(), result.conversation_id)]


def report_dirty_mark(result: IngestResult) -> list[tuple[str | int, ...]]:
    """The reports' mark of a stored message's conversation (``report_store.record_marked`` records its row)."""
    return [report_store.dirty_mark(result.conversation_id)]


def audit_log(settings: Settings, redis: Redis) -> audit.AuditLog:
    return audit.AuditLog(redis, settings.audit.max_entries)


def channel_deps(settings: Settings, services: Services, hub: Hub) -> ChannelDeps:
    return ChannelDeps(store=services.store, service=services.service, redis=services.redis,
                       secret_key=secret_key_bytes(settings), jobs=services.jobs, public_url=settings.base_url,
                       hub=hub, attachments=_attachments(services))


def _attachments(services: Services) -> Attachments:
    if services.attachments is None:
        raise RuntimeError("services built without an attachment store")
    return services.attachments


def services_factory(
    settings: Settings,
    rules: LiveRules,
    make_redis: Callable[[], Redis] | None = None,
    make_sync_redis: Callable[[], SyncRedis] | None = None,
    templates: LiveTemplates | None = None,
) -> Callable[[], AbstractAsyncContextManager[Services]]:
    """How each job (and the sweeper) gets its services: fresh async clients for its event loop.

    ``rules`` is loaded once per worker process (a forking worker loads it before
    forking) and checked for an edited file before each job (a stat call).
    Clients come from ``gateway.redis_clients`` (one Redis, Sentinel or Cluster);
    the embedded demo and the tests pass their own client factories. The template file is
    treated like the rule file.
    """
    live_templates = templates if templates is not None else load_live_templates(settings)
    clients = RedisClients(settings) if make_redis is None or make_sync_redis is None else None

    def async_client() -> Redis:
        if make_redis is not None:
            return make_redis()
        assert clients is not None
        return clients.data()

    def sync_client() -> SyncRedis:
        if make_sync_redis is not None:
            return make_sync_redis()
        assert clients is not None
        return clients.queue()

    @asynccontextmanager
    async def session() -> AsyncIterator[Services]:
        rules.reload_if_changed()
        live_templates.reload_if_changed()
        redis = async_client()
        await prepare(redis)
        job_connection = _job_connection()  # inside a job: RQ's own connection, not ours to close
        sync = job_connection or sync_client()
        services = build_services(settings, redis, sync, rules, live_templates)
        try:
            yield services
        finally:
            await services.close()
            await close_data(redis)
            if job_connection is None:
                sync.close()

    return session


def _job_connection() -> SyncRedis | None:
    """The running RQ job's own connection, so the embedded demo's jobs share its in-process server."""
    job = get_current_job()
    return job.connection if job is not None else None
