"""The reservation book: one per restaurant, with the capacity of each service (lunch, dinner). Reservations
come from the booking channels (TheFork, OpenTable: connections of kind ``reservations``) and from the
restaurant itself (``direct``); a reservation that would seat more covers than the service has is refused — a
409 problem+json for a direct one, the channel told ``cancelled`` for a channel's — and after every change the
remaining covers are pushed back to every channel.

Counting and writing happen under a lock on the service's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers), so two bookings at once cannot both take the last table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.base import AvailabilitySlot, Reservation, ReservationConnector, ReservationStatus
from cauri.connectors.restaurant.reservations import opentable, thefork
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import AppError, field_error
from cauri.kit.errors import ConnectorError
from cauri.restaurant import customers, errors
from cauri.restaurant.connections import Tokens, encryptor_for
from cauri.restaurant.models import (
    BookedReservation,
    ConnectionStatus,
    DiningService,
    RestaurantConnection,
    WebhookReceipt,
)

log = structlog.get_logger(__name__)

RESERVATIONS = "reservations"  # the connection kind of a booking channel
CHANNELS = ("thefork", "opentable")
DIRECT = "direct"
#: Statuses that hold covers.
HOLDING = frozenset({ReservationStatus.REQUESTED, ReservationStatus.CONFIRMED, ReservationStatus.SEATED})
AVAILABILITY_JOB = "restaurant.availability"
CHANNEL_SYNC_JOB = "restaurant.reservations_sync"
CHANNEL_WEBHOOK_JOB = "restaurant.reservation_webhook"
WRITE_BACK_JOB = "restaurant.reservation_write_back"


def webhook_path(connection_id: uuid.UUID) -> str:
    return f"/api/v1/restaurant/webhooks/bookings/{connection_id}"


# -- services ---------------------------------------------------------------------------------------------------


def _clock(value: str, field: str) -> str:
    try:
        return time.fromisoformat(value).strftime("%H:%M")
    except ValueError:
        raise field_error(field, "invalid_time", "Heure attendue (HH:MM).", "A time is expected (HH:MM).") from None


async def put_service(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    name: str,
    starts: str,
    ends: str,
    capacity: int,
    timezone: str,
) -> DiningService:
    starts, ends = _clock(starts, "starts"), _clock(ends, "ends")
    if ends <= starts:
        raise field_error("ends", "before_start", "La fin précède le début.", "The end is before the start.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise field_error("timezone", "unknown_timezone", "Fuseau horaire inconnu.", "Unknown time zone.") from None
    for other in await list_services(session, organization_id):
        if other.name != name and other.starts < ends and starts < other.ends:
            raise field_error(
                "starts",
                "restaurant_services_overlap",
                f"Ce service chevauche « {other.name} ».",
                f"This service overlaps '{other.name}'.",
            )
    row = await session.scalar(
        select(DiningService).where(DiningService.organization_id == organization_id, DiningService.name == name)
    )
    if row is None:
        row = DiningService(organization_id=organization_id, name=name)
        session.add(row)
    row.starts, row.ends, row.capacity, row.timezone = starts, ends, capacity, timezone
    await session.flush()
    return row


async def list_services(session: AsyncSession, organization_id: uuid.UUID) -> list[DiningService]:
    rows = await session.scalars(
        select(DiningService).where(DiningService.organization_id == organization_id).order_by(DiningService.starts)
    )
    return list(rows)


def service_start(service: DiningService, day: date) -> datetime:
    local = datetime.combine(day, time.fromisoformat(service.starts), tzinfo=ZoneInfo(service.timezone))
    return local.astimezone(UTC)


def _service_for(services: Sequence[DiningService], starts_at: datetime) -> tuple[DiningService, date]:
    for service in services:
        local = starts_at.astimezone(ZoneInfo(service.timezone))
        if service.starts <= local.strftime("%H:%M") < service.ends:
            return service, local.date()
    raise errors.no_service(starts_at.isoformat())


async def booked_covers(
    session: AsyncSession, organization_id: uuid.UUID, service: str, day: date, *, excluding: uuid.UUID | None = None
) -> int:
    query = select(func.coalesce(func.sum(BookedReservation.party_size), 0)).where(
        BookedReservation.organization_id == organization_id,
        BookedReservation.service_name == service,
        BookedReservation.service_date == day,
        BookedReservation.status.in_([s.value for s in HOLDING]),
    )
    if excluding is not None:
        query = query.where(BookedReservation.id != excluding)
    return int(await session.scalar(query) or 0)


# -- the book ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    row: BookedReservation
    changed: bool


async def record(
    session: AsyncSession, *, organization_id: uuid.UUID, channel: str, reservation: Reservation
) -> Recorded:
    """Write ``reservation`` into the book, or raise ``restaurant_overbooked`` / ``restaurant_no_service`` with
    nothing written. A reservation that holds covers is counted against its service under the service's lock."""
    service, day = _service_for(await list_services(session, organization_id), reservation.starts_at)
    await session.execute(select(DiningService.id).where(DiningService.id == service.id).with_for_update())
    row = await session.scalar(
        select(BookedReservation).where(
            BookedReservation.organization_id == organization_id,
            BookedReservation.channel == channel,
            BookedReservation.external_id == reservation.id,
        )
    )
    if reservation.status in HOLDING:
        booked = await booked_covers(session, organization_id, service.name, day, excluding=row.id if row else None)
        if booked + reservation.party_size > service.capacity:
            raise errors.overbooked(service.name, service.capacity, booked, reservation.party_size)
    before = (row.status, row.party_size, row.starts_at, row.service_date) if row is not None else None
    if row is None:
        row = BookedReservation(organization_id=organization_id, channel=channel, external_id=reservation.id)
        session.add(row)
    _fill(row, reservation, service.name, day)
    if reservation.status in HOLDING:
        row.refused = None  # held now (a refused one the channel later changed and that fits)
    await session.flush()
    await customers.note_guest(session, organization_id=organization_id, channel=channel, reservation=reservation)
    return Recorded(row, before != (row.status, row.party_size, row.starts_at, row.service_date))


def _fill(row: BookedReservation, reservation: Reservation, service: str, day: date) -> None:
    row.service_name, row.service_date = service, day
    row.starts_at, row.party_size = reservation.starts_at, reservation.party_size
    row.status = reservation.status.value
    row.guest_name, row.email, row.phone = reservation.guest_name[:200], reservation.email, reservation.phone
    row.notes, row.marketing_consent = reservation.notes, reservation.marketing_consent
    row.source_updated_at = reservation.updated_at


async def refuse(
    session: AsyncSession, *, organization_id: uuid.UUID, channel: str, reservation: Reservation, reason: str
) -> BookedReservation:
    """Keep a channel's reservation the book refused, as cancelled with the reason (the covers are not held)."""
    row = await session.scalar(
        select(BookedReservation).where(
            BookedReservation.organization_id == organization_id,
            BookedReservation.channel == channel,
            BookedReservation.external_id == reservation.id,
        )
    )
    services = await list_services(session, organization_id)
    try:
        service, day = _service_for(services, reservation.starts_at)
        service_name = service.name
    except AppError:
        service_name, day = "", reservation.starts_at.date()
    if row is None:
        row = BookedReservation(organization_id=organization_id, channel=channel, external_id=reservation.id)
        session.add(row)
    _fill(row, reservation, service_name, day)
    row.status, row.refused = ReservationStatus.CANCELLED.value, reason
    await session.flush()
    return row


async def book_direct(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    party_size: int,
    starts_at: datetime,
    guest_name: str,
    email: str | None,
    phone: str | None,
    notes: str,
    marketing_consent: bool,
) -> BookedReservation:
    reservation = Reservation(
        id=f"direct-{uuid.uuid4().hex[:16]}",
        party_size=party_size,
        starts_at=starts_at,
        status=ReservationStatus.CONFIRMED,
        updated_at=utcnow(),
        guest_name=guest_name,
        email=email,
        phone=phone,
        notes=notes,
        marketing_consent=marketing_consent,
    )
    return (await record(session, organization_id=organization_id, channel=DIRECT, reservation=reservation)).row


async def set_status(
    session: AsyncSession, *, organization_id: uuid.UUID, reservation_id: uuid.UUID, status: ReservationStatus
) -> BookedReservation:
    row = await session.get(BookedReservation, reservation_id)
    if row is None or row.organization_id != organization_id:
        raise errors.reservation_not_found()
    current = Reservation(
        id=row.external_id,
        party_size=row.party_size,
        starts_at=row.starts_at.replace(tzinfo=row.starts_at.tzinfo or UTC),
        status=status,
        updated_at=utcnow(),
        guest_name=row.guest_name,
        email=row.email,
        phone=row.phone,
        notes=row.notes,
        marketing_consent=row.marketing_consent,
    )
    return (await record(session, organization_id=organization_id, channel=row.channel, reservation=current)).row


async def day_book(session: AsyncSession, organization_id: uuid.UUID, day: date) -> list[BookedReservation]:
    rows = await session.scalars(
        select(BookedReservation)
        .where(BookedReservation.organization_id == organization_id, BookedReservation.service_date == day)
        .order_by(BookedReservation.starts_at, BookedReservation.id)
    )
    return list(rows)


async def availability(
    session: AsyncSession, organization_id: uuid.UUID, days: Iterable[date]
) -> list[AvailabilitySlot]:
    slots = []
    services = await list_services(session, organization_id)
    for day in sorted(set(days)):
        for service in services:
            booked = await booked_covers(session, organization_id, service.name, day)
            slots.append(AvailabilitySlot(service_start(service, day), max(service.capacity - booked, 0)))
    return slots


# -- channels ---------------------------------------------------------------------------------------------------


async def configure_channel(
    session: AsyncSession,
    *,
    settings: Settings,
    organization_id: uuid.UUID,
    name: str,
    restaurant_id: str,
    client_id: str,
    client_secret: SecretStr,
    webhook_secret: SecretStr,
    base_url: str | None,
    auth_url: str | None,
) -> RestaurantConnection:
    if name not in CHANNELS:
        raise errors.unknown_channel(name)
    row = await session.scalar(
        select(RestaurantConnection).where(
            RestaurantConnection.organization_id == organization_id, RestaurantConnection.provider == name
        )
    )
    if row is None:
        row = RestaurantConnection(organization_id=organization_id, provider=name, kind=RESERVATIONS)
        session.add(row)
    row.status = ConnectionStatus.CONNECTED.value
    watermark = (row.settings or {}).get("watermark")
    row.settings = {
        "restaurant_id": restaurant_id,
        "client_id": client_id,
        "base_url": base_url,
        "auth_url": auth_url,
        "watermark": watermark,
    }
    row.token_ciphertext = Tokens(client_secret, webhook_secret).seal(encryptor_for(settings))
    row.refreshable, row.pkce = False, False
    await session.flush()
    return row


def channel_connector(settings: Settings, row: RestaurantConnection) -> ReservationConnector:
    if row.kind != RESERVATIONS or row.token_ciphertext is None:
        raise errors.unknown_channel(row.provider)
    secrets = Tokens.open(encryptor_for(settings), row.token_ciphertext)
    secret, hook = secrets.access_token, secrets.refresh_token or SecretStr("")
    values = row.settings
    if row.provider == "thefork":
        return thefork.TheForkConnector(
            auth=thefork.TheForkAuth(
                client_id=str(values["client_id"]),
                client_secret=secret,
                token_url=values.get("auth_url") or thefork.AUTH_URL,
            ),
            restaurant_id=str(values["restaurant_id"]),
            base_url=values.get("base_url") or thefork.API_URL,
            webhook_tokens=[hook],
        )
    return opentable.OpenTableConnector(
        auth=opentable.opentable_auth(
            client_id=str(values["client_id"]),
            client_secret=secret,
            oauth_url=values.get("auth_url") or opentable.OAUTH_URL,
        ),
        rid=str(values["restaurant_id"]),
        base_url=values.get("base_url") or opentable.API_URL,
        signature_secrets=[hook],
    )


async def channel_rows(session: AsyncSession, organization_id: uuid.UUID) -> list[RestaurantConnection]:
    rows = await session.scalars(
        select(RestaurantConnection).where(
            RestaurantConnection.organization_id == organization_id,
            RestaurantConnection.kind == RESERVATIONS,
            RestaurantConnection.status != ConnectionStatus.REVOKED.value,
        )
    )
    return list(rows)


async def _health(
    sessionmaker: async_sessionmaker[AsyncSession], connection_id: uuid.UUID, error: ConnectorError | None
) -> None:
    async with sessionmaker() as session:
        row = await session.get(RestaurantConnection, connection_id)
        if row is None:
            return
        if error is None:
            row.status, row.last_success_at = ConnectionStatus.CONNECTED.value, utcnow()
        else:
            row.status, row.last_error_at = ConnectionStatus.ERROR.value, utcnow()
            row.last_error_code, row.last_error_message = error.code[:60], error.message_en[:500]
        await session.commit()


async def push_availability(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, organization_id: uuid.UUID, days: Iterable[date]
) -> dict[str, str]:
    """Push the covers left on ``days`` to every channel; each channel's outcome (``ok`` or its error code) is
    returned and recorded on its health. A channel failing does not stop the others."""
    async with sessionmaker() as session:
        slots = await availability(session, organization_id, days)
        rows = await channel_rows(session, organization_id)
    outcome: dict[str, str] = {}
    for row in rows:
        connector = channel_connector(settings, row)
        try:
            await connector.push_availability(slots)
        except ConnectorError as exc:
            log.warning("restaurant_availability_push_failed", channel=row.provider, code=exc.code)
            outcome[row.provider] = exc.code
            await _health(sessionmaker, row.id, exc)
        else:
            outcome[row.provider] = "ok"
            await _health(sessionmaker, row.id, None)
        finally:
            await connector.aclose()
    return outcome


@dataclass
class ChannelSyncReport:
    seen: int = 0
    recorded: int = 0
    refused: int = 0
    status: str = "ok"
    error_code: str | None = None
    days: set[date] | None = None


async def take(
    sessionmaker: async_sessionmaker[AsyncSession],
    row: RestaurantConnection,
    connector: ReservationConnector,
    reservation: Reservation,
    report: ChannelSyncReport,
) -> None:
    """One channel reservation into the book in a transaction of its own; refused, the channel is told."""
    report.seen += 1
    report.days = (report.days or set()) | {reservation.starts_at.date()}
    try:
        async with sessionmaker() as session:
            await record(session, organization_id=row.organization_id, channel=row.provider, reservation=reservation)
            await session.commit()
        report.recorded += 1
        return
    except AppError as refusal:
        reason = refusal.code
    async with sessionmaker() as session:
        await refuse(
            session, organization_id=row.organization_id, channel=row.provider, reservation=reservation, reason=reason
        )
        await session.commit()
    report.refused += 1
    log.info("restaurant_reservation_refused", channel=row.provider, reservation=reservation.id, reason=reason)
    if reservation.status is not ReservationStatus.CANCELLED:
        await connector.update_reservation(reservation.id, status=ReservationStatus.CANCELLED)


async def sync_channel(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, connection_id: uuid.UUID
) -> ChannelSyncReport:
    """Every reservation changed since the channel's watermark into the book, then the availability pushed to
    every channel. A channel error ends the run recorded on its health (the watermark is kept: run again)."""
    report = ChannelSyncReport()
    async with sessionmaker() as session:
        row = await session.get(RestaurantConnection, connection_id)
    if row is None:
        raise errors.unknown_channel(str(connection_id))
    watermark = row.settings.get("watermark")
    since = datetime.fromisoformat(watermark) if watermark else None
    high = since
    connector = channel_connector(settings, row)
    try:
        cursor: str | None = None
        while True:
            page = await connector.list_reservations(updated_since=since, cursor=cursor)
            for reservation in page.items:
                await take(sessionmaker, row, connector, reservation, report)
                high = max(high, reservation.updated_at) if high else reservation.updated_at
            if (cursor := page.cursor) is None:
                break
    except ConnectorError as exc:
        report.status, report.error_code = "error", exc.code
        await _health(sessionmaker, row.id, exc)
    else:
        async with sessionmaker() as session:
            fresh = await session.get(RestaurantConnection, row.id)
            if fresh is not None:
                fresh.settings = {**fresh.settings, "watermark": high.isoformat() if high else None}
                await session.commit()
        await _health(sessionmaker, row.id, None)
    finally:
        await connector.aclose()
    if report.days:
        await push_availability(sessionmaker, settings, row.organization_id, report.days)
    return report


async def process_webhook(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, receipt_id: uuid.UUID
) -> None:
    """A verified channel notification: read the reservations it names, book them, push availability."""
    async with sessionmaker() as session:
        receipt = await session.get(WebhookReceipt, receipt_id)
        if receipt is None or receipt.processed_at is not None or receipt.merchant_id is None:
            return
        row = await session.get(RestaurantConnection, uuid.UUID(receipt.merchant_id))
    if row is None:
        return
    report = ChannelSyncReport()
    connector = channel_connector(settings, row)
    try:
        for reservation_id in receipt.object_ids:
            await take(sessionmaker, row, connector, await connector.get_reservation(reservation_id), report)
    except ConnectorError as exc:
        await _health(sessionmaker, row.id, exc)
        raise  # reading is safe to repeat: the job is retried, the receipt stays unprocessed
    finally:
        await connector.aclose()
    if report.days:
        await push_availability(sessionmaker, settings, row.organization_id, report.days)
    async with sessionmaker() as session:
        stored = await session.get(WebhookReceipt, receipt_id)
        if stored is not None:
            stored.processed_at, stored.outcome = utcnow(), f"recorded={report.recorded} refused={report.refused}"
            await session.commit()


async def write_back(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, reservation_id: uuid.UUID
) -> None:
    """A channel's reservation changed in Cauri (seated, cancelled…): its current status sent to the channel. The
    update is absolute, so a retried job is harmless; a channel error is recorded and raised (the job retries)."""
    async with sessionmaker() as session:
        row = await session.get(BookedReservation, reservation_id)
        if row is None or row.channel not in CHANNELS:
            return
        channel = await session.scalar(
            select(RestaurantConnection).where(
                RestaurantConnection.organization_id == row.organization_id,
                RestaurantConnection.provider == row.channel,
                RestaurantConnection.kind == RESERVATIONS,
            )
        )
        external_id, status = row.external_id, ReservationStatus(row.status)
    if channel is None:
        return
    connector = channel_connector(settings, channel)
    try:
        await connector.update_reservation(external_id, status=status)
    except ConnectorError as exc:
        await _health(sessionmaker, channel.id, exc)
        raise
    finally:
        await connector.aclose()
    await _health(sessionmaker, channel.id, None)
