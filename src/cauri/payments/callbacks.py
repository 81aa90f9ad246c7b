"""Provider callbacks: verified over the raw bytes, stored once, answered at once, processed by a job.

``POST /api/v1/webhooks/{provider}?org=<organisation>``: the organisation in the URL (we wrote it into the
callback URL we gave the provider) selects whose credentials verify the signature; without it, the application's
development credentials do (sandbox outside production). Order of work, as convention 8 demands: verify the
signature and timestamp over the raw body (401 otherwise) → parse → insert under the unique
``(provider, event_id)`` (a duplicate inserts nothing and is still answered 2xx) → enqueue the processing job in
the same transaction → answer. The job finds the payment by our reference (so a callback that overtakes the
create call's answer works), and for providers that do not sign, asks the provider before trusting anything.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping

import structlog
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.base import CallbackAck, CallbackEvent, PaymentStatus
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.errors import AppError, NotFound
from cauri.core.jobs import enqueue
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    InvalidRequest,
    InvalidSignature,
    PaymentNotFound,
    Unsupported,
)
from cauri.payments import providers, redirects
from cauri.payments.models import Payment, ProviderEvent
from cauri.payments.settlement import Outcome, apply_outcome, lock_payment, status_of
from cauri.payments.states import Cause
from cauri.payments.submission import Snapshot, can_query, open_connector, query_status

log = structlog.get_logger(__name__)

PROCESS_JOB = "payments.process_callback"
# Headers worth keeping with the raw event (what a connector may need to parse it again, and for support).
_KEPT_HEADERS = ("content-type", "user-agent", "x-request-id")
# A callback can overtake the create call's answer; give the payment this many job attempts to be known.
UNMATCHED_ATTEMPTS = 5


class PaymentNotYetKnown(Exception):
    """The callback names a payment we cannot find (yet): the job retries, then records it as unmatched."""


def _unknown_provider() -> NotFound:
    return NotFound("Fournisseur inconnu.", "Unknown provider.", code="unknown_provider")


def _unreadable() -> AppError:
    return AppError(
        "Notification illisible.", "Unreadable callback.", code="invalid_callback", status=400, field="body"
    )


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v[:500] for k, v in headers.items() if k.lower() in _KEPT_HEADERS or "signature" in k.lower()}


async def receive(
    session: AsyncSession,
    *,
    provider: str,
    organization_id: uuid.UUID | None,
    headers: Mapping[str, str],
    raw_body: bytes,
    settings: Settings,
) -> CallbackAck:
    """Verify, store and enqueue one callback; the acknowledgement to send back to the provider."""
    if provider not in registry.names():
        raise _unknown_provider()
    try:
        connector = await providers.connector_for(
            session, organization_id=organization_id, provider=provider, settings=settings
        )
    except AuthError:
        # No credentials to verify with: indistinguishable, for the sender, from a bad signature.
        raise InvalidSignature(provider=provider, code="callback_unverifiable").to_app_error() from None
    async with connector:
        try:
            connector.verify_callback(headers, raw_body)
        except InvalidSignature as exc:
            log.warning("callback_rejected", provider=provider, code=exc.code)
            raise exc.to_app_error() from None
        except Unsupported:
            raise _unknown_provider() from None
        try:
            event = connector.parse_callback(headers, raw_body)
        except ConnectorError:
            raise _unreadable() from None
        ack = connector.callback_ack(event)
    payment_id = await _payment_named_by_token(session, provider=provider, organization_id=organization_id, event=event)
    stored_id = await _store(
        session,
        provider=provider,
        organization_id=organization_id,
        event=event,
        headers=headers,
        raw_body=raw_body,
        payment_id=payment_id,
    )
    if stored_id is not None:
        await enqueue(session, PROCESS_JOB, {"event_id": str(stored_id)})
    else:
        log.info("callback_duplicate", provider=provider, event_id=event.event_id)
    return ack


async def _payment_named_by_token(
    session: AsyncSession, *, provider: str, organization_id: uuid.UUID | None, event: CallbackEvent
) -> uuid.UUID | None:
    """A callback that names its payment only by the token issued at creation (Orange WebPay's ``notif_token``):
    that token is its only credential, so one matching no payment of ours is refused like a bad signature."""
    if event.callback_token is None or event.reference or event.provider_reference:
        return None
    payment = await redirects.payment_by_callback_token(
        session, provider=provider, token=event.callback_token, organization_id=organization_id
    )
    if payment is None:
        log.warning("callback_rejected", provider=provider, code="callback_token_mismatch")
        raise InvalidSignature(provider=provider, code="callback_token_mismatch").to_app_error()
    return payment.id


async def _store(
    session: AsyncSession,
    *,
    provider: str,
    organization_id: uuid.UUID | None,
    event: CallbackEvent,
    headers: Mapping[str, str],
    raw_body: bytes,
    payment_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Insert the event unless ``(provider, event_id)`` is already stored; its id, or None for a duplicate."""
    row_id = uuid.uuid4()
    values = {
        "id": row_id,
        "provider": provider,
        "event_id": event.event_id[:200],
        "received_at": utcnow(),
        "headers": _kept_headers(headers),
        "body": raw_body,
        "signed": event.signed,
        "organization_id": organization_id,
        "kind": event.kind.value,
        "status": event.status.value,
        "amount": event.amount,
        "currency": event.currency,
        "failure": event.failure.value if event.failure else None,
        "outbound_reference": (event.reference or None) and event.reference[:64],
        "provider_reference": (event.provider_reference or None) and event.provider_reference[:128],
        "state": "received",
        "payment_id": payment_id,
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = (
        postgresql_insert(ProviderEvent) if dialect == "postgresql" else sqlite_insert(ProviderEvent)
    ).on_conflict_do_nothing(index_elements=["provider", "event_id"])
    if dialect not in ("postgresql", "sqlite"):  # another database: plain insert (a duplicate is a conflict)
        await session.execute(insert(ProviderEvent).values(**values))
        return row_id
    result = await session.execute(statement.values(**values).returning(ProviderEvent.id))
    return result.scalar_one_or_none()


async def _find_payment(session: AsyncSession, event: ProviderEvent) -> Payment | None:
    if event.payment_id is not None:  # matched on receipt by its callback token
        return await session.get(Payment, event.payment_id)
    if event.outbound_reference:
        found = (
            await session.execute(
                select(Payment).where(
                    Payment.provider == event.provider, Payment.outbound_reference == event.outbound_reference
                )
            )
        ).scalar_one_or_none()
        if found is not None:
            return found
    if event.provider_reference:
        return (
            await session.execute(
                select(Payment)
                .where(Payment.provider == event.provider, Payment.provider_reference == event.provider_reference)
                .limit(1)
            )
        ).scalar_one_or_none()
    return None


def _outcome(event: ProviderEvent) -> Outcome:
    return Outcome(
        status=status_of(PaymentStatus(event.status)),
        provider_status=event.status,
        provider_reference=event.provider_reference,
        reason=event.failure,
        amount=event.amount,
        currency=event.currency,
        detail={"event_id": event.event_id},
    )


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, state: str, outcome: str
) -> None:
    async with unit_of_work(sessionmaker) as session:
        event = await session.get(ProviderEvent, event_id, with_for_update=True, populate_existing=True)
        if event is not None and event.state == "received":
            event.state = state
            event.outcome = outcome[:200]
            event.processed_at = utcnow()


async def process(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, event_id: uuid.UUID, *, attempt: int
) -> None:
    """The ``payments.process_callback`` job."""
    async with sessionmaker() as session:
        event = await session.get(ProviderEvent, event_id)
        if event is None or event.state != "received":
            return
        payment = await _find_payment(session, event)
        snapshot = Snapshot.of(payment) if payment is not None else None
    if payment is None or snapshot is None:
        if attempt < UNMATCHED_ATTEMPTS:
            raise PaymentNotYetKnown(f"no payment for callback {event.provider}/{event.event_id} yet")
        await _finish(sessionmaker, event_id, "unmatched", "no payment with this reference")
        return
    if (event.organization_id is not None and event.organization_id != payment.organization_id) or (
        event.kind != payment.kind
    ):
        await _finish(sessionmaker, event_id, "unmatched", "payment of another organisation or kind")
        return
    if event.signed:
        outcome = _outcome(event)
        confirmed_by = "signature"
    else:
        # Unsigned: the callback only rings the bell; the provider's own answer to a status query decides.
        connector = await open_connector(sessionmaker, settings, snapshot)
        async with connector:
            if not can_query(connector, snapshot) and event.provider_reference:
                # The create call's answer never came (a timeout): the callback is the first to name the provider's
                # reference. Ask the provider about that reference; the connector checks the answer is ours.
                snapshot = dataclasses.replace(snapshot, provider_reference=event.provider_reference)
            if not can_query(connector, snapshot):
                await _finish(sessionmaker, event_id, "ignored", "unsigned and no status query possible")
                return
            try:
                found = await query_status(connector, snapshot)
            except (PaymentNotFound, InvalidRequest) as exc:
                await _finish(sessionmaker, event_id, "ignored", f"status query refused it: {exc.code}")
                return
            outcome = Outcome.of_provider(found, event_id=event.event_id)
        confirmed_by = "status_query"
    async with unit_of_work(sessionmaker) as session:
        locked = await lock_payment(session, payment.id)
        stored = await session.get(ProviderEvent, event_id, with_for_update=True, populate_existing=True)
        if locked is None or stored is None or stored.state != "received":
            return
        changed = await apply_outcome(session, locked, outcome, cause=Cause.CALLBACK, settings=settings)
        stored.state = "processed"
        stored.payment_id = locked.id
        stored.outcome = f"{'applied' if changed else 'no change'} ({confirmed_by}): {locked.status}"
        stored.processed_at = utcnow()
