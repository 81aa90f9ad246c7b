"""The taskiq broker for this process, built from settings (never at import time, so tests can run several).

* no ``CAURI_BROKER_URL``: taskiq's in-memory broker, inside the API's event loop;
* ``redis://`` / ``rediss://``: a Redis stream with a consumer group: a message is acknowledged after its
  job ran, so a killed worker's message is claimed again by another worker (the sweeper is the safety net);
* ``amqp://`` / ``amqps://``: RabbitMQ through aio-pika, persistent messages acknowledged after the job ran.

``CAURI_BROKER_QUEUE`` names the stream, or the exchange and queue, so deployments (and test runs) can share
one Redis or RabbitMQ without seeing each other's messages.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from taskiq import AsyncBroker, InMemoryBroker

from cauri.core.config import Settings

REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps")
PROBE_TIMEOUT_SECONDS = 3.0


def broker_scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES + AMQP_SCHEMES:
        raise ValueError(f"CAURI_BROKER_URL must start with redis://, rediss://, amqp:// or amqps://, not {scheme}://")
    return scheme


def build_broker(settings: Settings, *, concurrency: int = 10) -> AsyncBroker:
    if settings.broker_url is None:
        return InMemoryBroker(max_async_tasks=concurrency, max_stored_results=1)
    if broker_scheme(settings.broker_url) in REDIS_SCHEMES:
        return _redis_broker(settings, settings.broker_url, concurrency=concurrency)
    return _amqp_broker(settings, settings.broker_url, concurrency=concurrency)


def _redis_broker(settings: Settings, url: str, *, concurrency: int) -> AsyncBroker:
    from taskiq_redis import RedisStreamBroker

    lease_ms = settings.job_lease_seconds * 1000
    broker: AsyncBroker = RedisStreamBroker(
        url,
        queue_name=settings.broker_queue,
        consumer_group_name=settings.broker_queue,
        # "0", not "$": doorbells rung before the first worker created the group are still delivered.
        consumer_id="0",
        # Doorbells are tiny and redundant (the database holds the work): keep the stream bounded.
        maxlen=100_000,
        # A message unacknowledged for a lease belongs to a dead worker: another one claims it.
        idle_timeout=lease_ms,
        unacknowledged_lock_timeout=settings.job_lease_seconds,
        xread_block=1000,
        # A message read is this consumer's until acknowledged: read no more than it can start.
        xread_count=concurrency,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
    )
    return broker


def _amqp_broker(settings: Settings, url: str, *, concurrency: int) -> AsyncBroker:
    from taskiq_aio_pika import AioPikaBroker, Exchange, Queue

    name = settings.broker_queue
    broker: AsyncBroker = AioPikaBroker(
        url,
        qos=concurrency,
        exchange=Exchange(name=name),
        task_queues=[Queue(name=name)],
        dead_letter_queue=Queue(name=f"{name}.dead_letter"),
    )
    return broker


async def probe_broker(url: str) -> None:
    """Raise unless the broker at ``url`` answers (readiness): a Redis PING, or an AMQP connection handshake."""
    if broker_scheme(url) in REDIS_SCHEMES:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS)
        try:
            await asyncio.wait_for(client.ping(), PROBE_TIMEOUT_SECONDS)
        finally:
            await client.aclose()
        return
    import aiormq

    connection = await asyncio.wait_for(aiormq.connect(url), PROBE_TIMEOUT_SECONDS)
    await connection.close()
