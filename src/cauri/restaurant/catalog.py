"""The catalogue cache (the seed's: 24 h for catalogues and reference data, with a forced refresh).

:mod:`cauri.core.cache` is the store: this process's memory by default, Redis shared by every process when one is
configured. A miss (or ``refresh=True``) reads the whole catalogue from the provider, page by page; a hit costs
no provider call. ``cauri_restaurant_cache_requests_total{result="hit"|"miss"|"refresh"}`` gives the hit ratio.
The cache is never the source of truth: the synced records are.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from prometheus_client import Counter

from cauri.connectors.restaurant.base import PosConnector
from cauri.core.cache import Cache
from cauri.restaurant.sync import plain

CACHE_REQUESTS = Counter(
    "cauri_restaurant_cache_requests_total", "Catalogue cache lookups by result", ["provider", "result"]
)


def cache_key(connection_id: uuid.UUID) -> str:
    return f"restaurant:catalog:{connection_id}"


def connection_tag(connection_id: uuid.UUID) -> str:
    return f"restaurant:connection:{connection_id}"


async def catalog(
    cache: Cache,
    connector: PosConnector,
    *,
    connection_id: uuid.UUID,
    ttl_seconds: float,
    refresh: bool = False,
) -> list[dict[str, Any]]:
    """The connection's catalogue (unified objects as JSON data, by id), from the cache when it has it."""
    key = cache_key(connection_id)
    if not refresh:
        cached = await cache.get(key)
        if cached is not None:
            CACHE_REQUESTS.labels(connector.provider, "hit").inc()
            loaded: list[dict[str, Any]] = json.loads(cached)
            return loaded
    CACHE_REQUESTS.labels(connector.provider, "refresh" if refresh else "miss").inc()
    objects: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await connector.list_catalog(cursor=cursor)
        objects.extend(plain(obj) for obj in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    objects.sort(key=lambda obj: str(obj["id"]))
    await cache.set(key, json.dumps(objects).encode(), ttl=ttl_seconds, tags=[connection_tag(connection_id)])
    return objects


async def forget(cache: Cache, connection_id: uuid.UUID) -> None:
    """Drop the connection's cached reference data (a catalogue webhook, a revocation)."""
    await cache.invalidate(connection_tag(connection_id))
