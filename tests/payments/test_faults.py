"""Faults: provider timeouts, 5xx, 429, an unreachable provider, forged and replayed callbacks, and a crash
between the provider's success and our ledger posting. Nothing is credited twice; nothing is lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.jobs.models import Job
from cauri.kit.outcomes import Outcome
from cauri.kit.testing import free_port
from cauri.ledger import service as ledger
from cauri.payments.models import Payment, ProviderEvent
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
)
from tests.support.identity import Actor, create_org_with_user


async def use_credentials(
    client: httpx.AsyncClient, actor: Actor, sandbox: Sandbox, *, webhook_secret: str, base_url: str | None = None
) -> None:
    """The organisation's own sandbox credentials (a wrong webhook secret makes every real callback fail)."""
    response = await client.put(
        "/api/v1/connectors/credentials/sandbox",
        json={
            "credentials": {"api_key": sandbox.api_key, "webhook_secret": webhook_secret},
            "settings": {"base_url": base_url or sandbox.url},
        },
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text


async def test_a_timeout_after_the_provider_took_the_request_is_settled_by_the_poller_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    # Callbacks are lost for this organisation (they fail verification): only the poller can settle it.
    await use_credentials(client, owner, sandbox, webhook_secret="whsec_not_the_providers")
    created = await create(client, owner, "collection", outcome=Outcome.TIMEOUT_AFTER_ACCEPT, amount=6000)
    pending = await wait_status(client, owner, "collection", created["id"], {"pending", "succeeded"}, within=30)
    ref = pending["outbound_reference"]
    done = await wait_status(client, owner, "collection", created["id"], within=30)
    assert done["status"] == "succeeded"
    causes = [t["cause"] for t in done["transitions"]]
    assert causes == ["api", "submit", "poll"]
    assert done["transitions"][1]["provider_status"] == "unknown"  # the create call timed out: outcome unknown
    assert sandbox.simulator.attempts(ref) >= 2  # retried with the same idempotency key…
    assert sandbox.simulator.created(ref) == 1  # …so the provider created it once
    assert sandbox.simulator.collected(ref) == 6000
    await settled_postings(sessionmaker, done["id"], {"collection.credit": 6000, "collection.fee": 60})
    async with sessionmaker() as session:
        refused = await session.execute(select(func.count()).where(ProviderEvent.outbound_reference == ref))
        assert refused.scalar_one() == 0  # the forged-looking callbacks were never stored


async def test_provider_5xx_and_429_are_retried_with_the_same_reference(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    cases = {
        Outcome.UNAVAILABLE: 3,  # 503 twice, then served
        Outcome.ERROR_AFTER_PROCESSING: 2,  # 500 although it created the payment, then the replay answers
        Outcome.RATE_LIMITED: 2,  # 429 with Retry-After, then served
    }
    made = {outcome: await create(client, owner, "collection", outcome=outcome, amount=1000) for outcome in cases}
    for outcome, attempts in cases.items():
        done = await wait_status(client, owner, "collection", made[outcome]["id"], within=30)
        ref = done["outbound_reference"]
        assert done["status"] == "succeeded", outcome
        assert sandbox.simulator.attempts(ref) == attempts, outcome
        assert sandbox.simulator.created(ref) == 1, outcome
        assert sandbox.simulator.collected(ref) == 1000, outcome

        async def posted(payment_id: str = done["id"]) -> bool:
            # A fee the create call's late answer brings is charged after the success, in its own step.
            return await postings(sessionmaker, payment_id) == {"collection.credit": 1000, "collection.fee": 10}

        await eventually(posted, what=f"{outcome}'s postings")
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 3 * 990


async def test_an_unreachable_provider_keeps_the_payment_created_until_it_can_be_sent(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused, nothing sent
    await use_credentials(client, owner, sandbox, webhook_secret=sandbox.webhook_secret, base_url=nowhere)
    created = await create(client, owner, "collection", amount=1500)

    async def tried() -> bool:
        async with sessionmaker() as session:
            payment = await session.get(Payment, uuid.UUID(created["id"]))
            return payment is not None and payment.submit_attempts >= 1 and payment.status == "created"

    await eventually(tried, what="a first, failed, attempt")
    assert sandbox.simulator.attempts(created["outbound_reference"]) == 0
    # The connection is repaired: the queued retry sends it, under the same reference.
    await use_credentials(client, owner, sandbox, webhook_secret=sandbox.webhook_secret)
    done = await wait_status(client, owner, "collection", created["id"], within=30)
    assert done["status"] == "succeeded"
    assert sandbox.simulator.created(done["outbound_reference"]) == 1
    await settled_postings(sessionmaker, done["id"], {"collection.credit": 1500, "collection.fee": 15})


async def test_forged_and_replayed_callbacks_are_refused_with_401(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.PENDING_FOREVER)
    pending = await wait_status(client, owner, "collection", created["id"], {"pending"})
    ref = pending["outbound_reference"]
    url = callback_url(owner)

    forged = signed_callback(sandbox.simulator, "collection", ref, state="SUCCESSFUL", secret="whsec_attacker")
    old = signed_callback(
        sandbox.simulator,
        "collection",
        ref,
        state="SUCCESSFUL",
        secret=sandbox.webhook_secret,
        timestamp=int(time.time()) - 3600,
    )
    genuine_body, genuine_headers = signed_callback(
        sandbox.simulator, "collection", ref, state="SUCCESSFUL", secret=sandbox.webhook_secret
    )
    tampered = (genuine_body.replace(b'"amount": "5000"', b'"amount": "9000"'), genuine_headers)
    unsigned = (genuine_body, {"Content-Type": "application/json"})
    for body, headers in (forged, old, tampered, unsigned):
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    old_answer = await client.post(url, content=old[0], headers=old[1])
    assert old_answer.json()["code"] == "callback_timestamp_out_of_tolerance"

    async with sessionmaker() as session:
        stored = await session.execute(select(func.count()).where(ProviderEvent.outbound_reference == ref))
        assert stored.scalar_one() == 0
    assert (await get(client, owner, "collection", created["id"]))["status"] == "pending"
    assert await postings(sessionmaker, created["id"]) == {}

    # The genuine one is accepted; sent again (a provider retry) it is a no-op that still answers 2xx.
    for _ in range(2):
        assert (await client.post(url, content=genuine_body, headers=genuine_headers)).status_code == 200
    done = await wait_status(client, owner, "collection", created["id"])
    assert done["status"] == "succeeded"
    await settled_postings(sessionmaker, created["id"], {"collection.credit": 5000, "collection.fee": 50})

    unknown = await client.post("/api/v1/webhooks/nowhere-pay", content=genuine_body, headers=genuine_headers)
    assert unknown.status_code == 404


@asynccontextmanager
async def collections_crash(
    sessionmaker: async_sessionmaker[AsyncSession], wallet_id: uuid.UUID
) -> AsyncIterator[None]:
    """Every transaction that tries to credit a collection to this wallet dies, as if the process crashed there."""
    async with unit_of_work(sessionmaker) as session:
        dialect = session.get_bind().dialect.name
        name = f"cauri_test_crash_{wallet_id.hex[:12]}"
        if dialect == "sqlite":
            await session.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON ledger_transfers "
                    f"WHEN NEW.credit_account_id = '{wallet_id.hex}' AND NEW.code = 'collection' "
                    "BEGIN SELECT RAISE(ABORT, 'simulated crash before the ledger posting'); END"
                )
            )
        else:
            await session.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "RAISE EXCEPTION 'simulated crash before the ledger posting'; END $$"
                )
            )
            await session.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON ledger_transfers FOR EACH ROW "
                    f"WHEN (NEW.credit_account_id = '{wallet_id}'::uuid AND NEW.code = 'collection') "
                    f"EXECUTE FUNCTION {name}()"
                )
            )
    try:
        yield
    finally:
        async with unit_of_work(sessionmaker) as session:
            if dialect == "sqlite":
                await session.execute(text(f"DROP TRIGGER {name}"))
            else:
                await session.execute(text(f"DROP TRIGGER {name} ON ledger_transfers"))
                await session.execute(text(f"DROP FUNCTION {name}()"))


async def test_a_crash_between_the_providers_success_and_our_posting_is_repaired_once(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    async with unit_of_work(sessionmaker) as session:
        wallet_id = (await ledger.operating_account(session, owner.organization_id, "XAF")).id
    async with collections_crash(sessionmaker, wallet_id):
        created = await create(client, owner, "collection", outcome=Outcome.LATE_CALLBACK, amount=8000)
        ref = created["outbound_reference"]

        # The provider takes the money and tells us (callback, polls); every attempt to record it dies mid-way.
        async def provider_paid_and_we_crashed() -> bool:
            if sandbox.simulator.collected(ref) != 8000:
                return False
            async with sessionmaker() as session:
                event_ids = (
                    (await session.execute(select(ProviderEvent.id).where(ProviderEvent.outbound_reference == ref)))
                    .scalars()
                    .all()
                )
                failures = (
                    await session.execute(
                        select(Job.payload, Job.last_error).where(
                            Job.kind == "payments.process_callback", Job.last_error.is_not(None)
                        )
                    )
                ).all()
            crashed = [
                row
                for row in failures
                if row.payload.get("event_id") in {str(e) for e in event_ids}
                and "simulated crash" in (row.last_error or "")
            ]
            return len(event_ids) == 1 and bool(crashed)

        await eventually(provider_paid_and_we_crashed, within=30, what="the provider's success and a crash")
        still = await get(client, owner, "collection", created["id"])
        assert still["status"] == "pending"
        assert await postings(sessionmaker, created["id"]) == {}
    # The process is healthy again: the poller (or the retried callback job) repairs it, exactly once.
    done = await wait_status(client, owner, "collection", created["id"], within=30)
    assert done["status"] == "succeeded"
    assert sum(1 for t in done["transitions"] if t["to_status"] == "succeeded") == 1
    await settled_postings(sessionmaker, created["id"], {"collection.credit": 8000, "collection.fee": 80})
    assert (await wallet(sessionmaker, owner.organization_id)).posted == 7920
    assert sandbox.simulator.created(ref) == 1


async def test_a_late_callback_after_the_poller_settled_changes_nothing(
    client: httpx.AsyncClient, sandbox: Sandbox, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org_with_user(client)
    created = await create(client, owner, "collection", outcome=Outcome.LATE_CALLBACK, amount=4000)
    done = await wait_status(client, owner, "collection", created["id"], within=30)
    assert done["status"] == "succeeded"

    async def late_callback_processed() -> bool:
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(ProviderEvent.state).where(ProviderEvent.outbound_reference == done["outbound_reference"])
                )
            ).all()
            return len(rows) == 1 and rows[0].state == "processed"

    await eventually(late_callback_processed, within=30, what="the late callback")
    await settled_postings(sessionmaker, created["id"], {"collection.credit": 4000, "collection.fee": 40})
    assert sum(1 for t in (await get(client, owner, "collection", created["id"]))["transitions"]) == len(
        done["transitions"]
    )
