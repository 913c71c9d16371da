"""Push notifications: the subscriptions and settings (Push), and the dispatcher that
drains the durable outbox (PushDispatcher).

The outbox is written by the Store in the message's commit. The dispatcher claims due
rows (leased, so each goes to one node), decides with core.push.verdict from what the
claim read (the device's ack watermark, the user's read watermark, the mute) and from
whether the device has a live socket now, and sends through the provider of the
subscription's kind. Nothing here runs on the message path: Messaging only calls
`wake()` (sets an event) after a commit that wrote outbox rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hubbub.core.clock import now_ms
from hubbub.core.errors import bad_request, not_found
from hubbub.core.push import (
    MAX_ATTEMPTS,
    Notification,
    PreviewLevel,
    PushJob,
    PushKind,
    Subscription,
    backoff_s,
    check_apns,
    check_endpoint,
    check_fcm,
    check_muted_until,
    check_webpush_keys,
    is_muted,
    is_public_address,
    literal_address,
    message_notification,
    origin,
    read_notification,
    smaller,
    verdict,
)
from hubbub.ports import HostResolver, PushProvider, PushStore

log = logging.getLogger("hubbub.push")
DEPTH_EVERY_S = 5.0
Liveness = Callable[[int, int], Awaitable[bool]]  # (user_id, device_id) -> has a live socket


@dataclass(slots=True)
class PushCounters:
    """Read by /metrics."""

    sent: int = 0
    failed: int = 0  # attempts that will be retried (5xx, network)
    dropped: int = 0  # given up (attempts exhausted, refused, no provider)
    removed: int = 0  # subscriptions deleted (404/410/401/403, private address)
    skipped: int = 0  # not needed: acked, read, or muted before it went out
    throttled: int = 0  # 429s
    depth: int = 0  # outbox rows, as last counted (every DEPTH_EVERY_S at most)
    unconfigured: int = 0  # of `dropped`: no provider for the kind (apns/fcm not set up)


class Push:
    """Subscriptions, the preview setting and mutes (the REST edge calls these)."""

    def __init__(
        self, store: PushStore, resolver: HostResolver, *, allow_private: bool = False
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.allow_private = allow_private
        self.public_key = ""  # set by PushDispatcher.start (kept in the store)

    async def subscribe(
        self,
        user_id: int,
        device_id: int,
        kind: PushKind,
        *,
        endpoint: str | None = None,
        p256dh: str | None = None,
        auth: str | None = None,
        token: str | None = None,
        topic: str | None = None,
    ) -> Subscription:
        """Validate everything first (nothing is stored for a refusal), then replace the
        device's subscription of that kind."""
        if kind == "webpush":
            if endpoint is None or p256dh is None or auth is None:
                raise bad_request("webpush needs endpoint and keys.p256dh, keys.auth")
            await self.check_host(check_endpoint(endpoint))
            check_webpush_keys(p256dh, auth)
            token = topic = None
        elif kind == "apns":
            if token is None or topic is None:
                raise bad_request("apns needs token and topic")
            check_apns(token, topic)
            endpoint = p256dh = auth = None
        else:
            if token is None:
                raise bad_request("fcm needs token")
            check_fcm(token)
            endpoint = p256dh = auth = topic = None
        sub = Subscription(
            secrets.randbits(62) + 1, user_id, device_id, kind, endpoint, p256dh, auth, token,
            topic, now_ms(),
        )  # fmt: skip
        return await self.store.subscribe(sub)

    async def check_host(self, host: str) -> None:
        """bad_request for a host that is, or resolves to, a non-public address."""
        if self.allow_private:
            return
        literal = literal_address(host)
        addresses = [literal] if literal else await self.resolver.addresses(host)
        if not addresses:
            raise bad_request("the endpoint's host does not resolve")
        if not all(is_public_address(a) for a in addresses):
            raise bad_request("the endpoint's host is a private address")

    async def subscriptions(self, user_id: int) -> list[Subscription]:
        return await self.store.subscriptions(user_id)

    async def unsubscribe(self, user_id: int, subscription_id: int) -> None:
        """Only the user's own: anyone else's id is not_found, like an unknown one."""
        if not await self.store.unsubscribe(user_id, subscription_id):
            raise not_found("no such subscription")

    async def preview(self, user_id: int) -> PreviewLevel:
        return await self.store.preview(user_id)

    async def set_preview(self, user_id: int, level: PreviewLevel) -> None:
        await self.store.set_preview(user_id, level)

    async def mute(
        self, user_id: int, conversation_id: int, muted_until: float | None
    ) -> int:
        """The stored muted_until (-1 for ever, ms, 0 unmuted); not_found for a
        conversation the user is not in."""
        value = check_muted_until(muted_until)
        if not await self.store.set_muted(user_id, conversation_id, value):
            raise not_found("no such conversation")
        return value


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    delay_s: float = 10.0  # a live socket's time to ack before the device is pushed
    lease_s: float = 60.0  # a claim's lease (a dead node's jobs are retaken after it)
    batch: int = 100
    poll_s: float = 0.5  # also look for due rows this often (other nodes' commits, waits)
    concurrency: int = 64


class PushDispatcher:
    def __init__(
        self,
        store: PushStore,
        providers: dict[PushKind, PushProvider],
        live: Liveness,
        policy: DispatchPolicy,
        counters: PushCounters,
        observe_latency: Callable[[float], None] = lambda s: None,
    ) -> None:
        self.store = store
        self.providers = providers
        self.live = live
        self.policy = policy
        self.counters = counters
        self.observe_latency = observe_latency
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._blocked: dict[str, int] = {}  # push service origin -> ms its 429 lifts
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._unconfigured: set[str] = set()  # kinds warned about (no provider)

    def wake(self) -> None:
        """Rows were committed: look now (cheap; called after commits that wrote some)."""
        self._wake.set()

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()
        self._task = asyncio.create_task(self._run(), name="push-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        for provider in self.providers.values():
            await provider.stop()

    async def _run(self) -> None:
        counted = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - counted > DEPTH_EVERY_S:
                    counted = loop.time()
                    self.counters.depth = await self.store.depth()
                claimed = await self.drain_once()
            except Exception:
                log.exception("claiming push jobs failed; will retry")
                claimed = 0
            if claimed >= self.policy.batch:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_s)
            self._wake.clear()

    async def drain_once(self) -> int:
        """Claim what is due and start sending it; the number claimed."""
        await self._slots.acquire()  # leave room: claim only when a send may start
        self._slots.release()
        jobs = await self.store.claim(now_ms(), int(self.policy.lease_s * 1000), self.policy.batch)
        for job in jobs:
            await self._slots.acquire()
            task = asyncio.create_task(self._guarded(job))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(jobs)

    async def _guarded(self, job: PushJob) -> None:
        try:
            await self.handle(job)
        except Exception:
            log.exception("push job failed; its lease will run out and it is retried")
        finally:
            self._slots.release()

    async def handle(self, job: PushJob) -> None:
        now = now_ms()
        sub = job.subscription
        if job.kind == "message":
            decision = verdict(
                acked_seq=job.acked_seq,
                seq=job.seq,
                read_upto=job.read_upto,
                message_id=job.message_id,
                muted=is_muted(job.muted_until, now),
                live=await self.live(sub.user_id, sub.device_id),
                created_ms=job.created_at,
                now_ms=now,
                delay_ms=int(self.policy.delay_s * 1000),
            )
            if decision == "skip":
                self.counters.skipped += 1
                await self.store.done(job, shown=False)
                return
            if decision == "wait":
                await self.store.postpone(job, job.created_at + int(self.policy.delay_s * 1000))
                return
            note = message_notification(
                job.preview,
                conversation_id=job.conversation_id,
                kind=job.conversation_kind,
                message_id=job.message_id,
                seq=job.seq,
                sender_id=job.sender_id,
                unread=job.unread,
                sender_name=job.sender_name,
                body=job.body,
                group_name=job.conversation_name,
            )
        else:
            note = read_notification(job.conversation_id, job.unread)
        await self._send(job, note, now)

    async def _send(self, job: PushJob, note: Notification, now: int) -> None:
        sub = job.subscription
        provider = self.providers.get(sub.kind)
        if provider is None:  # apns / fcm without credentials: kept, not sent
            if sub.kind not in self._unconfigured:
                self._unconfigured.add(sub.kind)
                log.warning("%s subscriptions exist but %s is not configured: not pushed",
                            sub.kind, sub.kind)  # fmt: skip
            self.counters.unconfigured += 1
            self.counters.dropped += 1
            await self.store.done(job, shown=False)
            return
        service = origin(sub.endpoint) if sub.endpoint else sub.kind
        blocked = self._blocked.get(service, 0)
        if blocked > now:
            await self.store.postpone(job, blocked)
            return
        result = await provider.send(sub, note)
        if result.outcome == "too_large" and (small := smaller(note)) is not None:
            result = await provider.send(sub, small)
        outcome = result.outcome
        if outcome == "sent":
            self.counters.sent += 1
            self.observe_latency(max(0, now_ms() - job.created_at) / 1000)
            await self.store.done(job, shown=job.kind == "message")
        elif outcome in ("gone", "refused"):
            self.counters.removed += 1
            log.info("push subscription %d removed (%s)", sub.subscription_id, outcome)
            await self.store.drop_subscription(sub.subscription_id)
        elif outcome == "throttled":
            self.counters.throttled += 1
            until = now_ms() + int(result.retry_after_s * 1000)
            self._blocked[service] = max(until, self._blocked.get(service, 0))
            await self.store.postpone(job, until)
        elif outcome == "retry" and job.attempts + 1 < MAX_ATTEMPTS:
            self.counters.failed += 1
            wait = max(backoff_s(job.attempts), result.retry_after_s)
            await self.store.retry(job, now_ms() + int(wait * 1000))
        else:  # retries exhausted, or refused for good (413 without a preview to drop)
            self.counters.dropped += 1
            log.warning("push to %d dropped: %s %s", sub.subscription_id, outcome, result.detail)
            await self.store.done(job, shown=False)
