"""Timers of the marketplace, on the job scheduler. Each handler reads the database and is safe to run twice.

* ``rentals.booking_timer``: enqueued for a booking's ``answer_by`` (request) and ``pay_by`` (accepted); lapses
  or expires it if its time is up and nothing happened.
* ``rentals.sweep_timers`` (every 5 minutes): the same for every booking, in case a timer job was lost.
* settlement of ``rental.rent`` and ``rental.deposit`` collections: recorded on the booking (``money``).
* ``rentals.release_deposits`` (every 15 minutes): undisputed deposit deductions are released after 72 hours.
* ``rentals.publish_reviews`` (hourly): reviews are revealed 14 days after the stay if the other side never wrote.
* ``rentals.calendar_sync``: download one imported calendar (outside any transaction), then apply it; enqueued
  when a calendar is added or a sync asked for, and by ``rentals.sync_calendars`` (every 5 minutes) for every
  import not attempted for 30 minutes.
* ``rentals.rent_schedule`` (hourly): leases' monthly rent calls, reminders and late fees (``leases``); settlement
  of ``rental.lease_rent`` collections: applied to the lease's latest call and paid on to the landlord.
* ``rentals.announce_service_request``: enqueued with each new service request, tells the covering providers;
* settlement of ``rental.service`` collections: the service job is paid (``services``);
  ``rentals.confirm_services`` (hourly): jobs marked done and not confirmed within 3 days confirm themselves, and
  the provider is paid from escrow.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.jobs import JobContext, enqueue, job, periodic
from cauri.payments.public import SettlementEvent, on_settled
from cauri.rentals import bookings, calendars, deposits, leases, money, reviews, services


@job(bookings.TIMER_JOB)
async def booking_timer(ctx: JobContext, payload: dict[str, Any]) -> None:
    await bookings.apply_timers(ctx.session, now=utcnow(), booking_id=uuid.UUID(payload["booking_id"]))


@periodic("rentals.sweep_timers", every=timedelta(minutes=5))
async def sweep_timers(ctx: JobContext, payload: dict[str, Any]) -> None:
    await bookings.apply_timers(ctx.session, now=utcnow())


@on_settled(money.RENT)
async def rent_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await money.record_settlement(session, event)


@on_settled(money.DEPOSIT)
async def deposit_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await money.record_settlement(session, event)


@periodic("rentals.release_deposits", every=timedelta(minutes=15))
async def release_deposits(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Deductions not disputed within 72 hours are accepted: the deposit is released."""
    await deposits.release_due_deposits(ctx.session, now=utcnow())


@periodic("rentals.publish_reviews", every=timedelta(hours=1))
async def publish_reviews(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A review the other side never answered is revealed 14 days after the stay."""
    await reviews.publish_due(ctx.session, now=utcnow())


@job(calendars.SYNC_JOB)
async def calendar_sync(ctx: JobContext, payload: dict[str, Any]) -> None:
    import_id = uuid.UUID(payload["import_id"])
    # A short read of its own, then the download with no transaction open (SQLite: no write lock held meanwhile).
    async with ctx.sessionmaker() as reader:
        url = await calendars.import_url(reader, import_id)
        await reader.rollback()
    if url is None:
        return
    fetched = await calendars.fetch_feed(url, ctx.settings)
    await calendars.apply_feed(ctx.session, import_id=import_id, fetched=fetched, now=utcnow())


@periodic("rentals.sync_calendars", every=timedelta(minutes=5))
async def sync_calendars(ctx: JobContext, payload: dict[str, Any]) -> None:
    now = utcnow()
    slot = int(now.timestamp() // calendars.SYNC_EVERY.total_seconds())
    for import_id in await calendars.due_imports(ctx.session, now):
        await enqueue(
            ctx.session,
            calendars.SYNC_JOB,
            {"import_id": str(import_id)},
            dedupe_key=f"{calendars.SYNC_JOB}.{import_id}.{slot}",
        )


@periodic("rentals.rent_schedule", every=timedelta(hours=1))
async def rent_schedule(ctx: JobContext, payload: dict[str, Any]) -> None:
    await leases.run_schedule(ctx.session, now=utcnow())


@on_settled(leases.LEASE_RENT)
async def lease_rent_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await leases.record_settlement(session, event)


@on_settled(services.SERVICE)
async def service_settled(session: AsyncSession, event: SettlementEvent) -> None:
    await services.record_settlement(session, event)


@job(services.ANNOUNCE_JOB)
async def announce_service_request(ctx: JobContext, payload: dict[str, Any]) -> None:
    await services.announce_request(ctx.session, uuid.UUID(payload["request_id"]))


@periodic(services.CONFIRM_JOB, every=timedelta(hours=1))
async def confirm_services(ctx: JobContext, payload: dict[str, Any]) -> None:
    """A job its requester neither confirmed nor cancelled within 3 days of "done" is confirmed."""
    await services.confirm_due(ctx.session, now=utcnow())
