"""core.cache and core.pubsub, in memory and on a real Redis (``CAURI_TEST_REDIS_URL``).

"Another process" is played by a second client of its own (its own connections, as a second process has) and,
once, by a real subprocess.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cauri.core.cache import Cache, MemoryCache, NearCache, RedisCache
from cauri.core.pubsub import PubSub, RedisPubSub
from tests.conftest import service_url
from tests.support.waiting import until

KINDS = ("memory", "redis")


def _namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=KINDS)
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    instance: Cache = MemoryCache() if request.param == "memory" else RedisCache(service_url("redis"), _namespace())
    yield instance
    await instance.close()


async def test_cache_set_get_delete(cache: Cache) -> None:
    assert await cache.get("absent") is None
    await cache.set("a", b"1", ttl=30)
    assert await cache.get("a") == b"1"
    await cache.set("a", b"2", ttl=30)
    assert await cache.get("a") == b"2"
    await cache.delete("a")
    assert await cache.get("a") is None


async def test_cache_entries_expire(cache: Cache) -> None:
    await cache.set("short", b"x", ttl=0.2)
    await cache.set("long", b"y", ttl=30)

    async def expired() -> bool:
        return await cache.get("short") is None

    await until(expired, "the short entry expires", within=3)
    assert await cache.get("long") == b"y"


async def test_cache_invalidates_by_tag(cache: Cache) -> None:
    await cache.set("u1-a", b"a", ttl=30, tags=["user:1"])
    await cache.set("u1-b", b"b", ttl=30, tags=["user:1", "org:9"])
    await cache.set("u2", b"c", ttl=30, tags=["user:2"])
    await cache.invalidate("user:1")
    assert await cache.get("u1-a") is None
    assert await cache.get("u1-b") is None
    assert await cache.get("u2") == b"c"
    await cache.invalidate("user:1")  # nothing left: a no-op


async def test_redis_cache_is_shared_between_clients() -> None:
    url, namespace = service_url("redis"), _namespace()
    first, second = RedisCache(url, namespace), RedisCache(url, namespace)
    try:
        await first.set("k", b"v", ttl=30, tags=["t"])
        assert await second.get("k") == b"v"
        await second.invalidate("t")
        assert await first.get("k") is None
    finally:
        await first.close()
        await second.close()


def test_memory_cache_stays_bounded() -> None:
    memory = MemoryCache(max_entries=3)
    for index in range(5):
        memory.set_now(f"k{index}", b"v", ttl=30, tags=["all"])
    assert len(memory) == 3
    assert memory.get_now("k0") is None
    assert memory.get_now("k4") == b"v"
    memory.invalidate_now("all")
    assert len(memory) == 0


@pytest.fixture(params=KINDS)
async def two_pubsubs(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PubSub, PubSub]]:
    """Two ends that do not share memory with Redis (two processes' worth); one hub in memory."""
    namespace = _namespace()
    if request.param == "memory":
        hub = PubSub(namespace)
        yield hub, hub
        return
    url = service_url("redis")
    ends = (RedisPubSub(url, namespace), RedisPubSub(url, namespace))
    for end in ends:
        await end.start()
    try:
        yield ends
    finally:
        for end in ends:
            await end.close()


async def _listening(pubsub: PubSub, channel: str) -> list[str]:
    received: list[str] = []

    async def listener(message: str) -> None:
        received.append(message)

    await pubsub.add_listener(channel, listener)

    async def connected() -> bool:
        return pubsub.connected

    await until(connected, "subscribed")
    return received


async def test_a_message_reaches_every_listener(two_pubsubs: tuple[PubSub, PubSub]) -> None:
    publisher, other = two_pubsubs
    at_publisher = await _listening(publisher, "news")
    at_other = await _listening(other, "news")
    await until(lambda: _delivered(publisher, "news", at_other), "the first message arrives")
    await publisher.publish("elsewhere", "not for us")
    await publisher.publish("news", "second")

    async def both_got_it() -> bool:
        return "second" in at_other and "second" in at_publisher

    await until(both_got_it, "both ends receive 'second'")
    assert "not for us" not in at_other


async def _delivered(publisher: PubSub, channel: str, received: list[str]) -> bool:
    """Publish until the other end hears one (Redis confirms a subscription asynchronously)."""
    await publisher.publish(channel, "ping")
    await asyncio.sleep(0.05)
    return "ping" in received


async def test_a_stream_subscriber_gets_messages_in_order(two_pubsubs: tuple[PubSub, PubSub]) -> None:
    publisher, other = two_pubsubs
    async with other.subscribe("progress") as messages:
        warm = await _listening(other, "progress")
        await until(lambda: _delivered(publisher, "progress", warm), "subscribed")
        for index in range(3):
            await publisher.publish("progress", f"step-{index}")
        seen: list[str] = []
        while len(seen) < 3:
            message = await asyncio.wait_for(anext(messages), timeout=5)
            if message.startswith("step-"):
                seen.append(message)
    assert seen == ["step-0", "step-1", "step-2"]


async def test_near_cache_invalidation_reaches_the_other_instance(two_pubsubs: tuple[PubSub, PubSub]) -> None:
    here, there = (NearCache(end, "callers") for end in two_pubsubs)
    for near in (here, there):
        await near.start()
    probe = await _listening(two_pubsubs[1], "callers")
    await until(lambda: _delivered(two_pubsubs[0], "callers", probe), "subscribed")
    there.set("caller", b"old", ttl=30, tags=["user:1"], epoch=there.epoch())
    here.set("caller", b"old", ttl=30, tags=["user:1"], epoch=here.epoch())
    await here.invalidate("user:1")
    assert here.get("caller") is None  # at once where the change was made

    async def gone_there() -> bool:
        return there.get("caller") is None

    await until(gone_there, "the other instance drops the entry", within=2)


async def test_near_cache_does_not_keep_a_value_computed_across_an_invalidation() -> None:
    near = NearCache(PubSub(_namespace()), "callers")
    await near.start()
    epoch = near.epoch()  # a request starts reading the caller…
    await near.invalidate("user:1")  # …the caller changes meanwhile…
    near.set("caller", b"stale", ttl=30, tags=["user:1"], epoch=epoch)  # …and the stale read is not kept
    assert near.get("caller") is None


async def test_a_message_from_another_process_arrives(tmp_path: Path) -> None:
    url, namespace = service_url("redis"), _namespace()
    listener = RedisPubSub(url, namespace)
    await listener.start()
    try:
        received = await _listening(listener, "callers")
        script = (
            "import asyncio, sys\n"
            "from cauri.core.pubsub import RedisPubSub\n"
            "async def main():\n"
            "    end = RedisPubSub(sys.argv[1], sys.argv[2])\n"
            "    await end.publish('callers', 'from-the-other-process')\n"
            "    await end.close()\n"
            "asyncio.run(main())\n"
        )
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        completed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script, url, namespace],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr.decode()

        async def arrived() -> bool:
            return "from-the-other-process" in received

        await until(arrived, "the other process's message arrives")
    finally:
        await listener.close()
