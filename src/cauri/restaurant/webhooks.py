"""Webhooks in: verified over the raw bytes before anything is parsed, stored once under (provider, event_id),
answered 2xx fast, processed by a job that runs a targeted sync (the objects the event names) or the kind's
incremental sync."""

from __future__ import annotations

import uuid

import structlog
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.base import WebhookEvent
from cauri.core.cache import make_cache
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.kit.errors import ConnectorError
from cauri.restaurant import catalog, connections, sync
from cauri.restaurant.models import ConnectionStatus, RestaurantConnection, WebhookReceipt
from cauri.restaurant.providers import provider as provider_named

log = structlog.get_logger(__name__)

WEBHOOK_JOB = "restaurant.webhook"
LIVE = (ConnectionStatus.CONNECTED.value, ConnectionStatus.ERROR.value)


def webhook_path(provider: str) -> str:
    return f"/api/v1/restaurant/webhooks/{provider}"


def verify(settings: Settings, provider: str, headers: dict[str, str], body: bytes) -> WebhookEvent:
    """Raises :class:`~cauri.kit.errors.InvalidSignature` (or an unreadable-answer error) before any parsing."""
    connector = provider_named(provider).pos(settings, SecretStr("unused"), None, None)
    url = settings.public_base_url.rstrip("/") + webhook_path(provider)
    return connector.parse_webhook(headers=headers, body=body, url=url)


async def receive(session: AsyncSession, *, provider: str, event: WebhookEvent, job: str = WEBHOOK_JOB) -> bool:
    """Store the event once and enqueue its processing; False for a duplicate delivery (nothing to do)."""
    receipt_id = uuid.uuid4()
    values = {
        "id": receipt_id,
        "provider": provider,
        "event_id": event.event_id[:120],
        "merchant_id": event.merchant_id,
        "type": event.type[:80],
        "kind": event.kind[:20],
        "object_ids": list(event.object_ids),
        "received_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(WebhookReceipt).values(**values)
    inserted = await session.execute(statement.on_conflict_do_nothing(index_elements=["provider", "event_id"]))
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await enqueue(session, job, {"receipt_id": str(receipt_id)})
    return True


async def process(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    receipt_id: uuid.UUID,
    on_page: sync.PageHook | None = None,
) -> str:
    """Sync what the event names; record the outcome on the receipt. Safe to run twice."""
    async with sessionmaker() as session:
        receipt = await session.get(WebhookReceipt, receipt_id)
        if receipt is None or receipt.processed_at is not None:
            return "nothing to do"
        kind, object_ids = receipt.kind, list(receipt.object_ids)
        targets = list(
            (
                await session.execute(
                    select(RestaurantConnection).where(
                        RestaurantConnection.provider == receipt.provider,
                        RestaurantConnection.merchant_id == receipt.merchant_id,
                        RestaurantConnection.status.in_(LIVE),
                    )
                )
            ).scalars()
        )
        for connection in targets:
            session.expunge(connection)
    outcomes = [
        await _process_one(sessionmaker, settings, connection, kind, object_ids, on_page) for connection in targets
    ]
    outcome = "; ".join(outcomes) or "no connection to this merchant"
    async with unit_of_work(sessionmaker) as session:
        receipt = await session.get(WebhookReceipt, receipt_id)
        if receipt is not None:
            receipt.processed_at = utcnow()
            receipt.outcome = outcome[:200]
    return outcome


async def _process_one(  # noqa: PLR0917 - one connection's share of one event
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    connection: RestaurantConnection,
    kind: str,
    object_ids: list[str],
    on_page: sync.PageHook | None,
) -> str:
    if kind == "sales" and object_ids:
        token = await connections.access_token(sessionmaker, settings, connection.id)
        connector = provider_named(connection.provider).pos(settings, token, None, connection.merchant_id)
        try:
            sales = [await connector.get_sale(sale_id) for sale_id in object_ids]
            rows = [sync.Row(s.id, s.updated_at, sync.plain(s)) for s in sales]
            written = await sync.sync_objects(sessionmaker, connection, "sales", rows, on_page)
        except ConnectorError as exc:
            await connections.record_failure(sessionmaker, connection.id, exc)
            return f"error: {exc.code}"
        finally:
            await connector.aclose()
        return f"targeted: {written} written"
    if kind in sync.KINDS:
        if kind == "catalog":  # the cached catalogue is stale now (shared through Redis when configured)
            cache = make_cache(settings)
            try:
                await catalog.forget(cache, connection.id)
            finally:
                await cache.close()
        report = await sync.run_sync(sessionmaker, settings, connection_id=connection.id, kind=kind, on_page=on_page)
        suffix = f" ({report.error_code})" if report.error_code else ""
        return f"sync {report.status}: {report.written} written{suffix}"
    return f"ignored: {kind}"
