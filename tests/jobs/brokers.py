"""Real brokers for tests: a queue name of the test run's own, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tests.conftest import service_url


@dataclass(frozen=True)
class BrokerUnderTest:
    kind: str  # "redis" or "amqp"
    url: str
    queue: str

    def with_port(self, port: int) -> str:
        """The same broker URL on another port (where nothing listens)."""
        scheme, rest = self.url.split("://", 1)
        credentials, _, location = rest.rpartition("@")
        host_port, _, path = location.partition("/")
        host = host_port.rsplit(":", 1)[0]
        prefix = f"{credentials}@" if credentials else ""
        return f"{scheme}://{prefix}{host}:{port}/{path}"


@asynccontextmanager
async def isolated_broker(kind: str) -> AsyncIterator[BrokerUnderTest]:
    broker = BrokerUnderTest(kind=kind, url=service_url(kind), queue=f"cauri-test-{uuid.uuid4().hex[:12]}")
    try:
        yield broker
    finally:
        await _remove_queue(broker)


async def _remove_queue(broker: BrokerUnderTest) -> None:
    if broker.kind == "redis":
        from redis.asyncio import Redis

        client = Redis.from_url(broker.url)
        try:
            await client.delete(broker.queue, f"autoclaim:{broker.queue}:{broker.queue}")
        finally:
            await client.aclose()
        return
    import aio_pika

    connection = await aio_pika.connect(broker.url)
    try:
        channel = await connection.channel()
        for queue in (broker.queue, f"{broker.queue}.dead_letter"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(broker.queue)
    finally:
        await connection.close()
