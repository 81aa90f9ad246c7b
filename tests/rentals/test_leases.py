"""Long-term leases: monthly rent calls on the scheduler, the reminder, a partial payment through the sandbox, the
late fee, the balance carried into next month's call, the landlord paid less the commission, and the receipt
(quittance) as a PDF; who may see and do what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import commit
from cauri.rentals import receipts
from cauri.rentals.leases import run_schedule
from tests.rentals.conftest import Market, Member, join, published
from tests.support.waiting import until

RENTALS = "/api/v1/rentals"
TENANT_PHONE = "+221770000100"  # the sandbox's magic ending: success after a short settle


async def _schedule(sessionmaker: async_sessionmaker[AsyncSession], day: str) -> None:
    async with sessionmaker() as session:
        await run_schedule(session, now=datetime.fromisoformat(day).replace(hour=8, tzinfo=UTC))
        await commit(session)


async def _calls(client: httpx.AsyncClient, member: Member, lease_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"{RENTALS}/leases/{lease_id}/rent-calls", headers=member.headers)
    assert answer.status_code == 200, answer.text
    calls: list[dict[str, Any]] = answer.json()
    return calls


async def _pay(client: httpx.AsyncClient, tenant: Member, lease_id: str, amount: int | None, expect_paid: int) -> None:
    body: dict[str, Any] = {"phone": TENANT_PHONE} | ({"amount": amount} if amount is not None else {})
    paying = await client.post(f"{RENTALS}/leases/{lease_id}/pay", json=body, headers=tenant.headers)
    assert paying.status_code == 200, paying.text

    async def settled() -> bool:
        return (await _calls(client, tenant, lease_id))[0]["paid"] == expect_paid

    await until(settled, "the rent payment settled", within=30)


async def test_rent_calls_partial_payment_late_fee_carry_forward_and_receipt(
    client: httpx.AsyncClient, market: Market, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    landlord = await join(client, market, "landlord")
    tenant = await join(client, market, "tenant")
    stranger = await join(client, market, "tenant")
    villa = await published(client, landlord, rental_type="long_term", price=150_000, minimum_stay=None)
    body = {
        "property_id": villa["id"],
        "tenant_id": str(tenant.user_id),
        "monthly_rent": 150_000,
        "due_day": 5,
        "start_date": "2031-01-01",
        "late_fee_fixed": 5_000,
        "late_fee_bps": 0,
        "grace_days": 5,
    }
    # Bad input and roles: a tenant cannot lease, a lease must be of a tenant, due day 1–28, a long-term listing.
    assert (await client.post(f"{RENTALS}/leases", json=body, headers=tenant.headers)).status_code == 403
    not_tenant = await client.post(
        f"{RENTALS}/leases", json=body | {"tenant_id": str(landlord.user_id)}, headers=landlord.headers
    )
    assert not_tenant.status_code == 422 and not_tenant.json()["field"] == "tenant_id"
    bad_day = await client.post(f"{RENTALS}/leases", json=body | {"due_day": 31}, headers=landlord.headers)
    assert bad_day.status_code == 422 and "due_day" in bad_day.text
    nightly = await published(client, landlord, minimum_stay=None)
    short = await client.post(f"{RENTALS}/leases", json=body | {"property_id": nightly["id"]}, headers=landlord.headers)
    assert short.status_code == 409
    created = await client.post(f"{RENTALS}/leases", json=body, headers=landlord.headers)
    assert created.status_code == 201, created.text
    lease_id = created.json()["id"]
    assert (await client.get(f"{RENTALS}/leases/{lease_id}", headers=stranger.headers)).status_code == 404
    assert [item["id"] for item in (await client.get(f"{RENTALS}/leases", headers=tenant.headers)).json()["items"]] == [
        lease_id
    ]

    # 1 January: January's call; 2 January, three days before the due date: the reminder (once).
    await _schedule(sessionmaker, "2031-01-01")
    await _schedule(sessionmaker, "2031-01-01")  # twice: still one call
    (january,) = await _calls(client, tenant, lease_id)
    assert (january["period"], january["due_date"], january["amount_due"], january["status"]) == (
        "2031-01-01",
        "2031-01-05",
        150_000,
        "open",
    )
    assert january["reminded_at"] is None
    await _schedule(sessionmaker, "2031-01-02")
    assert (await _calls(client, tenant, lease_id))[0]["reminded_at"] is not None

    # A partial payment through the sandbox; asking for more than is owed is refused.
    too_much = await client.post(
        f"{RENTALS}/leases/{lease_id}/pay", json={"phone": TENANT_PHONE, "amount": 150_001}, headers=tenant.headers
    )
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount"
    assert (
        await client.post(f"{RENTALS}/leases/{lease_id}/pay", json={"phone": TENANT_PHONE}, headers=landlord.headers)
    ).status_code == 403
    await _pay(client, tenant, lease_id, 100_000, expect_paid=100_000)
    assert (await _calls(client, tenant, lease_id))[0]["status"] == "partial"

    # Past the grace period: the late fee, once.
    await _schedule(sessionmaker, "2031-01-10")
    assert (await _calls(client, tenant, lease_id))[0]["late_fee"] == 0  # the 10th is the last day of grace
    await _schedule(sessionmaker, "2031-01-11")
    await _schedule(sessionmaker, "2031-01-12")
    january = (await _calls(client, tenant, lease_id))[0]
    assert (january["late_fee"], january["balance"]) == (5_000, 55_000)

    # February: what January left is carried forward; January is closed as carried.
    await _schedule(sessionmaker, "2031-02-01")
    february, january = await _calls(client, tenant, lease_id)
    assert (january["status"], february["carried"], february["amount_due"]) == ("carried", 55_000, 205_000)
    receipt = await client.get(f"{RENTALS}/rent-calls/{january['id']}/receipt.pdf", headers=tenant.headers)
    assert receipt.status_code == 409 and receipt.json()["code"] == "rental_rent_not_paid"

    # Everything owed, paid: February's receipt, to both sides, not to a stranger.
    await _pay(client, tenant, lease_id, None, expect_paid=205_000)
    february = (await _calls(client, tenant, lease_id))[0]
    assert (february["status"], february["balance"]) == ("paid", 0)
    for member in (tenant, landlord):
        pdf = await client.get(f"{RENTALS}/rent-calls/{february['id']}/receipt.pdf", headers=member.headers)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
        assert b"QUITTANCE DE LOYER - F\xc9VRIER 2031" in pdf.content  # WinAnsi: É is 0xC9
        assert b"205 000 XOF" in pdf.content
    assert (
        await client.get(f"{RENTALS}/rent-calls/{february['id']}/receipt.pdf", headers=stranger.headers)
    ).status_code == 404

    # The landlord was paid as the rent came in, less the 10 % commission.
    balance = await client.get(f"{RENTALS}/payouts/balance", headers=landlord.headers)
    assert balance.json()["available"] == (100_000 + 205_000) * 9 // 10


def test_the_receipt_pdf_is_well_formed() -> None:
    day = datetime(2031, 3, 31, tzinfo=UTC).date()
    pdf = receipts.render_pdf(
        receipts.Receipt(
            number="203103-ABCD",
            landlord="Awa (Diop) \\ SCI",
            tenant="Koffi",
            address="Rue 12, Cocody",
            period_start=day.replace(day=1),
            period_end=day,
            rent=150_000,
            late_fee=0,
            carried=-5_000,
            paid=145_000,
            currency="XOF",
            paid_on=day,
            issued_on=day,
        )
    )
    # The cross-reference table points at each object.
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[start:].startswith(b"xref\n0 7\n")
    offsets = [int(line[:10]) for line in pdf[start:].split(b"\n")[3:9]]
    assert [pdf[o : o + 7] for o in offsets] == [b"%d 0 obj" % n for n in range(1, 7)]
    assert b"Awa \\(Diop\\) \\\\ SCI" in pdf  # parentheses and backslashes escaped
