"""Payouts end to end: the reservation at creation, the posting on success, the release on failure or expiry."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.kit.outcomes import Outcome
from cauri.payments.models import Payment
from tests.payments.conftest import Sandbox
from tests.payments.support import (
    create,
    expire_now,
    fund,
    phone,
    postings,
    reference,
    settled_postings,
    wait_status,
    wallet,
)
from tests.support.identity import create_org_with_user


async def test_a_payout_reserves_then_posts_once_with_its_fee(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 100_000)
    created = await create(client, owner, "payout", amount=20_000, payee_name="Awa Diop")
    assert created["status"] == "created"
    # Reserved at once, in the request's transaction: the money cannot be spent twice while the provider works.
    assert (await postings(sessionmaker, created["id"])) in (
        {"payout.reserve": 20_000},
        {
            "payout.reserve": 20_000,
            "payout.post": 20_000,
            "payout.fee": 200,
        },
    )

    done = await wait_status(client, owner, "payout", created["id"])
    assert done["status"] == "succeeded"
    assert done["fee"] == 200
    assert sandbox.simulator.paid_out(done["outbound_reference"]) == 20_000
    assert sandbox.simulator.created(done["outbound_reference"]) == 1
    await settled_postings(
        sessionmaker,
        done["id"],
        {
            "payout.reserve": 20_000,
            "payout.post": 20_000,
            "payout.fee": 200,
        },
    )
    balance = await wallet(sessionmaker, owner.organization_id)
    assert balance.posted == 100_000 - 20_000 - 200
    assert balance.available == balance.posted  # nothing held any more


async def test_a_failed_payout_releases_its_reservation(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 50_000)
    created = await create(client, owner, "payout", amount=30_000, outcome=Outcome.ACCOUNT_INACTIVE)
    held = await wallet(sessionmaker, owner.organization_id)
    assert held.posted == 50_000
    done = await wait_status(client, owner, "payout", created["id"])
    assert done["status"] == "failed"
    assert done["failure_reason"] == "account_inactive"
    assert sandbox.simulator.paid_out(done["outbound_reference"]) == 0
    assert await postings(sessionmaker, done["id"]) == {"payout.reserve": 30_000, "payout.void": 30_000}
    balance = await wallet(sessionmaker, owner.organization_id)
    assert balance.posted == balance.available == 50_000


async def test_insufficient_funds_is_refused_before_anything_is_written(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 1_000)
    ref = reference("NOFUNDS")
    attempts_before = sum(sandbox.simulator.create_attempts.values())
    response = await client.post(
        "/api/v1/payouts",
        json={"amount": 5_000, "currency": "XAF", "phone": phone(), "reference": ref},
        headers={**owner.headers, "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "account_id"
    assert problem["errors"][0]["code"] == "insufficient_funds"
    assert "Insufficient" in problem["detail"]
    async with sessionmaker() as session:
        rows = await session.execute(select(func.count()).where(Payment.reference == ref))
        assert rows.scalar_one() == 0
    balance = await wallet(sessionmaker, owner.organization_id)
    assert balance.posted == balance.available == 1_000
    assert sum(sandbox.simulator.create_attempts.values()) == attempts_before  # the provider was never called


async def test_a_payout_that_never_settles_expires_and_releases_its_reservation(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    await fund(sessionmaker, owner.organization_id, 10_000)
    created = await create(client, owner, "payout", amount=4_000, outcome=Outcome.PENDING_FOREVER)
    await wait_status(client, owner, "payout", created["id"], {"pending"})
    assert (await wallet(sessionmaker, owner.organization_id)).available == 6_000

    await expire_now(sessionmaker, created["id"])  # time passes: past its expiry; the expiry job runs
    done = await wait_status(client, owner, "payout", created["id"])
    assert done["status"] == "expired"
    assert done["failure_reason"] == "expired"
    assert done["transitions"][-1]["cause"] == "expiry"
    assert await postings(sessionmaker, done["id"]) == {"payout.reserve": 4_000, "payout.void": 4_000}
    balance = await wallet(sessionmaker, owner.organization_id)
    assert balance.posted == balance.available == 10_000


async def test_another_organisations_payment_is_not_found(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    stranger = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.PENDING_FOREVER)
    for path in (f"/api/v1/collections/{created['id']}", f"/api/v1/payouts/{created['id']}"):
        response = await client.get(path, headers=stranger.headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    refresh = await client.post(f"/api/v1/collections/{created['id']}/refresh", headers=stranger.headers)
    assert refresh.status_code == 404
    listed = await client.get(f"/api/v1/collections?reference={created['reference']}", headers=stranger.headers)
    assert listed.json()["items"] == []
    # The owner sees it; a collection is not a payout.
    assert (await client.get(f"/api/v1/collections/{created['id']}", headers=owner.headers)).status_code == 200
    assert (await client.get(f"/api/v1/payouts/{created['id']}", headers=owner.headers)).status_code == 404
    other = uuid.uuid4()
    assert (await client.get(f"/api/v1/collections/{other}", headers=owner.headers)).status_code == 404
