"""Collections end to end: our API, the sandbox simulator over loopback HTTP, its signed callbacks, the ledger."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.identity.audit import AuditEvent
from cauri.kit.outcomes import Outcome
from cauri.payments.models import ProviderEvent
from tests.payments.conftest import Sandbox
from tests.payments.support import (
    callback_url,
    create,
    eventually,
    get,
    postings,
    settled_postings,
    signed_callback,
    wait_status,
    wallet,
    wallet_transfer_count,
)
from tests.support.identity import create_org_with_user


async def test_a_collection_is_credited_once_with_its_fee(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(
        client, owner, "collection", amount=5000, phone="6 70 00 01 00", description="Facture 42", provider=None
    )
    assert created["status"] == "created"
    assert created["object"] == "collection"
    assert created["phone"] == "+237670000100"
    assert created["provider"] == "sandbox"
    assert created["fee"] is None

    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] == "succeeded"
    assert done["fee"] == 50  # the sandbox's 1 %
    assert done["provider_reference"].startswith("sbx_col_")
    steps = [(t["from_status"], t["to_status"]) for t in done["transitions"]]
    assert steps[0] == (None, "created")
    assert steps[-1][1] == "succeeded"
    assert {t["cause"] for t in done["transitions"][1:]} <= {"submit", "callback", "poll"}

    # What the provider actually moved, and what our books say: once.
    assert sandbox.simulator.collected(done["outbound_reference"]) == 5000
    assert sandbox.simulator.created(done["outbound_reference"]) == 1
    await settled_postings(sessionmaker, done["id"], {"collection.credit": 5000, "collection.fee": 50})
    balance = await wallet(sessionmaker, owner.organization_id)
    assert balance.posted == 4950
    assert await wallet_transfer_count(sessionmaker, owner.organization_id) == 2

    async with sessionmaker() as session:
        audited = await session.execute(
            select(func.count()).where(
                AuditEvent.action == "payments.collection.create", AuditEvent.target_id == done["id"]
            )
        )
        assert audited.scalar_one() == 1


async def test_a_refused_collection_moves_no_money(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client, org_name=f"Tontine {uuid.uuid4().hex[:6]}")
    rejected = await create(client, owner, "collection", outcome=Outcome.REJECTED_BY_PAYER)
    unknown = await create(client, owner, "collection", outcome=Outcome.NOT_FOUND)
    rejected_done = await wait_status(client, owner, "collection", rejected["id"])
    unknown_done = await wait_status(client, owner, "collection", unknown["id"])

    assert rejected_done["status"] == "failed"
    assert rejected_done["failure_reason"] == "rejected_by_payer"
    assert rejected_done["failure_message"] == "Le payeur a refusé le paiement."
    assert unknown_done["status"] == "failed"  # refused at the create call (422 from the provider)
    assert unknown_done["failure_reason"] == "payer_not_found"
    assert [t["cause"] for t in unknown_done["transitions"]] == ["api", "submit"]
    for payment in (rejected_done, unknown_done):
        assert await postings(sessionmaker, payment["id"]) == {}
        assert sandbox.simulator.collected(payment["outbound_reference"]) == 0
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 0

    english = await client.get(
        f"/api/v1/collections/{rejected['id']}", headers={**owner.headers, "Accept-Language": "en"}
    )
    assert english.json()["failure_message"] == "The payer rejected the payment."


async def test_duplicated_callbacks_are_stored_once_and_credit_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.DUPLICATED_CALLBACK, amount=7000)
    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] == "succeeded"

    async def both_deliveries_arrived() -> bool:
        return sum(1 for url, _ in sandbox.simulator.callbacks.delivered if str(owner.organization_id) in url) >= 2

    await eventually(both_deliveries_arrived, what="the duplicated callback")
    async with sessionmaker() as session:
        stored = await session.execute(
            select(func.count()).where(ProviderEvent.outbound_reference == done["outbound_reference"])
        )
        assert stored.scalar_one() == 1
    await settled_postings(sessionmaker, done["id"], {"collection.credit": 7000, "collection.fee": 70})
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 6930


async def test_callbacks_in_any_order_and_number_post_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A payment the provider keeps pending; we deliver success, failure, pending, and repeats, all at once."""
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.PENDING_FOREVER, amount=3000)
    pending = await wait_status(client, owner, "collection", created["id"], {"pending"})
    ref = pending["outbound_reference"]
    secret = sandbox.webhook_secret
    success_event = f"evt_ok_{uuid.uuid4().hex[:8]}"
    deliveries = [
        signed_callback(sandbox.simulator, "collection", ref, state="PENDING", secret=secret),
        signed_callback(
            sandbox.simulator, "collection", ref, state="SUCCESSFUL", secret=secret, event_id=success_event
        ),
        signed_callback(
            sandbox.simulator, "collection", ref, state="FAILED", secret=secret, failure_code="BALANCE_TOO_LOW"
        ),
    ]
    # The success also arrives three more times (a provider retrying), mixed with the others.
    deliveries += [
        signed_callback(sandbox.simulator, "collection", ref, state="SUCCESSFUL", secret=secret, event_id=success_event)
        for _ in range(3)
    ]
    answers = await asyncio.gather(
        *(client.post(callback_url(owner), content=body, headers=headers) for body, headers in deliveries)
    )
    assert [a.status_code for a in answers] == [200] * len(deliveries)

    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] in ("succeeded", "failed")  # whichever final word was processed first wins
    # The fee was known from the create call's answer: charged with the success.
    expected = {"collection.credit": 3000, "collection.fee": 30} if done["status"] == "succeeded" else {}

    # Let every queued event be processed, then check nothing else moved.
    async def all_processed() -> bool:
        async with sessionmaker() as session:
            waiting = await session.execute(
                select(func.count()).where(ProviderEvent.outbound_reference == ref, ProviderEvent.state == "received")
            )
            return waiting.scalar_one() == 0

    await eventually(all_processed, what="every callback processed")
    assert await postings(sessionmaker, created["id"]) == expected
    final = await get(client, owner, "collection", created["id"])
    assert final["status"] == done["status"]
    assert sum(1 for t in final["transitions"] if t["to_status"] in ("succeeded", "failed")) == 1
    async with sessionmaker() as session:
        stored = await session.execute(select(func.count()).where(ProviderEvent.outbound_reference == ref))
        assert stored.scalar_one() == 3  # pending, success (stored once for four deliveries), failure


async def test_a_callback_arriving_before_the_create_call_returned_settles_the_payment(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The provider accepts, settles and calls back while our create call is still waiting for its answer."""
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.TIMEOUT_AFTER_ACCEPT, amount=2500)
    done = await wait_status(client, owner, "collection", created["id"], within=30)
    assert done["status"] == "succeeded"
    causes = [t["cause"] for t in done["transitions"]]
    assert causes[:2] == ["api", "callback"]  # settled by the callback while the create call hung
    assert sandbox.simulator.created(done["outbound_reference"]) == 1
    assert sandbox.simulator.collected(done["outbound_reference"]) == 2500
    # The create call then timed out (retried with the same key); the fee it never reported is absent, not doubled.
    await asyncio.sleep(4)
    assert (await postings(sessionmaker, done["id"]))["collection.credit"] == 2500
    assert await wallet_transfer_count(sessionmaker, owner.organization_id) in (1, 2)


async def test_list_filters_and_pagination(client: httpx.AsyncClient) -> None:
    owner = await create_org_with_user(client)
    made = [await create(client, owner, "collection", outcome=Outcome.PENDING_FOREVER) for _ in range(3)]
    first = await client.get("/api/v1/collections?limit=2", headers=owner.headers)
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["items"]] == [made[2]["id"], made[1]["id"]]
    second = await client.get(f"/api/v1/collections?limit=2&cursor={page['next_cursor']}", headers=owner.headers)
    assert [item["id"] for item in second.json()["items"]] == [made[0]["id"]]
    assert second.json()["next_cursor"] is None

    by_reference = await client.get(f"/api/v1/collections?reference={made[1]['reference']}", headers=owner.headers)
    assert [item["id"] for item in by_reference.json()["items"]] == [made[1]["id"]]
    none_failed = await client.get("/api/v1/collections?status=failed", headers=owner.headers)
    assert none_failed.json()["items"] == []
    future = await client.get("/api/v1/collections?created_from=2999-01-01T00:00:00Z", headers=owner.headers)
    assert future.json()["items"] == []
    assert (await client.get("/api/v1/payouts", headers=owner.headers)).json()["items"] == []


async def test_idempotency_key_returns_the_same_collection(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    body = {"amount": 1200, "currency": "XAF", "phone": "+237670000100", "reference": f"IDEM-{uuid.uuid4().hex[:8]}"}
    headers = {**owner.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/collections", json=body, headers=headers)
    again = await client.post("/api/v1/collections", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    done = await wait_status(client, owner, "collection", first.json()["id"])
    assert sandbox.simulator.created(done["outbound_reference"]) == 1
    listed = await client.get(f"/api/v1/collections?reference={body['reference']}", headers=owner.headers)
    assert len(listed.json()["items"]) == 1

    reused = await client.post("/api/v1/collections", json={**body, "amount": 1300}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["field"] == "Idempotency-Key"
