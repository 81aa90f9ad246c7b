"""Rent and deposits: collected into a booking's escrow, released to the landlord minus the platform's commission,
deposits returned to the tenant less a deduction both can see (and the tenant can dispute before release).

Ledger accounts, per marketplace and currency (``cauri.ledger.service``):

* ``rental_escrow`` / booking id — what the tenant paid for one booking; never below zero;
* ``rental_landlord`` / landlord id — what the marketplace owes a landlord; paid out by mobile money;
* ``platform_fees`` — the operator's commission.

Flows: the tenant pays rent and deposit by ``payments.collect`` (purposes ``rental.rent`` and ``rental.deposit``)
into the escrow (``provider_clearing → rental_escrow``); the settlement handlers (``jobs.py``) record them. At
check-in the rent is released as two *linked* transfers, ``escrow → landlord`` and ``escrow → platform_fees``.
After check-out the landlord states the deposit's deduction and its reason; the tenant accepts it (or it is
accepted after 72 hours) or disputes it (an admin decides); release moves the deduction ``escrow → landlord`` and
pays the rest back to the tenant from the escrow (``payments.payout``, purpose ``rental.deposit_return``): see
``deposits.py``.
Landlords are paid out from their account (``payments.payout``, purpose ``rental.payout``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.principal import Principal
from cauri.identity.service import current_user
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.public import PaymentView, PhoneCounterparty, SettlementEvent
from cauri.rentals.access import is_admin, person_of, require_landlord
from cauri.rentals.bookings import cancel_booking, check_in, get_booking
from cauri.rentals.errors import NotAllowed, WrongBookingState
from cauri.rentals.models import HOLDING_STATUSES, Booking, BookingStatus, Property

ESCROW: Final = "rental_escrow"
LANDLORD: Final = "rental_landlord"
PLATFORM_FEES: Final = "platform_fees"
RENT: Final = "rental.rent"
DEPOSIT: Final = "rental.deposit"
DEPOSIT_RETURN: Final = "rental.deposit_return"
PAYOUT: Final = "rental.payout"
DISPUTE_WINDOW: Final = timedelta(hours=72)
_NAMESPACE: Final = uuid.UUID("6f1c1c3e-5b8e-4e5e-9a43-2f1d3d0e7a11")


def transfer_id(*parts: object) -> uuid.UUID:
    """A transfer id derived from what it moves, so a retry is harmless."""
    return uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts))


async def escrow_of(
    session: AsyncSession, organization_id: uuid.UUID, currency: str, owner_id: uuid.UUID
) -> ledger.Account:
    """The escrow of one booking or one service job (``owner_id``); never below zero."""
    return await ledger.get_or_create_account(
        session,
        organization_id=organization_id,
        currency=currency,
        code=ESCROW,
        owner_ref=str(owner_id),
        debits_must_not_exceed_credits=True,
    )


async def escrow_account(session: AsyncSession, booking: Booking) -> ledger.Account:
    return await escrow_of(session, booking.organization_id, booking.currency, booking.id)


async def landlord_account(
    session: AsyncSession, organization_id: uuid.UUID, landlord_id: uuid.UUID, currency: str
) -> ledger.Account:
    return await ledger.get_or_create_account(
        session,
        organization_id=organization_id,
        currency=currency,
        code=LANDLORD,
        owner_ref=str(landlord_id),
        debits_must_not_exceed_credits=True,
    )


async def fees_account(session: AsyncSession, organization_id: uuid.UUID, currency: str) -> ledger.Account:
    return await ledger.get_or_create_account(
        session, organization_id=organization_id, currency=currency, code=PLATFORM_FEES
    )


async def pay_booking(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    phone: str,
) -> list[PaymentView]:
    """Ask the tenant's phone for the rent and the deposit still due, into the booking's escrow."""
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    if principal.person_id != booking.tenant_id:
        raise NotAllowed("Seul le locataire paie sa réservation.", "Only the tenant pays their booking.")
    if booking.status != BookingStatus.CONFIRMED:
        raise WrongBookingState(booking.status, "payer", "pay")
    escrow = await escrow_account(session, booking)
    views = []
    details = dict(booking.payment_details or {})
    for purpose, due in (
        (RENT, booking.total_amount - booking.rent_paid),
        (DEPOSIT, booking.deposit_amount - booking.deposit_paid),
    ):
        if due <= 0:
            paid_by = details.get(f"{purpose}.payment_id")
            if paid_by is not None:  # already paid: asking again answers the payment that did it
                views.append(
                    await payments.get(session, organization_id=organization_id, payment_id=uuid.UUID(paid_by))
                )
            continue
        attempt = int(details.get(f"{purpose}.attempts", 0))
        previous = details.get(f"{purpose}.payment_id")
        if previous is not None:
            last = await payments.get(session, organization_id=organization_id, payment_id=uuid.UUID(previous))
            if last.status in ("created", "pending", "succeeded"):
                views.append(last)  # under way (or settling): never ask twice
                continue
            attempt += 1  # failed, expired or cancelled: a new attempt
        view = await payments.collect(
            session,
            organization_id=organization_id,
            amount=due,
            currency=booking.currency,
            counterparty=PhoneCounterparty(phone=phone),
            purpose=purpose,
            owner_id=str(booking.id),
            account_id=escrow.id,
            idempotency_key=f"{purpose}:{booking.id}:{attempt}",
            description=f"LokaHome {purpose.split('.')[1]} {booking.id}",
        )
        details[f"{purpose}.attempts"] = attempt
        details[f"{purpose}.payment_id"] = str(view.id)
        details[f"{purpose}.phone"] = view.phone
        views.append(view)
    if not views:
        raise WrongBookingState("paid", "payer", "pay")
    booking.payment_details = details
    booking.updated_at = utcnow()
    return views


async def record_settlement(session: AsyncSession, event: SettlementEvent) -> None:
    """A rent or deposit collection settled: record it on the booking (once per event)."""
    if event.owner_id is None or event.kind != "collection":
        return
    booking = await session.get(Booking, uuid.UUID(event.owner_id), with_for_update=True)
    if booking is None or booking.organization_id != event.organization_id:
        return
    if event.refund_id is not None or event.status != "succeeded":
        return
    details = dict(booking.payment_details or {})
    seen = set(details.get("settled_events", []))
    if str(event.id) in seen:
        return
    seen.add(str(event.id))
    details["settled_events"] = sorted(seen)
    await cover_provider_fees(session, booking)
    if event.purpose == RENT:
        booking.rent_paid += event.amount
    else:
        booking.deposit_paid += event.amount
        booking.deposit_state = "held"
    booking.payment_details = details
    booking.updated_at = utcnow()
    if booking.status not in HOLDING_STATUSES:
        # Paid after it lapsed, expired or was cancelled: the money goes back.
        await payments.refund(
            session,
            organization_id=booking.organization_id,
            payment_id=event.payment_id,
            amount=None,
            reason="booking no longer held",
            idempotency_key=f"rental-late:{event.payment_id}",
        )


async def cover_provider_fees(session: AsyncSession, booking: Booking) -> None:
    """The provider keeps its fee from what reaches the escrow; the marketplace bears it (see
    :func:`cover_payment_fee`), so the escrow holds what the tenant paid. A fee may be charged after the success is
    announced: every release calls this first."""
    details = booking.payment_details or {}
    for purpose in (RENT, DEPOSIT):
        payment_id = details.get(f"{purpose}.payment_id")
        if payment_id is not None:
            await cover_payment_fee(
                session,
                organization_id=booking.organization_id,
                currency=booking.currency,
                escrow_owner=booking.id,
                payment_id=uuid.UUID(payment_id),
                metadata={"booking_id": str(booking.id)},
            )


async def cover_payment_fee(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    currency: str,
    escrow_owner: uuid.UUID,
    payment_id: uuid.UUID,
    metadata: dict[str, str],
) -> None:
    """``platform_fees → escrow`` for the provider's fee on one collection (which may take platform_fees below
    zero: the operator's costs). One transfer per payment (its id derives from the payment's), so calling it again
    moves nothing twice."""
    view = await payments.get(session, organization_id=organization_id, payment_id=payment_id)
    if not view.fee:
        return
    fees = await fees_account(session, organization_id, currency)
    escrow = await escrow_of(session, organization_id, currency, escrow_owner)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer_id("provider-fee", view.id),
                debit_account_id=fees.id,
                credit_account_id=escrow.id,
                amount=view.fee,
                code="rental_provider_fee",
                metadata={**metadata, "payment_id": str(view.id)},
            )
        ],
    )


def commission_of(rent: int, commission_bps: int) -> int:
    return rent * commission_bps // 10_000


async def release_rent(session: AsyncSession, booking: Booking) -> None:
    """At check-in: the rent leaves escrow, the landlord's share and the platform's commission linked."""
    if booking.rent_released or booking.rent_paid <= 0:
        return
    await cover_provider_fees(session, booking)
    prop = await session.get(Property, booking.property_id)
    landlord = await landlord_account(session, booking.organization_id, booking.landlord_id, booking.currency)
    commission = await release_escrow(
        session,
        organization_id=booking.organization_id,
        currency=booking.currency,
        escrow_owner=booking.id,
        payee=landlord,
        amount=booking.rent_paid,
        commission_bps=prop.commission_bps if prop is not None else 1000,
        codes=("rental_rent", "rental_commission"),
        ids=("rent", "landlord"),
        metadata={"booking_id": str(booking.id)},
    )
    booking.rent_released = True
    details = dict(booking.payment_details or {})
    details["commission"] = commission
    booking.payment_details = details


async def release_escrow(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    currency: str,
    escrow_owner: uuid.UUID,
    payee: ledger.Account,
    amount: int,
    commission_bps: int,
    codes: tuple[str, str],
    ids: tuple[str, str],
    metadata: dict[str, str],
) -> int:
    """``amount`` leaves an escrow as two *linked* transfers, ``escrow → payee`` and ``escrow → platform_fees``
        (the commission): both or neither. Transfer ids derive from the escrow's owner and ``ids`` (what the money is,
    who is paid), so a retry moves nothing twice.
        Answers the commission. Used for landlords' rent and providers' jobs alike."""
    escrow = await escrow_of(session, organization_id, currency, escrow_owner)
    fees = await fees_account(session, organization_id, currency)
    commission = commission_of(amount, commission_bps)
    share = amount - commission
    specs = [
        ledger.TransferSpec(
            id=transfer_id(ids[0], escrow_owner, ids[1]),
            debit_account_id=escrow.id,
            credit_account_id=payee.id,
            amount=share,
            code=codes[0],
            linked=commission > 0,
            metadata=metadata,
        ),
    ]
    if commission > 0:
        specs.append(
            ledger.TransferSpec(
                id=transfer_id(ids[0], escrow_owner, "fees"),
                debit_account_id=escrow.id,
                credit_account_id=fees.id,
                amount=commission,
                code=codes[1],
                metadata=metadata,
            )
        )
    await ledger.create_transfers(session, specs)
    return commission


async def landlord_balance(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, currency: str
) -> tuple[ledger.Account, int]:
    landlord_id = require_landlord(principal)
    account = await landlord_account(session, organization_id, landlord_id, currency)
    balance = await ledger.balance(session, account.id)
    return account, balance.available


async def pay_out_landlord(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    currency: str,
    amount: int | None,
    phone: str | None,
    idempotency_key: str,
) -> PaymentView:
    """Pay the landlord what the marketplace owes them (all of it by default) to their mobile-money number."""
    account, available = await landlord_balance(
        session, organization_id=organization_id, principal=principal, currency=currency
    )
    return await pay_out_account(
        session,
        organization_id=organization_id,
        principal=principal,
        account=account,
        available=available,
        amount=amount,
        phone=phone,
        idempotency_key=idempotency_key,
    )


async def pay_out_account(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    account: ledger.Account,
    available: int,
    amount: int | None,
    phone: str | None,
    idempotency_key: str,
) -> PaymentView:
    """Pay a landlord or a provider from their account (all of it by default) to their mobile-money number."""
    currency = account.currency
    amount = available if amount is None else amount
    if amount <= 0 or amount > available:
        raise field_error(
            "amount",
            "insufficient_funds",
            f"Solde disponible : {available} {currency}.",
            f"Available balance: {available} {currency}.",
        )
    if phone is None:
        phone = (await current_user(session, principal)).phone
        if phone is None:
            raise field_error("phone", "missing", "Indiquez le numéro à créditer.", "Give the number to credit.")
    return await payments.payout(
        session,
        organization_id=organization_id,
        amount=amount,
        currency=currency,
        counterparty=PhoneCounterparty(phone=phone),
        purpose=PAYOUT,
        owner_id=str(person_of(principal)),
        account_id=account.id,
        idempotency_key=f"{PAYOUT}:{person_of(principal)}:{idempotency_key}",
    )


CANCELLATION_NOTICE: Final = timedelta(days=7)


async def check_in_and_release(
    session: AsyncSession, *, organization_id: uuid.UUID, booking_id: uuid.UUID, principal: Principal
) -> Booking:
    """The landlord records the arrival; the rent paid leaves escrow for them and the platform."""
    booking = await check_in(session, organization_id=organization_id, booking_id=booking_id, principal=principal)
    await release_rent(session, booking)
    return booking


def refundable_rent(booking: Booking, *, by_landlord: bool, now: datetime) -> int:
    """The listing's cancellation policy: all the rent back when the landlord cancels or the tenant cancels at
    least 7 days before arrival, half of it later."""
    if by_landlord or (booking.start_date - now.date()) >= CANCELLATION_NOTICE:
        return booking.rent_paid
    return booking.rent_paid // 2


async def cancel_and_refund(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    booking_id: uuid.UUID,
    principal: Principal,
    reason: str | None,
) -> Booking:
    booking = await cancel_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, reason=reason
    )
    now = utcnow()
    await cover_provider_fees(session, booking)
    by_landlord = principal.person_id == booking.landlord_id or is_admin(principal)
    details = dict(booking.payment_details or {})
    for purpose, amount in (
        (RENT, refundable_rent(booking, by_landlord=by_landlord, now=now)),
        (DEPOSIT, booking.deposit_paid),
    ):
        payment_id = details.get(f"{purpose}.payment_id")
        if amount <= 0 or payment_id is None:
            continue
        refund = await payments.refund(
            session,
            organization_id=organization_id,
            payment_id=uuid.UUID(payment_id),
            amount=amount,
            reason=f"booking cancelled: {(reason or '')[:200]}",
            idempotency_key=f"rental-cancel:{booking.id}:{purpose}",
        )
        details[f"{purpose}.refund_id"] = str(refund.id)
        details[f"{purpose}.refunded"] = amount
    kept = booking.rent_paid - int(details.get(f"{RENT}.refunded", 0))
    if kept > 0:  # the part of the rent the policy keeps goes to the landlord, commission taken
        booking.rent_paid = kept
        await release_rent(session, booking)
    if booking.deposit_paid:
        booking.deposit_state = "returned"
    booking.payment_details = details
    return booking
