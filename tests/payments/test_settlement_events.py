"""Settlement events: a module's subscribers receive each settled payment exactly once, on SQLite and PostgreSQL,
including when a real worker is killed with SIGKILL in the middle of a delivery."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.jobs import Job, JobStatus
from cauri.core.jobs.runtime import JobRuntime
from cauri.identity.models import Organization
from cauri.kit.outcomes import Outcome
from cauri.payments import events
from cauri.payments import public as payments
from cauri.payments.models import Payment, SettlementDelivery, SettlementEventRecord
from cauri.payments.settlement import Outcome as Learnt
from cauri.payments.settlement import apply_outcome, lock_payment
from cauri.payments.states import Cause, Status
from tests.conftest import make_settings
from tests.jobs.brokers import isolated_broker
from tests.jobs.support import fresh_database
from tests.jobs.test_brokers import Processes
from tests.payments import fake_module
from tests.payments.support import create, eventually, fund, wait_status
from tests.payments.test_public_api import arguments
from tests.support.identity import create_org_with_user

BOOKKEEPER = events.subscriber_name(fake_module.bookkeeper)
FLAKY = events.subscriber_name(fake_module.flaky)
AUDITOR = events.subscriber_name(fake_module.auditor)
CRASH = events.subscriber_name(fake_module.crash)


async def events_of(
    sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID
) -> list[SettlementEventRecord]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(SettlementEventRecord)
            .where(SettlementEventRecord.payment_id == payment_id)
            .order_by(SettlementEventRecord.occurred_at)
        )
        return list(rows.scalars().all())


async def delivery_job(sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, name: str) -> Job | None:
    async with sessionmaker() as session:
        key = events.delivery_dedupe_key(event_id, name)
        found: Job | None = await session.scalar(select(Job).where(Job.dedupe_key == key))
        return found


async def wait_delivered(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, name: str, *, within: float = 30.0
) -> Job:
    delivered: list[Job] = []

    async def done() -> bool:
        job = await delivery_job(sessionmaker, event_id, name)
        if job is not None and job.status == JobStatus.DONE:
            delivered.append(job)
        return bool(delivered)

    await eventually(done, within=within, what=f"{name} to receive {event_id}")
    return delivered[0]


async def test_each_settlement_reaches_each_of_its_subscribers_exactly_once(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await create_org_with_user(client)
    assert actor.organization_id is not None
    await fund(sessionmaker, actor.organization_id, 50_000)
    async with unit_of_work(sessionmaker) as session:
        collected = await payments.collect(session, **arguments(app, actor, "contribution-1"))
        refused = await payments.payout(
            session,
            **arguments(app, actor, "share-1", outcome=Outcome.NOT_FOUND, purpose=fake_module.PAYOUT_PURPOSE),
        )
    done = await wait_status(client, actor, "collection", str(collected.id))
    failed = await wait_status(client, actor, "payout", str(refused.id))
    assert (done["status"], failed["status"]) == ("succeeded", "failed")

    [success] = await events_of(sessionmaker, collected.id)
    for name in (BOOKKEEPER, FLAKY, AUDITOR):
        await wait_delivered(sessionmaker, success.id, name)
    [receipt] = await fake_module.received(sessionmaker, collected.id, "bookkeeper")
    assert receipt["event_id"] == str(success.id)
    assert (receipt["status"], receipt["previous_status"]) == ("succeeded", "pending")
    assert (receipt["owner_id"], receipt["amount"], receipt["fee"], receipt["refund_amount"]) == (
        "contribution-1",
        5000,
        done["fee"],
        None,
    )
    assert len(await fake_module.received(sessionmaker, collected.id, "flaky")) == 1
    assert len(await fake_module.received(sessionmaker, collected.id, "auditor")) == 1

    [failure] = await events_of(sessionmaker, refused.id)
    assert (failure.status, failure.purpose, failure.fee) == ("failed", fake_module.PAYOUT_PURPOSE, None)
    await wait_delivered(sessionmaker, failure.id, BOOKKEEPER)
    await wait_delivered(sessionmaker, failure.id, AUDITOR)
    assert [r["status"] for r in await fake_module.received(sessionmaker, refused.id, "bookkeeper")] == ["failed"]
    async with sessionmaker() as session:
        # flaky subscribes to contributions only: no delivery was even planned for the payout.
        assert await events.delivered_to(session, failure.id) == sorted([AUDITOR, BOOKKEEPER])

    # A doorbell rung twice (a lost acknowledgement, a sweeper) dispatches and delivers nothing new.
    async with unit_of_work(sessionmaker) as session:
        assert await events.dispatch(session, success.id, purpose=success.purpose) == 3
        assert await events.deliver(session, success.id, BOOKKEEPER) is False
    assert len(await fake_module.received(sessionmaker, collected.id, "bookkeeper")) == 1


async def test_a_failing_subscriber_is_retried_and_does_not_hold_up_the_others(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await create_org_with_user(client)
    owner = f"contribution-{uuid.uuid4().hex[:8]}"
    fake_module.fail_first(owner, 2)
    async with unit_of_work(sessionmaker) as session:
        collected = await payments.collect(session, **arguments(app, actor, owner))
    await wait_status(client, actor, "collection", str(collected.id))
    [event] = await events_of(sessionmaker, collected.id)
    await wait_delivered(sessionmaker, event.id, BOOKKEEPER)
    flaky_job = await wait_delivered(sessionmaker, event.id, FLAKY, within=60)
    # Two failed attempts, each rolled back with the receipt it wrote; the third one delivered, once.
    assert flaky_job.attempts == 3
    assert len(await fake_module.received(sessionmaker, collected.id, "flaky")) == 1
    assert len(await fake_module.received(sessionmaker, collected.id, "bookkeeper")) == 1


async def test_an_event_exists_exactly_when_its_change_was_committed(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await create_org_with_user(client)
    assert actor.organization_id is not None
    abandoned: list[uuid.UUID] = []
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessionmaker) as session:
            payment = await payments.collect(session, **arguments(app, actor, "contribution-x"))
            await payments.cancel(session, organization_id=actor.organization_id, payment_id=payment.id)
            abandoned.append(payment.id)
            raise RuntimeError("the process dies before its commit")
    assert await events_of(sessionmaker, abandoned[0]) == []

    async with unit_of_work(sessionmaker) as session:
        payment = await payments.collect(session, **arguments(app, actor, "contribution-y"))
        await payments.cancel(session, organization_id=actor.organization_id, payment_id=payment.id)
    [cancelled] = await events_of(sessionmaker, payment.id)
    assert (cancelled.status, cancelled.previous_status) == ("cancelled", "created")
    await wait_delivered(sessionmaker, cancelled.id, BOOKKEEPER)

    # Later reports about a final payment change nothing, so they announce nothing either.
    async with unit_of_work(sessionmaker) as session:
        locked = await lock_payment(session, payment.id)
        assert locked is not None
        changed = await apply_outcome(
            session, locked, Learnt(Status.SUCCEEDED), cause=Cause.CALLBACK, settings=app.state.settings
        )
    assert changed is False
    assert len(await events_of(sessionmaker, payment.id)) == 1


async def test_each_refund_is_an_event_of_its_own(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await create_org_with_user(client)
    async with unit_of_work(sessionmaker) as session:
        collected = await payments.collect(session, **arguments(app, actor, "contribution-r"))
    await wait_status(client, actor, "collection", str(collected.id))
    refunds = {uuid.uuid4(): 1000, uuid.uuid4(): 1500}
    async with unit_of_work(sessionmaker) as session:
        payment = await session.get(Payment, collected.id)
        assert payment is not None
        for refund_id, amount in refunds.items():
            await events.record_settlement_event(
                session,
                payment=payment,
                previous_status=Status.SUCCEEDED,
                status=Status.SUCCEEDED,
                refund_id=refund_id,
                refund_amount=amount,
            )
    recorded = [e for e in await events_of(sessionmaker, collected.id) if e.refund_id is not None]
    assert {e.refund_id: e.refund_amount for e in recorded} == refunds
    for event in recorded:
        await wait_delivered(sessionmaker, event.id, BOOKKEEPER)
    receipts = await fake_module.received(sessionmaker, collected.id, "bookkeeper")
    assert sorted(r["refund_amount"] for r in receipts if r["refund_amount"] is not None) == [1000, 1500]


async def test_http_clients_cannot_set_a_purpose_and_their_payments_reach_every_purpose_subscribers_only(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    actor = await create_org_with_user(client)
    forged = await client.post(
        "/api/v1/collections",
        json={
            "amount": 5000,
            "currency": "XAF",
            "phone": "+237670000100",
            "reference": "F-1",
            "purpose": fake_module.PURPOSE,
            "owner_id": "contribution-1",
        },
        headers=actor.headers,
    )
    assert forged.status_code == 422
    assert {e["field"] for e in forged.json()["errors"]} == {"purpose", "owner_id"}

    created = await create(client, actor, "collection")
    done = await wait_status(client, actor, "collection", created["id"])
    assert (done["purpose"], done["owner_id"]) == (None, None)
    [event] = await events_of(sessionmaker, uuid.UUID(created["id"]))
    await wait_delivered(sessionmaker, event.id, AUDITOR)
    async with sessionmaker() as session:
        assert await events.delivered_to(session, event.id) == [AUDITOR]
        planned = await session.scalar(
            select(func.count()).select_from(Job).where(Job.dedupe_key.like(f"settlement:{event.id}:%"))
        )
    assert planned == 1


# -- a real worker killed with SIGKILL in the middle of a delivery ------------------------------------------------


async def settle_in_this_process(
    sessionmaker: async_sessionmaker[AsyncSession], settings: object, organization_id: uuid.UUID
) -> uuid.UUID:
    """A module's collection settled here (the provider's answer applied as the poller would): event written."""
    async with unit_of_work(sessionmaker) as session:
        pot_id = await fake_module.pot(session, organization_id, "crash-pot")
        view = await payments.collect(
            session,
            organization_id=organization_id,
            amount=5000,
            currency="XAF",
            counterparty=payments.PhoneCounterparty("+237670000100"),
            purpose=fake_module.CRASH_PURPOSE,
            owner_id="crash-1",
            idempotency_key="crash-1",
            account_id=pot_id,
            provider="sandbox",
            settings=settings,  # type: ignore[typeddict-item]
        )
        payment = await lock_payment(session, view.id)
        assert payment is not None
        await apply_outcome(
            session,
            payment,
            Learnt(Status.SUCCEEDED, fee=50),
            cause=Cause.POLL,
            settings=settings,  # type: ignore[arg-type]
        )
    return view.id


async def new_organization(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with unit_of_work(sessionmaker) as session:
        organization = Organization(name="Tontine Kobiri", slug=f"kobiri-{uuid.uuid4().hex[:8]}", default_region="CM")
        session.add(organization)
        await session.flush()
        return organization.id


async def count_rows(sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, name: str) -> tuple[int, int]:
    """(receipts the crash subscriber committed, delivery marks) for the event."""
    async with sessionmaker() as session:
        receipts = await session.scalar(
            select(func.count())
            .select_from(fake_module.receipts)
            .where(fake_module.receipts.c.event_id == str(event_id), fake_module.receipts.c.subscriber == "crash")
        )
        marks = await session.scalar(
            select(func.count())
            .select_from(SettlementDelivery)
            .where(SettlementDelivery.event_id == event_id, SettlementDelivery.subscriber == name)
        )
        return int(receipts or 0), int(marks or 0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_worker_killed_while_delivering_loses_and_repeats_no_event(backend: str, tmp_path: Path) -> None:
    slow_dir = tmp_path / "delivering"
    slow_dir.mkdir()
    async with isolated_broker("redis") as broker, fresh_database(backend, tmp_path) as database:
        await fake_module.create_tables(database)
        settings = make_settings(
            database,
            tmp_path,
            broker_url=broker.url,
            broker_queue=broker.queue,
            job_lease_seconds=5,
            job_sweep_seconds=1,
            extra_job_modules=["tests.payments.fake_module"],
        )
        engine = make_engine(database)
        sessionmaker = make_sessionmaker(engine)
        doorbells = JobRuntime(settings, sessionmaker)  # this test process only rings
        processes = Processes(settings, tmp_path)
        processes.environment[fake_module.SLOW_DIR_VARIABLE] = str(slow_dir)
        started = time.monotonic()
        try:
            await doorbells.start()
            first_worker = await processes.start("worker", "--concurrency", "2")
            organization_id = await new_organization(sessionmaker)
            payment_id = await settle_in_this_process(sessionmaker, settings, organization_id)
            [event] = await events_of(sessionmaker, payment_id)
            marker = slow_dir / str(event.id)

            async def delivering() -> bool:
                return marker.exists()

            await eventually(delivering, within=60, what="the crash subscriber to start")
            first_worker.send_signal(signal.SIGKILL)
            await asyncio.wait_for(first_worker.wait(), 10)
            killed_at = time.monotonic()
            assert await count_rows(sessionmaker, event.id, CRASH) == (0, 0)  # its writes died with it

            del processes.environment[fake_module.SLOW_DIR_VARIABLE]
            await processes.start("worker", "--concurrency", "2")
            await processes.start("scheduler")
            job = await wait_delivered(sessionmaker, event.id, CRASH, within=90)
            delivered_at = time.monotonic()
            assert job.attempts >= 2, processes.logs()
            assert await count_rows(sessionmaker, event.id, CRASH) == (1, 1), processes.logs()
            await wait_delivered(sessionmaker, event.id, AUDITOR, within=30)
            assert len(await fake_module.received(sessionmaker, payment_id, "auditor")) == 1
            assert [e.id for e in await events_of(sessionmaker, payment_id)] == [event.id]
            print(
                f"settlement crash test {backend}: killed after {killed_at - started:.1f} s, "
                f"delivered {delivered_at - killed_at:.1f} s later"
            )
        except BaseException:
            print(processes.logs())
            raise
        finally:
            await processes.kill_all()
            await doorbells.stop()
            await engine.dispose()
