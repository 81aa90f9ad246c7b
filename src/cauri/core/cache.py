"""A cache of bytes with time-to-live and tags: in memory by default, in Redis when one is configured.

* :class:`MemoryCache` — this process only, bounded (the oldest entries go first).
* :class:`RedisCache` — shared by every process (``CAURI_REDIS_URL``, or the rate-limit storage's Redis).
* :class:`NearCache` — a memory cache in *each* process, kept coherent by invalidations broadcast over
  :mod:`cauri.core.pubsub`: no network round trip on a hit, and an invalidation reaches every process as fast
  as pub/sub carries it. Use it for small, hot values read on every request (the resolved caller).

Tags name what an entry was computed from (``user:<id>``); ``invalidate(tag)`` drops every entry carrying it.
A cache is never the source of truth: a miss recomputes from the database.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from cauri.core.config import Settings
from cauri.core.pubsub import PubSub

log = structlog.get_logger(__name__)

DEFAULT_MAX_ENTRIES = 100_000


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl: float, tags: Iterable[str] = ()) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def invalidate(self, *tags: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCache:
    """This process's cache. Expired entries are dropped when read and when the cache is full."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes, tuple[str, ...]]] = OrderedDict()
        self._keys_by_tag: dict[str, set[str]] = defaultdict(set)

    def get_now(self, key: str) -> bytes | None:
        """The synchronous read, for callers on a hot path."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop(key)
            return None
        return entry[1]

    def set_now(self, key: str, value: bytes, *, ttl: float, tags: Iterable[str] = ()) -> None:
        self._drop(key)
        tag_tuple = tuple(tags)
        self._entries[key] = (time.monotonic() + ttl, value, tag_tuple)
        for tag in tag_tuple:
            self._keys_by_tag[tag].add(key)
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

    def invalidate_now(self, *tags: str) -> None:
        for tag in tags:
            for key in list(self._keys_by_tag.pop(tag, ())):
                self._drop(key)

    def clear(self) -> None:
        self._entries.clear()
        self._keys_by_tag.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for tag in entry[2]:
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]

    async def get(self, key: str) -> bytes | None:
        return self.get_now(key)

    async def set(self, key: str, value: bytes, *, ttl: float, tags: Iterable[str] = ()) -> None:
        self.set_now(key, value, ttl=ttl, tags=tags)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._drop(key)

    async def invalidate(self, *tags: str) -> None:
        self.invalidate_now(*tags)

    async def close(self) -> None:
        self.clear()


class RedisCache:
    """Entries under ``<namespace>:cache:<key>``; a tag is a Redis set of the keys carrying it."""

    def __init__(self, url: str, namespace: str = "cauri") -> None:
        import redis.asyncio as redis

        self._client: Any = redis.from_url(url)
        self._prefix = f"{namespace}:cache:"
        self._tag_prefix = f"{namespace}:cache-tag:"

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._prefix + key)
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, *, ttl: float, tags: Iterable[str] = ()) -> None:
        milliseconds = max(1, int(ttl * 1000))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._prefix + key, value, px=milliseconds)
            for tag in tags:
                # The tag set lives at least as long as its newest entry; stale members only cost a DEL.
                pipe.sadd(self._tag_prefix + tag, key)
                pipe.pexpire(self._tag_prefix + tag, milliseconds, gt=True)
                pipe.pexpire(self._tag_prefix + tag, milliseconds, nx=True)
            await pipe.execute()

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._client.delete(*(self._prefix + key for key in keys))

    async def invalidate(self, *tags: str) -> None:
        for tag in tags:
            tag_key = self._tag_prefix + tag
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.smembers(tag_key)
                pipe.delete(tag_key)
                members, _ = await pipe.execute()
            await self.delete(*(m.decode() if isinstance(m, bytes) else str(m) for m in members))

    async def close(self) -> None:
        await self._client.aclose()


class NearCache:
    """A :class:`MemoryCache` per process whose invalidations every process hears (through ``pubsub``).

    ``epoch()`` before computing a value and ``set(..., epoch=…)`` after: a value computed while an
    invalidation arrived is not stored, so a read that raced a change cannot be cached past it.
    """

    def __init__(self, pubsub: PubSub, channel: str, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.pubsub = pubsub
        self.channel = channel
        self.memory = MemoryCache(max_entries)
        self._epoch = 0

    async def start(self) -> None:
        await self.pubsub.add_listener(self.channel, self._on_message, on_gap=self._on_gap)

    def epoch(self) -> int:
        return self._epoch

    def get(self, key: str) -> bytes | None:
        # Cut off from pub/sub, we would not hear invalidations: answer nothing rather than something stale.
        return self.memory.get_now(key) if self.pubsub.connected else None

    def set(self, key: str, value: bytes, *, ttl: float, tags: Iterable[str], epoch: int) -> None:
        if epoch == self._epoch and self.pubsub.connected:
            self.memory.set_now(key, value, ttl=ttl, tags=tags)

    async def invalidate(self, *tags: str) -> None:
        """Drop the tagged entries here at once, then in every other process."""
        self._forget(tags)
        if tags:
            await self.pubsub.publish(self.channel, json.dumps(sorted(tags)))

    def _forget(self, tags: Iterable[str]) -> None:
        self._epoch += 1
        self.memory.invalidate_now(*tags)

    async def _on_message(self, message: str) -> None:
        try:
            tags = json.loads(message)
        except json.JSONDecodeError:
            log.warning("cache.bad_invalidation", channel=self.channel)
            return
        if isinstance(tags, list):
            self._forget(str(tag) for tag in tags)

    async def _on_gap(self) -> None:
        # Invalidations may have been lost while pub/sub was cut off: trust nothing cached before.
        self._epoch += 1
        self.memory.clear()


def make_cache(settings: Settings) -> Cache:
    url = settings.shared_redis_url
    if url:
        return RedisCache(url, settings.redis_namespace)
    return MemoryCache()
