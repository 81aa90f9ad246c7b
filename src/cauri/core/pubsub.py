"""Publish/subscribe: in this process by default, across every process through Redis when one is configured.

Messages are short strings on named channels, delivered to every subscriber that is listening when they are
published (no history, no acknowledgement): use it for *signals* whose loss is tolerable or repaired by other
means (cache invalidation with a TTL, live progress that the database also holds). Two ways to listen:

* :meth:`PubSub.add_listener` — a callback for every message of a channel, for the process's lifetime (cache
  invalidation). ``on_gap`` runs when messages may have been missed (Redis connection lost), so a listener can
  drop what it can no longer trust.
* :meth:`PubSub.subscribe` — an async iterator of one channel's messages, for a stream (SSE, WebSockets).

With Redis, one connection per process reads every subscribed channel and fans messages out locally; a
publisher receives its own messages too, like everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog

from cauri.core.config import Settings

log = structlog.get_logger(__name__)

Listener = Callable[[str], Awaitable[None]]
GapHandler = Callable[[], Awaitable[None]]
# A slow stream subscriber drops its oldest messages rather than growing without bound.
SUBSCRIBER_BUFFER = 1000
RECONNECT_DELAY_SECONDS = 1.0


class PubSub:
    """In-process pub/sub (the default); :class:`RedisPubSub` carries the same API across processes."""

    crosses_processes = False

    def __init__(self, namespace: str = "cauri") -> None:
        self.namespace = namespace
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._gap_handlers: list[GapHandler] = []
        self._queues: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    def channel_name(self, channel: str) -> str:
        return f"{self.namespace}:{channel}"

    @property
    def connected(self) -> bool:
        """Whether messages published now reach this process (always, in process)."""
        return True

    async def start(self) -> None:
        """Begin receiving (a no-op in process)."""

    async def close(self) -> None:
        """Stop receiving and release connections (a no-op in process)."""

    async def ping(self) -> None:
        """Raise when the transport is unreachable (the readiness probe; nothing to reach in process)."""

    async def publish(self, channel: str, message: str) -> None:
        await self._deliver(self.channel_name(channel), message)

    async def add_listener(self, channel: str, listener: Listener, *, on_gap: GapHandler | None = None) -> None:
        name = self.channel_name(channel)
        self._listeners[name].append(listener)
        if on_gap is not None:
            self._gap_handlers.append(on_gap)
        await self._watch(name)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        """``async with pubsub.subscribe("batch:…") as messages: async for message in messages: …``"""
        name = self.channel_name(channel)
        queue: asyncio.Queue[str] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self._queues[name].add(queue)
        await self._watch(name)

        async def messages() -> AsyncIterator[str]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            self._queues[name].discard(queue)

    async def _watch(self, name: str) -> None:
        """Make sure messages of channel ``name`` reach this process (nothing to do in process)."""

    async def _deliver(self, name: str, message: str) -> None:
        for queue in list(self._queues.get(name, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
        for listener in list(self._listeners.get(name, ())):
            try:
                await listener(message)
            except Exception:  # one faulty listener must not starve the others
                log.exception("pubsub.listener_failed", channel=name)

    async def _report_gap(self) -> None:
        for handler in list(self._gap_handlers):
            try:
                await handler()
            except Exception:
                log.exception("pubsub.gap_handler_failed")


class RedisPubSub(PubSub):
    """Redis PUBLISH/SUBSCRIBE; one reader task per process, which (re)subscribes and reconnects."""

    crosses_processes = True

    def __init__(self, url: str, namespace: str = "cauri") -> None:
        super().__init__(namespace)
        import redis.asyncio as redis

        self._client: Any = redis.from_url(url)
        self._subscription: Any = None
        self._channels: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._subscription is not None

    async def start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="cauri-pubsub-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._disconnect()
        await self._client.aclose()

    async def publish(self, channel: str, message: str) -> None:
        await self._client.publish(self.channel_name(channel), message)

    async def ping(self) -> None:
        await self._client.ping()

    async def _watch(self, name: str) -> None:
        if name in self._channels:
            return
        self._channels.add(name)
        await self.start()
        if self._subscription is not None:
            # PubSub only sends the command; the reader reads Redis's confirmation with the messages.
            try:
                await self._subscription.subscribe(name)
            except Exception:
                log.warning("pubsub.subscribe_failed", channel=name, exc_info=True)
                await self._disconnect()
        self._wake.set()

    async def _connect(self) -> None:
        subscription = self._client.pubsub(ignore_subscribe_messages=True)
        await subscription.subscribe(*self._channels)
        self._subscription = subscription

    async def _disconnect(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.aclose()

    async def _read(self) -> None:
        while True:
            if not self._channels:
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                if self._subscription is None:
                    await self._connect()
                message = await self._subscription.get_message(ignore_subscribe_messages=True, timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Messages published while we were cut off are lost: tell the listeners, then reconnect.
                log.warning("pubsub.connection_lost", exc_info=True)
                await self._disconnect()
                await self._report_gap()
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            data = message["data"]
            await self._deliver(
                channel.decode() if isinstance(channel, bytes) else str(channel),
                data.decode() if isinstance(data, bytes) else str(data),
            )


def make_pubsub(settings: Settings) -> PubSub:
    url = settings.shared_redis_url
    if url:
        return RedisPubSub(url, settings.redis_namespace)
    return PubSub(settings.redis_namespace)
