"""Reconciliation: our records of a day against the provider's answers, mismatches listed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.kit.outcomes import Outcome
from cauri.payments.models import Payment
from tests.payments.support import create, eventually, wait_status
from tests.support.identity import create_org_with_user


async def test_mismatches_of_a_day_are_listed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    agreed = await create(client, owner, "collection", amount=1000)
    amount_changed = await create(client, owner, "collection", amount=2000)
    status_changed = await create(client, owner, "collection", amount=3000)
    refused = await create(client, owner, "collection", outcome=Outcome.NOT_FOUND)  # refused at once: not listed
    waiting = await create(client, owner, "collection", outcome=Outcome.PENDING_FOREVER)  # pending on both sides
    for made in (agreed, amount_changed, status_changed, refused):
        await wait_status(client, owner, "collection", made["id"])
    await wait_status(client, owner, "collection", waiting["id"], {"pending"})
    # Settled first: a final payment is never polled again, so no poll in flight can write its references back over
    # the edit below (a pending one raced it on PostgreSQL).
    lost = await create(client, owner, "collection", amount=1200)
    await wait_status(client, owner, "collection", lost["id"])
    # Partly given back since: a refund is an operation of its own, the collection itself still agrees.
    given_back = await create(client, owner, "collection", amount=1500)
    await wait_status(client, owner, "collection", given_back["id"])
    refund = await client.post(
        f"/api/v1/collections/{given_back['id']}/refunds",
        json={"amount": 500, "reason": "Geste"},
        headers=owner.headers,
    )
    assert refund.status_code == 202, refund.text
    await wait_status(client, owner, "collection", given_back["id"], {"partially_refunded"})

    # Our records drift from the provider's (a bad migration, a manual edit, a provider that lost a payment).
    async with unit_of_work(sessionmaker) as session:
        await session.execute(update(Payment).where(Payment.id == uuid.UUID(amount_changed["id"])).values(amount=2500))
        await session.execute(
            update(Payment).where(Payment.id == uuid.UUID(status_changed["id"])).values(status="failed")
        )
        await session.execute(
            update(Payment)
            .where(Payment.id == uuid.UUID(lost["id"]))
            # Booked under a reference the provider never saw.
            .values(outbound_reference=uuid.uuid4().hex, provider_reference=None)
        )

    today = utcnow().date().isoformat()
    missing_report = await client.get(f"/api/v1/reconciliation?date={today}&provider=sandbox", headers=owner.headers)
    assert missing_report.status_code == 404
    started = await client.post(
        "/api/v1/reconciliation", json={"date": today, "provider": "sandbox"}, headers=owner.headers
    )
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running"

    report: dict[str, object] = {}

    async def finished() -> bool:
        response = await client.get(f"/api/v1/reconciliation?date={today}&provider=sandbox", headers=owner.headers)
        report.update(response.json())
        return report["state"] != "running"

    await eventually(finished, what="the reconciliation run")
    assert report["state"] == "completed"
    assert report["checked"] == 7
    items = report["items"]
    assert isinstance(items, list)
    found = {(item["payment_id"], item["kind"]) for item in items}
    assert found == {
        (amount_changed["id"], "amount_differs"),
        (status_changed["id"], "status_differs"),
        (lost["id"], "missing"),
    }
    differs = next(item for item in items if item["kind"] == "amount_differs")
    assert (differs["our_amount"], differs["provider_amount"]) == (2500, 2000)
    status_item = next(item for item in items if item["kind"] == "status_differs")
    assert (status_item["our_status"], status_item["provider_status"]) == ("failed", "SUCCESSFUL")
    assert report["mismatches"] == 3

    stranger = await create_org_with_user(client)
    hidden = await client.get(f"/api/v1/reconciliation?date={today}&provider=sandbox", headers=stranger.headers)
    assert hidden.status_code == 404
    unknown = await client.post(
        "/api/v1/reconciliation", json={"date": today, "provider": "nope"}, headers=owner.headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "provider"


async def test_yesterday_is_reconciled_by_the_daily_job(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    made = await create(client, owner, "collection", amount=1500)
    await wait_status(client, owner, "collection", made["id"])
    yesterday = utcnow() - timedelta(days=1)
    async with unit_of_work(sessionmaker) as session:
        await session.execute(update(Payment).where(Payment.id == uuid.UUID(made["id"])).values(created_at=yesterday))
        await enqueue(session, "payments.reconcile_daily", {})
    url = f"/api/v1/reconciliation?date={yesterday.date().isoformat()}&provider=sandbox"
    report: dict[str, object] = {}

    async def reconciled() -> bool:
        response = await client.get(url, headers=owner.headers)
        if response.status_code != 200:
            return False
        report.update(response.json())
        return report["state"] == "completed"

    await eventually(reconciled, what="yesterday's reconciliation")
    assert (report["checked"], report["mismatches"], report["items"]) == (1, 0, [])
