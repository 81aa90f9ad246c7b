"""A success the provider reports after our expiry: booked when its money still can be, else listed for a person."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.kit.outcomes import Outcome
from cauri.ledger import service as ledger
from cauri.payments.models import SettlementEventRecord
from tests.payments.conftest import Sandbox
from tests.payments.support import (
    callback_url,
    create,
    eventually,
    expire_now,
    fund,
    get,
    postings,
    signed_callback,
    wait_status,
    wallet,
)
from tests.support.identity import Actor, create_org_with_user


async def expired(
    client: httpx.AsyncClient, owner: Actor, sessionmaker: async_sessionmaker[AsyncSession], kind: str, amount: int
) -> dict[str, Any]:
    """A payment the provider keeps pending until our expiry ends it."""
    created = await create(client, owner, kind, amount=amount, outcome=Outcome.PENDING_FOREVER)
    await wait_status(client, owner, kind, created["id"], {"pending"})
    await expire_now(sessionmaker, created["id"])
    done = await wait_status(client, owner, kind, created["id"])
    assert done["status"] == "expired"
    return done


async def deliver_success(client: httpx.AsyncClient, sandbox: Sandbox, owner: Actor, kind: str, ref: str) -> None:
    body, headers = signed_callback(sandbox.simulator, kind, ref, state="SUCCESSFUL", secret=sandbox.webhook_secret)
    answer = await client.post(callback_url(owner), content=body, headers=headers)
    assert answer.is_success, answer.text


async def attention(client: httpx.AsyncClient, owner: Actor, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/payments/attention?include_resolved={str(include_resolved).lower()}", headers=owner.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_collection_paid_after_our_expiry_is_credited_late_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    done = await expired(client, owner, sessionmaker, "collection", 3000)
    assert await postings(sessionmaker, str(done["id"])) == {}

    for _ in range(2):  # the provider's success, then the same success again
        await deliver_success(client, sandbox, owner, "collection", str(done["outbound_reference"]))
    late = await wait_status(client, owner, "collection", str(done["id"]), {"succeeded"})
    assert late["failure_reason"] is None
    last = late["transitions"][-1]
    assert (last["from_status"], last["to_status"], last["cause"]) == ("expired", "succeeded", "callback")
    assert await postings(sessionmaker, str(done["id"])) == {"collection.credit": 3000, "collection.fee": 30}
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 2970
    assert await attention(client, owner) == []
    # Modules hear of it as a new event, after the expiry's: succeeded, previously expired (once, despite two calls).
    async with sessionmaker() as session:
        rows = await session.execute(
            select(SettlementEventRecord.previous_status, SettlementEventRecord.status)
            .where(SettlementEventRecord.payment_id == uuid.UUID(str(done["id"])))
            .order_by(SettlementEventRecord.occurred_at)
        )
        assert [tuple(row) for row in rows] == [("pending", "expired"), ("expired", "succeeded")]


async def test_a_late_payout_success_whose_money_is_gone_is_listed_for_a_person(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    assert owner.organization_id is not None
    await fund(sessionmaker, owner.organization_id, 4000)
    done = await expired(client, owner, sessionmaker, "payout", 4000)
    assert await postings(sessionmaker, str(done["id"])) == {"payout.reserve": 4000, "payout.void": 4000}
    # The released money is spent meanwhile (sent back to the bank).
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.operating_account(session, owner.organization_id, "XAF")
        bank = await ledger.bank_deposits_account(session, owner.organization_id, "XAF")
        spec = ledger.TransferSpec(
            id=uuid.uuid4(), debit_account_id=account.id, credit_account_id=bank.id, amount=4000, code="withdrawal"
        )
        await ledger.create_transfers(session, [spec])

    for _ in range(2):
        await deliver_success(client, sandbox, owner, "payout", str(done["outbound_reference"]))

    listed: list[dict[str, Any]] = []

    async def is_listed() -> bool:
        listed[:] = await attention(client, owner)
        return bool(listed)

    await eventually(is_listed, what="the late success to be listed for a person")
    [item] = listed
    assert (item["payment_id"], item["kind"], item["reason"]) == (
        done["id"],
        "late_success_not_applied",
        "insufficient_funds",
    )
    assert (item["amount"], item["currency"]) == (4000, "XAF")
    # Nothing half-written: the payout stays expired, no late posting, the wallet untouched.
    assert (await get(client, owner, "payout", str(done["id"])))["status"] == "expired"
    assert "payout.late" not in await postings(sessionmaker, str(done["id"]))
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 0

    stranger = await create_org_with_user(client)
    assert await attention(client, stranger) == []
    forbidden = await client.post(f"/api/v1/payments/attention/{item['id']}/resolve", headers=stranger.headers)
    assert forbidden.status_code == 404
    resolved = await client.post(f"/api/v1/payments/attention/{item['id']}/resolve", headers=owner.headers)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_at"] is not None
    assert await attention(client, owner) == []
    assert [i["id"] for i in await attention(client, owner, include_resolved=True)] == [item["id"]]
