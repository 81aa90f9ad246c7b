"""Money: paying a booking, the deposit's deduction, and landlords' payouts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router, writes_on_read
from cauri.rentals import deposits, money
from cauri.rentals.routes.common import MemberMarketplace, booking_read, payment_read
from cauri.rentals.schemas import (
    BalanceRead,
    BookingPayment,
    BookingRead,
    DeductionAnswer,
    DepositDeduction,
    LandlordPayout,
    PaymentRead,
)

router: APIRouter = api_router()


@router.post("/bookings/{booking_id}/pay", summary="Pay the rent and deposit due by mobile money (tenant)")
async def pay(
    booking_id: uuid.UUID,
    body: BookingPayment,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> list[PaymentRead]:
    views = await money.pay_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, phone=body.phone
    )
    return [payment_read(v) for v in views]


@router.post("/bookings/{booking_id}/deposit", summary="State the deposit's deduction and its reason (landlord)")
async def deposit_deduction(
    booking_id: uuid.UUID,
    body: DepositDeduction,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> BookingRead:
    booking = await deposits.propose_deduction(
        session,
        organization_id=organization_id,
        booking_id=booking_id,
        principal=principal,
        deduction=body.deduction,
        reason=body.reason,
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/deposit/answer", summary="Accept or dispute the deduction (tenant)")
async def deposit_answer(
    booking_id: uuid.UUID,
    body: DeductionAnswer,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> BookingRead:
    booking = await deposits.answer_deduction(
        session,
        organization_id=organization_id,
        booking_id=booking_id,
        principal=principal,
        answer=body.answer,
        reason=body.reason,
    )
    return booking_read(booking)


@router.post("/bookings/{booking_id}/deposit/resolve", summary="Settle a disputed deduction (operator)")
async def deposit_resolve(
    booking_id: uuid.UUID,
    body: DepositDeduction,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
) -> BookingRead:
    booking = await deposits.resolve_dispute(
        session,
        organization_id=organization_id,
        booking_id=booking_id,
        principal=principal,
        deduction=body.deduction,
        reason=body.reason,
    )
    return booking_read(booking)


@router.get("/payouts/balance", summary="What the marketplace owes me (landlord)")
@writes_on_read  # the landlord's account is made on first use
async def payout_balance(
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "XOF",
) -> BalanceRead:
    account, available = await money.landlord_balance(
        session, organization_id=organization_id, principal=principal, currency=currency
    )
    return BalanceRead(account_id=account.id, currency=currency, available=available)


@router.post("/payouts", status_code=status.HTTP_201_CREATED, summary="Pay me out by mobile money (landlord)")
async def payout(
    body: LandlordPayout,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> PaymentRead:
    view = await money.pay_out_landlord(
        session,
        organization_id=organization_id,
        principal=principal,
        currency=body.currency,
        amount=body.amount,
        phone=body.phone,
        idempotency_key=idempotency_key or uuid.uuid4().hex,
    )
    return payment_read(view)
