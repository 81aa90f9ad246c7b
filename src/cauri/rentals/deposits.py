"""The deposit at the end of a stay: the landlord states what they keep and why, the tenant sees it and accepts or
disputes it (an admin settles a dispute; undisputed, it is accepted after 72 hours), then the escrow is released:
the deduction to the landlord, the rest back to the tenant's phone (docs/rentals.md, "Money flows")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.principal import Principal
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PhoneCounterparty
from cauri.rentals.access import is_admin
from cauri.rentals.bookings import get_booking
from cauri.rentals.errors import NotAllowed, WrongBookingState
from cauri.rentals.models import Booking
from cauri.rentals.money import (
    DEPOSIT,
    DEPOSIT_RETURN,
    DISPUTE_WINDOW,
    cover_provider_fees,
    escrow_account,
    landlord_account,
    transfer_id,
)


async def propose_deduction(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    deduction: int,
    reason: str | None,
    now: datetime | None = None,
) -> Booking:
    """The landlord states what they keep of the deposit, and why; the tenant sees it and may dispute it."""
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    if principal.person_id != booking.landlord_id and not is_admin(principal):
        raise NotAllowed(
            "Seul le propriétaire retient une partie de la caution.", "Only the landlord keeps part of the deposit."
        )
    if booking.deposit_state != "held" or booking.checked_out_at is None:
        raise WrongBookingState(booking.deposit_state, "solder la caution de", "settle the deposit of")
    _check_deduction(booking, deduction, reason)
    now = now or utcnow()
    booking.deposit_deduction = deduction
    booking.deposit_deduction_reason = reason
    booking.deposit_state = "proposed"
    details = dict(booking.payment_details or {})
    details["deposit_release_after"] = (now + DISPUTE_WINDOW).isoformat()
    booking.payment_details = details
    booking.updated_at = now
    if deduction == 0:
        await release_deposit(session, booking)
    return booking


def _check_deduction(booking: Booking, deduction: int, reason: str | None) -> None:
    if not 0 <= deduction <= booking.deposit_paid:
        raise field_error(
            "deduction",
            "out_of_range",
            f"La retenue va de 0 à {booking.deposit_paid} (la caution payée).",
            f"The deduction ranges from 0 to {booking.deposit_paid} (the deposit paid).",
        )
    if deduction > 0 and not (reason or "").strip():
        raise field_error("reason", "missing", "Indiquez le motif de la retenue.", "Give the reason for the deduction.")


async def answer_deduction(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    answer: Literal["accept", "dispute"],
    reason: str | None,
) -> Booking:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    if principal.person_id != booking.tenant_id:
        raise NotAllowed("Seul le locataire répond à la retenue.", "Only the tenant answers the deduction.")
    if booking.deposit_state != "proposed":
        raise WrongBookingState(booking.deposit_state, "répondre à la retenue de", "answer the deduction of")
    if answer == "accept":
        await release_deposit(session, booking)
    else:
        booking.deposit_state = "disputed"
        details = dict(booking.payment_details or {})
        details["dispute_reason"] = reason
        booking.payment_details = details
    booking.updated_at = utcnow()
    return booking


async def resolve_dispute(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    deduction: int,
    reason: str | None,
) -> Booking:
    if not is_admin(principal):
        raise NotAllowed("Seul l'opérateur tranche un litige.", "Only the operator settles a dispute.")
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    if booking.deposit_state != "disputed":
        raise WrongBookingState(booking.deposit_state, "trancher", "settle")
    _check_deduction(booking, deduction, reason)
    booking.deposit_deduction = deduction
    booking.deposit_deduction_reason = reason
    await release_deposit(session, booking)
    return booking


async def release_deposit(session: AsyncSession, booking: Booking) -> None:
    """The deduction to the landlord, the rest back to the tenant's phone, from the escrow."""
    await cover_provider_fees(session, booking)
    escrow = await escrow_account(session, booking)
    if booking.deposit_deduction > 0:
        landlord = await landlord_account(session, booking.organization_id, booking.landlord_id, booking.currency)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=transfer_id("deposit", booking.id, "deduction"),
                    debit_account_id=escrow.id,
                    credit_account_id=landlord.id,
                    amount=booking.deposit_deduction,
                    code="rental_deposit_deduction",
                    metadata={"booking_id": str(booking.id), "reason": (booking.deposit_deduction_reason or "")[:500]},
                )
            ],
        )
    back = booking.deposit_paid - booking.deposit_deduction
    details: dict[str, Any] = dict(booking.payment_details or {})
    if back > 0:
        phone = details.get(f"{DEPOSIT}.phone")
        if not phone:
            raise WrongBookingState(booking.deposit_state, "rendre la caution de", "return the deposit of")
        view = await payments.payout(
            session,
            organization_id=booking.organization_id,
            amount=back,
            currency=booking.currency,
            counterparty=PhoneCounterparty(phone=phone),
            purpose=DEPOSIT_RETURN,
            owner_id=str(booking.id),
            account_id=escrow.id,
            idempotency_key=f"{DEPOSIT_RETURN}:{booking.id}",
        )
        details["deposit_return_payment_id"] = str(view.id)
    booking.payment_details = details
    booking.deposit_state = "released" if booking.deposit_deduction > 0 else "returned"


async def release_due_deposits(session: AsyncSession, *, now: datetime) -> int:
    """Deductions the tenant did not dispute within the window are accepted (the job's sweep)."""
    rows = (
        (
            await session.execute(
                select(Booking).where(Booking.deposit_state == "proposed").with_for_update(skip_locked=True).limit(200)
            )
        )
        .scalars()
        .all()
    )
    released = 0
    for booking in rows:
        after = (booking.payment_details or {}).get("deposit_release_after")
        if after and datetime.fromisoformat(after) <= now:
            await release_deposit(session, booking)
            released += 1
    return released
