"""Customers: guests matched from the reservation book (by e-mail, else phone), sent to the restaurant's CRMs
(HubSpot, Zoho: connections of kind ``crm``) **only while their consent is recorded**, with loyalty points for
completed reservations, and erased on request — at every CRM first, then here (the row kept without anything
that names the person, the reservations' guest details cleared).

Consent is recorded from a booking channel's opt-in (``source`` = the channel) or by the restaurant
(``POST /restaurant/customers/consent``); a withdrawal stops every later push (what the CRM already holds is
erased on request).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import structlog
from pydantic import SecretStr
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.base import Contact, CrmConnector, Reservation, ReservationStatus
from cauri.connectors.restaurant.crm import hubspot, zoho
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import NotFound, field_error
from cauri.core.jobs import enqueue
from cauri.kit.auth import BearerToken
from cauri.kit.errors import ConnectorError
from cauri.restaurant import errors
from cauri.restaurant.connections import Tokens, encryptor_for
from cauri.restaurant.models import (
    BookedReservation,
    ConnectionStatus,
    Customer,
    LoyaltyAward,
    RestaurantConnection,
    SyncCheckpoint,
    SyncStatus,
)
from cauri.restaurant.sync import lease_held, locked_checkpoint

log = structlog.get_logger(__name__)

CRM = "crm"  # the connection kind of a CRM
CRMS = ("hubspot", "zoho")
CRM_SYNC_JOB = "restaurant.crm_sync"
ERASURE_JOB = "restaurant.crm_erase"
POINTS_PER_COVER = 10
# A push to one CRM holds this checkpoint's lease (see _push_lease); a dead run's lease lapses after PUSH_LEASE.
PUSH = "push"
PUSH_LEASE = timedelta(minutes=5)
PUSH_WAIT_SECONDS = 0.25


def match_key(email: str | None, phone: str | None) -> str | None:
    if email and email.strip():
        return email.strip().lower()
    if phone and phone.strip():
        return "".join(c for c in phone if c.isdigit() or c == "+")
    return None


def customer_not_found() -> NotFound:
    return NotFound("Client introuvable.", "Customer not found.", code="restaurant_customer_not_found")


async def _customer(session: AsyncSession, organization_id: uuid.UUID, key: str) -> Customer | None:
    return await session.scalar(
        select(Customer).where(Customer.organization_id == organization_id, Customer.match_key == key)
    )


async def note_guest(
    session: AsyncSession, *, organization_id: uuid.UUID, channel: str, reservation: Reservation
) -> Customer | None:
    """The guest of a reservation just written into the book (in its transaction). An opt-in records consent;
    a completed reservation earns ``POINTS_PER_COVER`` per cover once (its reference is unique)."""
    key = match_key(reservation.email, reservation.phone)
    if key is None:
        return None
    row = await _customer(session, organization_id, key)
    if row is None:
        row = Customer(organization_id=organization_id, match_key=key, crm_ids={}, points=0, consent=False)
        session.add(row)
    row.email, row.phone = reservation.email or row.email, reservation.phone or row.phone
    row.name = reservation.guest_name[:200] or row.name
    if reservation.marketing_consent and not row.consent:
        row.consent, row.consent_source, row.consent_at = True, channel, utcnow()
    await session.flush()
    if reservation.status is ReservationStatus.COMPLETED and row.consent:
        reference = f"resa:{channel}:{reservation.id}"
        if (
            await session.scalar(
                select(LoyaltyAward.id).where(
                    LoyaltyAward.organization_id == organization_id, LoyaltyAward.reference == reference
                )
            )
            is None
        ):
            points = POINTS_PER_COVER * reservation.party_size
            session.add(
                LoyaltyAward(
                    organization_id=organization_id,
                    customer_id=row.id,
                    reference=reference,
                    points=points,
                    reason=f"Repas ({reservation.party_size} couverts)",
                    pushed=[],
                )
            )
            row.points += points
    if row.consent:
        row.updated_at = utcnow()
        await enqueue(session, CRM_SYNC_JOB, {"organization_id": str(organization_id)})
    await session.flush()
    return row


async def record_consent(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    email: str | None,
    phone: str | None,
    name: str,
    consent: bool,
    source: str,
) -> Customer:
    key = match_key(email, phone)
    if key is None:
        raise field_error(
            "email", "required", "Un e-mail ou un téléphone est requis.", "An e-mail or phone is required."
        )
    row = await _customer(session, organization_id, key)
    if row is None:
        row = Customer(organization_id=organization_id, match_key=key, crm_ids={}, points=0)
        session.add(row)
    row.email, row.phone, row.name = email or row.email, phone or row.phone, name[:200] or row.name
    row.consent, row.consent_source, row.consent_at = consent, source[:60], utcnow()
    await session.flush()
    if consent:
        await enqueue(session, CRM_SYNC_JOB, {"organization_id": str(organization_id)})
    return row


async def list_customers(session: AsyncSession, organization_id: uuid.UUID) -> list[Customer]:
    rows = await session.scalars(
        select(Customer).where(Customer.organization_id == organization_id).order_by(Customer.created_at).limit(500)
    )
    return list(rows)


async def request_erasure(session: AsyncSession, *, organization_id: uuid.UUID, customer_id: uuid.UUID) -> Customer:
    row = await session.get(Customer, customer_id)
    if row is None or row.organization_id != organization_id:
        raise customer_not_found()
    row.consent = False  # nothing more is pushed from now on, whatever the erasure's progress
    await enqueue(session, ERASURE_JOB, {"organization_id": str(organization_id), "customer_id": str(customer_id)})
    return row


# -- CRM connections ----------------------------------------------------------------------------------------------


async def configure_crm(
    session: AsyncSession,
    *,
    settings: Settings,
    organization_id: uuid.UUID,
    name: str,
    secret: SecretStr,
    webhook_secret: SecretStr | None,
    values: dict[str, str | None],
) -> RestaurantConnection:
    """HubSpot: ``secret`` is the access token, ``webhook_secret`` the app's client secret. Zoho: ``secret`` is the
    refresh token, ``webhook_secret`` the client secret; ``values`` hold ``client_id``, ``accounts_url`` (or
    ``region``), ``api_domain``, ``notification_token``."""
    if name not in CRMS:
        raise field_error("name", "unknown_crm", "CRM inconnu (hubspot, zoho).", "Unknown CRM (hubspot, zoho).")
    if name == "zoho" and not values.get("client_id"):
        raise field_error("client_id", "required", "Requis pour Zoho.", "Required for Zoho.")
    row = await session.scalar(
        select(RestaurantConnection).where(
            RestaurantConnection.organization_id == organization_id, RestaurantConnection.provider == name
        )
    )
    if row is None:
        row = RestaurantConnection(organization_id=organization_id, provider=name, kind=CRM)
        session.add(row)
    row.status, row.settings = ConnectionStatus.CONNECTED.value, dict(values)
    row.token_ciphertext = Tokens(secret, webhook_secret).seal(encryptor_for(settings))
    row.refreshable, row.pkce = False, False
    await session.flush()
    return row


def crm_connector(settings: Settings, row: RestaurantConnection) -> CrmConnector:
    if row.token_ciphertext is None:
        raise field_error("name", "restaurant_crm_not_configured", "CRM non configuré.", "CRM not configured.")
    sealed = Tokens.open(encryptor_for(settings), row.token_ciphertext)
    second = sealed.refresh_token.get_secret_value() if sealed.refresh_token else ""
    values = row.settings
    if row.provider == "hubspot":
        return hubspot.HubSpotConnector(
            auth=BearerToken(sealed.access_token),
            base_url=values.get("base_url") or hubspot.API_URL,
            client_secret=second,
        )
    region = values.get("region") or "eu"
    auth = zoho.ZohoAuth(
        accounts_url=values.get("accounts_url") or zoho.ACCOUNTS_SERVERS.get(region, zoho.ACCOUNTS_SERVERS["eu"]),
        client_id=str(values["client_id"]),
        client_secret=SecretStr(second),
        refresh_token=sealed.access_token,
    )
    return zoho.ZohoCrmConnector(
        auth=auth,
        api_domain=values.get("api_domain") or zoho.API_DOMAINS["eu"],
        notification_token=str(values.get("notification_token") or ""),
    )


async def crm_rows(session: AsyncSession, organization_id: uuid.UUID) -> list[RestaurantConnection]:
    rows = await session.scalars(
        select(RestaurantConnection).where(
            RestaurantConnection.organization_id == organization_id, RestaurantConnection.kind == CRM
        )
    )
    return list(rows)


# -- pushing, erasing ---------------------------------------------------------------------------------------------


@dataclass
class CrmReport:
    upserted: int = 0
    awarded: int = 0
    errors: int = 0


async def _note_error(sessionmaker: async_sessionmaker[AsyncSession], row_id: uuid.UUID, exc: ConnectorError) -> None:
    async with sessionmaker() as session:
        row = await session.get(RestaurantConnection, row_id)
        if row is not None:
            row.status, row.last_error_at = ConnectionStatus.ERROR.value, utcnow()
            row.last_error_code, row.last_error_message = exc.code[:60], exc.message_en[:500]
            await session.commit()


async def sync_crm(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, organization_id: uuid.UUID
) -> CrmReport:
    """Every consenting customer changed since its last push upserted into every CRM, and its loyalty awards not
    yet pushed there added once (the award's reference is the CRM's idempotency key)."""
    report = CrmReport()
    async with sessionmaker() as session:
        rows = await crm_rows(session, organization_id)
        due = list(
            await session.scalars(
                select(Customer).where(
                    Customer.organization_id == organization_id,
                    Customer.consent.is_(True),
                    Customer.erased_at.is_(None),
                    or_(Customer.crm_synced_at.is_(None), Customer.crm_synced_at < Customer.updated_at),
                )
            )
        )
    for crm in rows:
        async with _push_lease(sessionmaker, crm.id):
            connector = crm_connector(settings, crm)
            try:
                for customer in due:
                    await _push(sessionmaker, crm.provider, connector, customer.id, report)
            except ConnectorError as exc:
                report.errors += 1
                await _note_error(sessionmaker, crm.id, exc)
            finally:
                await connector.aclose()
    async with sessionmaker() as session:
        for customer in due:
            fresh = await session.get(Customer, customer.id)
            if fresh is not None and report.errors == 0:
                fresh.crm_synced_at = utcnow()
        await session.commit()
    return report


async def _take_push_lease(sessionmaker: async_sessionmaker[AsyncSession], connection_id: uuid.UUID) -> bool:
    try:
        async with unit_of_work(sessionmaker) as session:
            checkpoint = await locked_checkpoint(session, connection_id, PUSH)
            now = utcnow()
            if lease_held(checkpoint, now):
                return False
            checkpoint.status, checkpoint.lease_until, checkpoint.run_started_at = (
                SyncStatus.RUNNING.value,
                now + PUSH_LEASE,
                now,
            )
    except IntegrityError:  # another run created the checkpoint at the same moment: it holds the lease
        return False
    return True


@asynccontextmanager
async def _push_lease(sessionmaker: async_sessionmaker[AsyncSession], connection_id: uuid.UUID) -> AsyncIterator[None]:
    """One push to a CRM at a time. Zoho's award is a read-modify-write of the contact's balance (insert the
    reward, read the balance, write balance + points) and HubSpot's too: two runs at once (the job a completed
    reservation enqueues, and a manager's "sync now") would let the second see the reward already inserted and
    return before the first has written the balance. A run waits for the one in progress — it may have read its
    customers before this run's change — and gives up (the job is retried) after a lease's length."""
    deadline = time.monotonic() + PUSH_LEASE.total_seconds()
    while not await _take_push_lease(sessionmaker, connection_id):
        if time.monotonic() > deadline:
            raise errors.sync_running(PUSH)
        await asyncio.sleep(PUSH_WAIT_SECONDS)
    try:
        yield
    finally:
        async with unit_of_work(sessionmaker) as session:  # an update, not a read: the CRM may be gone meanwhile
            await session.execute(
                update(SyncCheckpoint)
                .where(SyncCheckpoint.connection_id == connection_id, SyncCheckpoint.kind == PUSH)
                .values(status=SyncStatus.IDLE.value, lease_until=None)
            )


async def _push(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider: str,
    connector: CrmConnector,
    customer_id: uuid.UUID,
    report: CrmReport,
) -> None:
    async with sessionmaker() as session:
        customer = await session.get(Customer, customer_id)
        if customer is None or not customer.consent or customer.erased_at is not None:
            return  # consent withdrawn (or erased) since the run started
        first, _, last = customer.name.partition(" ")
        contact = await connector.upsert_contact(
            Contact(
                email=customer.email,
                phone=customer.phone,
                first_name=first,
                last_name=last,
                id=customer.crm_ids.get(provider),
                marketing_consent=True,
            )
        )
        customer.crm_ids = {**customer.crm_ids, provider: contact.id}
        await session.commit()
        report.upserted += 1
        awards = list(await session.scalars(select(LoyaltyAward).where(LoyaltyAward.customer_id == customer_id)))
    for award in awards:
        if provider in award.pushed or contact.id is None:
            continue
        await connector.add_loyalty_points(
            contact.id, award.points, reason=award.reason, idempotency_key=award.reference
        )
        async with sessionmaker() as session:
            stored = await session.get(LoyaltyAward, award.id)
            if stored is not None:
                stored.pushed = [*stored.pushed, provider]
                await session.commit()
        report.awarded += 1


async def erase(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    organization_id: uuid.UUID,
    customer_id: uuid.UUID,
) -> None:
    """At every CRM (by its id, else found by e-mail or phone), then here. A CRM failing raises: the job is
    retried and nothing is anonymised until every CRM has erased the person."""
    async with sessionmaker() as session:
        customer = await session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None:
            return
        rows = await crm_rows(session, organization_id)
        email, phone, crm_ids = customer.email, customer.phone, dict(customer.crm_ids)
    for crm in rows:
        connector = crm_connector(settings, crm)
        try:
            contact_id = crm_ids.get(crm.provider)
            if contact_id is None:
                found = await connector.find_contact(email=email, phone=phone)
                contact_id = found.id if found else None
            if contact_id is not None:
                await connector.erase_contact(contact_id)
        except ConnectorError as exc:
            await _note_error(sessionmaker, crm.id, exc)
            raise
        finally:
            await connector.aclose()
    async with sessionmaker() as session:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            return
        named = [c for c in (email, phone) if c]
        if named:
            booked = await session.scalars(
                select(BookedReservation).where(
                    BookedReservation.organization_id == organization_id,
                    or_(BookedReservation.email.in_(named), BookedReservation.phone.in_(named)),
                )
            )
            for reservation in booked:
                reservation.guest_name, reservation.email, reservation.phone, reservation.notes = "", None, None, ""
        digest = hashlib.sha256(customer.match_key.encode()).hexdigest()
        customer.match_key, customer.email, customer.phone, customer.name = f"erased:{digest}", None, None, ""
        customer.consent, customer.crm_ids, customer.erased_at = False, {}, utcnow()
        await session.commit()
    log.info("restaurant_customer_erased", customer_id=str(customer_id))
