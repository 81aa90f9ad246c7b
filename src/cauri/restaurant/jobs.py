"""Background work of the restaurant hub: a sync run asked for by a manager, a webhook's targeted sync."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from cauri.core.jobs import JobContext, job
from cauri.restaurant import bookings, customers, sync, webhooks

SYNC_JOB = "restaurant.sync"


@job(SYNC_JOB)
async def run_sync(ctx: JobContext, payload: dict[str, Any]) -> None:
    await sync.run_sync(
        ctx.sessionmaker, ctx.settings, connection_id=uuid.UUID(payload["connection_id"]), kind=payload["kind"]
    )


@job(webhooks.WEBHOOK_JOB)
async def process_webhook(ctx: JobContext, payload: dict[str, Any]) -> None:
    await webhooks.process(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["receipt_id"]))


@job(bookings.AVAILABILITY_JOB)
async def push_availability(ctx: JobContext, payload: dict[str, Any]) -> None:
    days = [date.fromisoformat(day) for day in payload["days"]]
    await bookings.push_availability(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["organization_id"]), days)


@job(bookings.CHANNEL_SYNC_JOB)
async def sync_channel(ctx: JobContext, payload: dict[str, Any]) -> None:
    await bookings.sync_channel(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["connection_id"]))


@job(bookings.CHANNEL_WEBHOOK_JOB)
async def process_channel_webhook(ctx: JobContext, payload: dict[str, Any]) -> None:
    await bookings.process_webhook(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["receipt_id"]))


@job(customers.CRM_SYNC_JOB)
async def sync_crm(ctx: JobContext, payload: dict[str, Any]) -> None:
    await customers.sync_crm(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["organization_id"]))


@job(customers.ERASURE_JOB)
async def erase_customer(ctx: JobContext, payload: dict[str, Any]) -> None:
    organization_id, customer_id = uuid.UUID(payload["organization_id"]), uuid.UUID(payload["customer_id"])
    await customers.erase(ctx.sessionmaker, ctx.settings, organization_id, customer_id)


@job(bookings.WRITE_BACK_JOB)
async def write_back_reservation(ctx: JobContext, payload: dict[str, Any]) -> None:
    await bookings.write_back(ctx.sessionmaker, ctx.settings, uuid.UUID(payload["reservation_id"]))
