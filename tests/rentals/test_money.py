"""Rent and deposit through the payments API and the sandbox provider over loopback: collected into the booking's
escrow, the rent released at check-in as linked transfers (landlord + platform commission), the deposit's deduction
visible to both and disputable, the rest returned to the tenant, the landlord paid out; cancellation refunds."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.rentals.money import ESCROW, LANDLORD, PLATFORM_FEES
from tests.rentals.conftest import Market, Member, join, published
from tests.support.waiting import until

BOOKINGS = "/api/v1/rentals/bookings"
TENANT_PHONE = "+221770000100"  # the sandbox's magic ending: success after a short settle


async def _booking(
    client: httpx.AsyncClient, landlord: Member, tenant: Member, *, start: str, end: str, **listing: Any
) -> dict[str, Any]:
    prop = await published(client, landlord, **listing)
    created = await client.post(
        BOOKINGS, json={"property_id": prop["id"], "start_date": start, "end_date": end}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    accepted = await client.post(f"{BOOKINGS}/{created.json()['id']}/accept", headers=landlord.headers)
    assert accepted.status_code == 200
    body: dict[str, Any] = accepted.json()
    return body


async def _paid(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Member,
    bid: str,
    paid_ids: list[str],
) -> dict[str, Any]:
    async def settled() -> bool:
        body = (await client.get(f"{BOOKINGS}/{bid}", headers=tenant.headers)).json()
        return bool(body["rent_paid"] == body["total_amount"] and body["deposit_paid"] == body["deposit_amount"])

    await until(settled, "rent and deposit settled", within=30)

    async def fees_known() -> bool:  # the provider's fee may be charged just after the success
        details = (await client.get(f"{BOOKINGS}/{bid}", headers=tenant.headers)).json()
        async with sessionmaker() as session:
            views = [
                await payments.get(session, organization_id=tenant.organization_id, payment_id=uuid.UUID(p))
                for p in paid_ids
            ]
        return all(v.fee is not None for v in views) and bool(details)

    await until(fees_known, "the provider's fees charged", within=30)
    body: dict[str, Any] = (await client.get(f"{BOOKINGS}/{bid}", headers=tenant.headers)).json()
    return body


async def _balance(sessionmaker: async_sessionmaker[AsyncSession], org: uuid.UUID, code: str, owner: str | None) -> int:
    async with sessionmaker() as session:
        account = await ledger.get_or_create_account(
            session,
            organization_id=org,
            currency="XOF",
            code=code,
            owner_ref=owner,
            debits_must_not_exceed_credits=code != PLATFORM_FEES,
        )
        balance = await ledger.balance(session, account.id)
        await session.commit()
    return balance.posted


async def test_rent_and_deposit_through_escrow_to_the_landlord_and_back_to_the_tenant(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    booking = await _booking(
        client,
        landlord,
        tenant,
        start="2030-06-01",
        end="2030-06-04",
        price=20_000,
        deposit_amount=50_000,
        minimum_stay=None,
    )
    bid = booking["id"]
    org = market.organization_id

    # Only the tenant pays; a bad phone is a problem naming it.
    assert (
        await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": TENANT_PHONE}, headers=landlord.headers)
    ).status_code == 403
    bad = await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": "12345678"}, headers=tenant.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "phone", bad.text

    paying = await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": TENANT_PHONE}, headers=tenant.headers)
    assert paying.status_code == 200, paying.text
    assert sorted((p["purpose"], p["amount"]) for p in paying.json()) == [
        ("rental.deposit", 50_000),
        ("rental.rent", 60_000),
    ]
    again = await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": TENANT_PHONE}, headers=tenant.headers)
    assert {p["id"] for p in again.json()} == {p["id"] for p in paying.json()}  # never asked twice

    paid = await _paid(client, sessionmaker, tenant, bid, [p["id"] for p in paying.json()])
    assert paid["deposit_state"] == "held"
    assert await _balance(sessionmaker, org, ESCROW, bid) in (110_000 - 1_100, 110_000)  # less the fees, until covered

    # Check-in releases the rent: 90 % to the landlord, 10 % commission, linked.
    fees_before = await _balance(sessionmaker, org, PLATFORM_FEES, None)
    checked_in = await client.post(f"{BOOKINGS}/{bid}/check-in", headers=landlord.headers)
    assert checked_in.status_code == 200, checked_in.text
    assert await _balance(sessionmaker, org, ESCROW, bid) == 50_000
    assert await _balance(sessionmaker, org, LANDLORD, str(landlord.user_id)) == 54_000
    assert await _balance(sessionmaker, org, PLATFORM_FEES, None) - fees_before == 6_000

    # The deposit: a deduction needs a reason, both see it, the tenant disputes, the operator decides.
    assert (
        await client.post(
            f"{BOOKINGS}/{bid}/deposit", json={"deduction": 10_000, "reason": "Vitre cassée"}, headers=landlord.headers
        )
    ).status_code == 409  # not checked out yet
    await client.post(f"{BOOKINGS}/{bid}/check-out", headers=landlord.headers)
    no_reason = await client.post(f"{BOOKINGS}/{bid}/deposit", json={"deduction": 10_000}, headers=landlord.headers)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    too_much = await client.post(
        f"{BOOKINGS}/{bid}/deposit", json={"deduction": 60_000, "reason": "Tout"}, headers=landlord.headers
    )
    assert too_much.status_code == 422 and too_much.json()["field"] == "deduction"
    proposed = await client.post(
        f"{BOOKINGS}/{bid}/deposit", json={"deduction": 10_000, "reason": "Vitre cassée"}, headers=landlord.headers
    )
    assert proposed.status_code == 200 and proposed.json()["deposit_state"] == "proposed"
    seen = (await client.get(f"{BOOKINGS}/{bid}", headers=tenant.headers)).json()
    assert (seen["deposit_deduction"], seen["deposit_deduction_reason"]) == (10_000, "Vitre cassée")
    disputed = await client.post(
        f"{BOOKINGS}/{bid}/deposit/answer", json={"answer": "dispute", "reason": "Déjà fêlée"}, headers=tenant.headers
    )
    assert disputed.status_code == 200 and disputed.json()["deposit_state"] == "disputed"
    assert (
        await client.post(
            f"{BOOKINGS}/{bid}/deposit/resolve",
            json={"deduction": 5_000, "reason": "Partagé"},
            headers=landlord.headers,
        )
    ).status_code == 403
    resolved = await client.post(
        f"{BOOKINGS}/{bid}/deposit/resolve",
        json={"deduction": 5_000, "reason": "Partagé"},
        headers=market.owner.headers,
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["deposit_state"] == "released"
    assert await _balance(sessionmaker, org, LANDLORD, str(landlord.user_id)) == 59_000

    async def returned() -> bool:
        return await _balance(sessionmaker, org, ESCROW, bid) == 0

    await until(returned, "the deposit's rest paid back to the tenant", within=30)

    # The landlord is paid out what the marketplace owes them.
    balance = (await client.get("/api/v1/rentals/payouts/balance", headers=landlord.headers)).json()
    assert balance["available"] == 59_000
    too_big = await client.post(
        "/api/v1/rentals/payouts", json={"amount": 60_000, "phone": "+221770000100"}, headers=landlord.headers
    )
    assert too_big.status_code == 422 and too_big.json()["field"] == "amount"
    out = await client.post("/api/v1/rentals/payouts", json={"phone": "+221770000100"}, headers=landlord.headers)
    assert out.status_code == 201, out.text
    assert (out.json()["amount"], out.json()["purpose"]) == (59_000, "rental.payout")


async def test_cancelling_a_paid_booking_refunds_by_the_policy(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    booking = await _booking(
        client,
        landlord,
        tenant,
        start="2030-07-01",
        end="2030-07-03",
        price=30_000,
        deposit_amount=20_000,
        minimum_stay=None,
    )
    bid = booking["id"]
    paying = await client.post(f"{BOOKINGS}/{bid}/pay", json={"phone": TENANT_PHONE}, headers=tenant.headers)
    await _paid(client, sessionmaker, tenant, bid, [p["id"] for p in paying.json()])
    cancelled = await client.post(f"{BOOKINGS}/{bid}/cancel", json={"reason": "Empêchement"}, headers=tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["deposit_state"]) == ("cancelled", "returned")
    # More than 7 days ahead: everything back, nothing released to the landlord.
    assert await _balance(sessionmaker, market.organization_id, LANDLORD, str(landlord.user_id)) == 0
