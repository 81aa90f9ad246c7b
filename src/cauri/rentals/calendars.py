"""Calendar sync (iCal): each listing exports its held nights as an ``.ics`` feed and imports other calendars.

**Export.** The landlord asks for a feed URL (``…/calendars/<token>.ics``): the token (32 random bytes) is shown
once and only its keyed digest is stored; asking again rotates it. The feed lists the listing's bookings that hold
nights (pending and confirmed), never the guests' names, and not the blocks it imported (no echo between sites).

**Import.** The landlord adds an external calendar's URL (Airbnb, Booking.com…). A job (``rentals.calendar_sync``,
on adding, on demand, and every 30 minutes for all) downloads it outside any transaction and then, in one
transaction, replaces that import's blocks with the feed's future events. Each event becomes a booking row of
status ``blocked``, so it holds its nights under the very guarantee that prevents double booking (PostgreSQL's
exclusion constraint, SQLite's single writer): a request for those nights is refused, and search and the
availability calendar see them. An event falling on nights already held here is not blocked but listed in the
import's ``conflicts`` for the landlord to settle. A feed that cannot be fetched or read leaves the previous blocks
as they were and sets ``status: failed`` with the reason in ``last_error``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import NotFound
from cauri.core.jobs import enqueue
from cauri.core.outbound import refused_target
from cauri.core.principal import Principal
from cauri.core.security import keyed_digest, random_token
from cauri.rentals import bookings, ical
from cauri.rentals.errors import NotAllowed, PropertyNotFound
from cauri.rentals.models import (
    EXPORTED_STATUSES,
    Booking,
    BookingStatus,
    CalendarFeed,
    CalendarImport,
    Property,
)
from cauri.rentals.properties import can_manage, get_property, managed_property

SYNC_JOB: Final = "rentals.calendar_sync"
SYNC_EVERY: Final = timedelta(minutes=30)
FETCH_TIMEOUT_SECONDS: Final = 10.0
MAX_FEED_BYTES: Final = 2_000_000
# Nobody books in the past: events that ended before today are not imported, nor old bookings exported.
EXPORT_HISTORY: Final = timedelta(days=30)
# Whom a block's booking row names as its tenant: nobody of ours.
NO_GUEST: Final = uuid.UUID(int=0)


class FeedNotFound(NotFound):
    code = "rental_calendar_not_found"
    message_fr = "Calendrier introuvable."
    message_en = "Calendar not found."


def _digest(settings: Settings, token: str) -> str:
    return keyed_digest(settings.secret_key.get_secret_value(), token)


def feed_path(token: str) -> str:
    return f"/api/v1/rentals/calendars/{token}.ics"


async def rotate_feed(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal,
    settings: Settings,
) -> tuple[CalendarFeed, str]:
    """A new feed token for the listing (the old URL stops working); answers the row and the token, shown once."""
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    token = random_token(32)
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.property_id == prop.id))
    if feed is None:
        feed = CalendarFeed(organization_id=organization_id, property_id=prop.id, token_digest=_digest(settings, token))
        session.add(feed)
    else:
        feed.token_digest = _digest(settings, token)
        feed.created_at = utcnow()
    await session.flush()
    return feed, token


async def export_feed(session: AsyncSession, *, settings: Settings, token: str, now: datetime) -> str:
    """The ``.ics`` text of the listing whose feed token this is (a 404 for any other string)."""
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.token_digest == _digest(settings, token)))
    prop = await session.get(Property, feed.property_id) if feed is not None else None
    if feed is None or prop is None:
        raise FeedNotFound()
    rows = await session.scalars(
        select(Booking)
        .where(
            Booking.property_id == prop.id,
            Booking.status.in_(EXPORTED_STATUSES),
            Booking.end_date >= now.date() - EXPORT_HISTORY,
        )
        .order_by(Booking.start_date, Booking.id)
    )
    nights = [
        ical.BusyNights(
            start=b.start_date,
            end=b.end_date,
            uid=f"{b.id}@cauri",
            summary="Réservé (LokaHome)" if b.status == BookingStatus.CONFIRMED else "En attente (LokaHome)",
        )
        for b in rows
    ]
    return ical.write_calendar(prop.title, nights, stamp=now)


async def readable_listing(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, principal: Principal
) -> Property:
    """A listing the caller manages, read without a lock (a GET's read-only session)."""
    prop = await get_property(session, organization_id=organization_id, property_id=property_id, principal=principal)
    if not can_manage(principal, prop):
        raise NotAllowed(
            "Seul le propriétaire de ce logement peut voir ses calendriers.",
            "Only this property's landlord can see its calendars.",
        )
    return prop


async def feed_of(session: AsyncSession, property_id: uuid.UUID) -> CalendarFeed | None:
    found: CalendarFeed | None = await session.scalar(
        select(CalendarFeed).where(CalendarFeed.property_id == property_id)
    )
    return found


# Imports


def normalized_url(url: str) -> str:
    """``webcal://`` (what calendar sites hand out) is HTTPS."""
    return "https://" + url[len("webcal://") :] if url.lower().startswith("webcal://") else url


async def add_import(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal,
    url: str,
    name: str,
) -> CalendarImport:
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    url = normalized_url(url)
    existing = await session.scalar(
        select(CalendarImport).where(CalendarImport.property_id == prop.id, CalendarImport.url == url)
    )
    if existing is not None:
        await request_sync(session, existing)
        return existing
    imported = CalendarImport(
        organization_id=organization_id,
        property_id=prop.id,
        name=name,
        url=url,
        status="pending",
        blocks=0,
        conflicts=[],
    )
    session.add(imported)
    await session.flush()
    await request_sync(session, imported)
    return imported


async def request_sync(session: AsyncSession, imported: CalendarImport) -> None:
    await enqueue(session, SYNC_JOB, {"import_id": str(imported.id)})


async def managed_import(
    session: AsyncSession, *, organization_id: uuid.UUID, import_id: uuid.UUID, principal: Principal
) -> CalendarImport:
    """An import of a listing the caller manages (a 404 for anyone else's)."""
    imported = await session.scalar(
        select(CalendarImport).where(CalendarImport.organization_id == organization_id, CalendarImport.id == import_id)
    )
    if imported is None:
        raise FeedNotFound()
    try:
        await managed_property(
            session, organization_id=organization_id, property_id=imported.property_id, principal=principal
        )
    except (PropertyNotFound, NotAllowed):
        raise FeedNotFound() from None
    return imported


async def imports_of(session: AsyncSession, property_id: uuid.UUID) -> list[CalendarImport]:
    rows = await session.scalars(
        select(CalendarImport).where(CalendarImport.property_id == property_id).order_by(CalendarImport.created_at)
    )
    return list(rows)


async def remove_import(
    session: AsyncSession, *, organization_id: uuid.UUID, import_id: uuid.UUID, principal: Principal
) -> None:
    """The import and every block it made: those nights are free again."""
    imported = await managed_import(session, organization_id=organization_id, import_id=import_id, principal=principal)
    await session.execute(delete(Booking).where(Booking.calendar_import_id == imported.id))
    await session.delete(imported)


# Fetching and applying (the job)


@dataclass(frozen=True)
class Fetched:
    """A feed's events, or why there are none: ``error_fr``/``error_en`` set when it could not be fetched or read."""

    events: list[ical.BusyNights]
    error_fr: str | None = None
    error_en: str | None = None


class _Unavailable(Exception):
    def __init__(self, reason_fr: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_fr = reason_fr
        self.reason_en = reason_en


async def _download(url: str, settings: Settings) -> bytes:
    refused = await refused_target(url, settings)
    if refused is not None:
        raise _Unavailable(f"Adresse refusée ({refused}).", f"Address refused ({refused}).")
    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True, max_redirects=3) as client,
            client.stream("GET", url, headers={"Accept": "text/calendar"}) as response,
        ):
            if response.status_code != 200:
                code = response.status_code
                raise _Unavailable(f"Calendrier injoignable (HTTP {code}).", f"Calendar unreachable (HTTP {code}).")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise _Unavailable(
                        "Calendrier trop volumineux (2 Mo au plus).", "Calendar too large (2 MB at most)."
                    )
            return bytes(body)
    except httpx.HTTPError as exc:
        kind = type(exc).__name__
        raise _Unavailable(f"Calendrier injoignable ({kind}).", f"Calendar unreachable ({kind}).") from None


async def fetch_feed(url: str, settings: Settings) -> Fetched:
    """Download and read a feed, outside any transaction. Never raises for the feed's own faults."""
    try:
        text = (await _download(url, settings)).decode("utf-8-sig")
        return Fetched(ical.parse_calendar(text))
    except _Unavailable as exc:
        return Fetched([], exc.reason_fr, exc.reason_en)
    except UnicodeDecodeError:
        return Fetched([], "Calendrier illisible (encodage non UTF-8).", "Unreadable calendar (not UTF-8).")
    except ical.MalformedCalendar as exc:
        return Fetched(
            [],
            f"Calendrier mal formé, ligne {exc.line} : {exc.reason_fr}",
            f"Malformed calendar, line {exc.line}: {exc.reason_en}",
        )


async def import_url(session: AsyncSession, import_id: uuid.UUID) -> str | None:
    found: str | None = await session.scalar(select(CalendarImport.url).where(CalendarImport.id == import_id))
    return found


def _block(imported: CalendarImport, landlord_id: uuid.UUID, busy: ical.BusyNights, now: datetime) -> Booking:
    return Booking(
        organization_id=imported.organization_id,
        property_id=imported.property_id,
        tenant_id=NO_GUEST,
        landlord_id=landlord_id,
        start_date=busy.start,
        end_date=busy.end,
        nights=(busy.end - busy.start).days,
        currency="XOF",
        total_amount=0,
        deposit_amount=0,
        rent_paid=0,
        deposit_paid=0,
        status=BookingStatus.BLOCKED.value,
        message=f"{imported.name}: {busy.summary}"[:500] if busy.summary else imported.name,
        answer_by=now,
        deposit_state="none",
        deposit_deduction=0,
        rent_released=False,
        payment_details={},
        calendar_import_id=imported.id,
        external_uid=busy.uid,
        created_at=now,
        updated_at=now,
    )


async def apply_feed(session: AsyncSession, *, import_id: uuid.UUID, fetched: Fetched, now: datetime) -> None:
    """Record one sync in one transaction: a failure changes only the import's status; a success replaces the
    import's blocks with the feed's future events, each held under the no-double-booking guarantee."""
    imported = await session.scalar(select(CalendarImport).where(CalendarImport.id == import_id).with_for_update())
    if imported is None:
        return  # removed while it was being fetched
    imported.last_attempt_at = now
    if fetched.error_en is not None:
        imported.status = "failed"
        imported.last_error = f"{fetched.error_fr} / {fetched.error_en}"
        return
    prop = await session.get(Property, imported.property_id)
    assert prop is not None
    today = now.date()
    wanted = ical.merged(
        ical.BusyNights(max(e.start, today), e.end, e.uid, e.summary) for e in fetched.events if e.end > today
    )
    current = {
        (b.start_date, b.end_date): b
        for b in await session.scalars(select(Booking).where(Booking.calendar_import_id == imported.id))
    }
    keep = {(w.start, w.end) for w in wanted}
    for span, block in current.items():
        if span not in keep:
            await session.delete(block)
    await session.flush()
    conflicts: list[dict[str, str]] = []
    for busy in wanted:
        if (busy.start, busy.end) in current:
            continue
        if await _taken(session, imported.property_id, busy.start, busy.end):
            conflicts.append(_conflict(busy))
            continue
        try:
            async with session.begin_nested():
                session.add(_block(imported, prop.owner_id, busy, now))
        except IntegrityError as exc:
            if not bookings.is_overlap(exc):
                raise
            conflicts.append(_conflict(busy))
    imported.status = "synced"
    imported.last_error = None
    imported.last_synced_at = now
    imported.blocks = len(wanted) - len(conflicts)
    imported.conflicts = conflicts


async def _taken(session: AsyncSession, property_id: uuid.UUID, start: date, end: date) -> bool:
    return await bookings.nights_taken(session, property_id=property_id, start=start, end=end)


def _conflict(busy: ical.BusyNights) -> dict[str, str]:
    return {"start_date": busy.start.isoformat(), "end_date": busy.end.isoformat(), "uid": busy.uid}


async def due_imports(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Imports not attempted for :data:`SYNC_EVERY` (or never): the periodic sweep syncs them."""
    rows = await session.scalars(
        select(CalendarImport.id).where(
            (CalendarImport.last_attempt_at.is_(None)) | (CalendarImport.last_attempt_at <= now - SYNC_EVERY)
        )
    )
    return list(rows)
