"""The payments API for business modules (cauri.payments.public), driven by a fake module of the tests
(tests/payments/fake_module.py) against the sandbox simulator over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.core.errors import Conflict, ValidationFailed
from cauri.core.jobs import Job, JobStatus
from cauri.kit.outcomes import Outcome
from cauri.ledger import service as ledger
from cauri.payments import public as payments
from cauri.payments.errors import PaymentNotFound
from cauri.payments.models import Payment
from cauri.payments.public import PaymentArguments, PhoneCounterparty
from cauri.payments.states import PaymentKind, Status
from cauri.payments.submission import SUBMIT_JOB
from tests.payments import fake_module
from tests.payments.conftest import Sandbox
from tests.payments.support import eventually, fund, phone, postings, wait_status
from tests.support.identity import Actor, create_org_with_user


def arguments(
    app: FastAPI, actor: Actor, owner: str, *, outcome: Outcome = Outcome.SUCCESS, **changes: Any
) -> PaymentArguments:
    assert actor.organization_id is not None
    base: PaymentArguments = {
        "organization_id": actor.organization_id,
        "amount": 5000,
        "currency": "XAF",
        "counterparty": PhoneCounterparty(phone(outcome), name="Awa Ndiaye"),
        "purpose": fake_module.PURPOSE,
        "owner_id": owner,
        "idempotency_key": f"key-{uuid.uuid4().hex}",
        "provider": "sandbox",
        "settings": app.state.settings,
    }
    return {**base, **changes}  # type: ignore[typeddict-item]


async def outbound_reference(sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID) -> str:
    async with sessionmaker() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        return payment.outbound_reference


async def pot_balance(sessionmaker: async_sessionmaker[AsyncSession], pot_id: uuid.UUID) -> ledger.Balance:
    async with sessionmaker() as session:
        return await ledger.balance(session, pot_id)


async def test_a_module_collects_into_its_own_account_and_pays_out_of_it(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    actor = await create_org_with_user(client)
    assert actor.organization_id is not None
    tontine = f"tontine-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(sessionmaker) as session:
        pot_id = await fake_module.pot(session, actor.organization_id, tontine)
        collected = await payments.collect(session, **arguments(app, actor, tontine, account_id=pot_id))
    assert (collected.kind, collected.status, collected.account_id) == (PaymentKind.COLLECTION, Status.CREATED, pot_id)
    assert (collected.purpose, collected.owner_id) == (fake_module.PURPOSE, tontine)
    assert collected.phone == "+237" + phone()[-9:]  # the counterparty's number, in E.164
    assert collected.reference.startswith(f"{fake_module.PURPOSE}:")  # generated, and says what it is for

    done = await wait_status(client, actor, "collection", str(collected.id))
    assert done["status"] == "succeeded"
    # The HTTP answers show what the module stored; a payer's name is kept in the metadata.
    assert (done["purpose"], done["owner_id"], done["account_id"]) == (fake_module.PURPOSE, tontine, str(pot_id))
    assert done["metadata"] == {"payer_name": "Awa Ndiaye"}

    # A fee the provider's late create answer brings is charged just after the success: wait for it.
    async def fee_known() -> bool:
        return (await wait_status(client, actor, "collection", str(collected.id)))["fee"] is not None

    await eventually(fee_known, what="the collection's fee")
    fee = (await wait_status(client, actor, "collection", str(collected.id)))["fee"]
    assert (await pot_balance(sessionmaker, pot_id)).posted == 5000 - fee
    async with sessionmaker() as session:
        read = await payments.get(session, organization_id=actor.organization_id, payment_id=collected.id)
    assert (read.status, read.fee, read.provider_reference) == (Status.SUCCEEDED, fee, done["provider_reference"])

    async with unit_of_work(sessionmaker) as session:
        paid = await payments.payout(
            session,
            **arguments(app, actor, tontine, account_id=pot_id, amount=3000, purpose=fake_module.PAYOUT_PURPOSE),
        )
    assert (await pot_balance(sessionmaker, pot_id)).available == 5000 - fee - 3000  # reserved at once
    sent = await wait_status(client, actor, "payout", str(paid.id))
    assert sent["status"] == "succeeded"
    assert sandbox.simulator.paid_out(await outbound_reference(sessionmaker, paid.id)) == 3000
    assert (await pot_balance(sessionmaker, pot_id)).posted == 5000 - fee - 3000 - sent["fee"]


async def test_the_same_idempotency_key_returns_the_first_payment_and_other_arguments_are_refused(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    actor = await create_org_with_user(client)
    call = arguments(app, actor, "booking-1")
    async with unit_of_work(sessionmaker) as session:
        first = await payments.collect(session, **call)
    async with unit_of_work(sessionmaker) as session:
        again = await payments.collect(session, **call)
    assert again.id == first.id
    await wait_status(client, actor, "collection", str(first.id))
    assert sandbox.simulator.created(await outbound_reference(sessionmaker, first.id)) == 1

    for changed in ({"amount": 6000}, {"owner_id": "booking-2"}, {"counterparty": PhoneCounterparty(phone())}):
        with pytest.raises(ValidationFailed) as reused:
            async with unit_of_work(sessionmaker) as session:
                await payments.collect(session, **{**call, **changed})  # type: ignore[typeddict-item]
        assert (reused.value.field, reused.value.errors[0].code) == ("idempotency_key", "idempotency_key_reused")
        assert reused.value.extra["existing_id"] == str(first.id)
    with pytest.raises(ValidationFailed):  # a payout with a collection's key is another call too
        async with unit_of_work(sessionmaker) as session:
            await payments.payout(session, **call)


async def foreign_account(sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> uuid.UUID:
    stranger = await create_org_with_user(client)
    assert stranger.organization_id is not None
    async with unit_of_work(sessionmaker) as session:
        return await fake_module.pot(session, stranger.organization_id, "someone-else")


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"currency": "ZZZ"}, "currency", None),
        ({"amount": 0}, "amount", "amount_not_positive"),
        ({"amount": -5}, "amount", "amount_not_positive"),
        ({"counterparty": PhoneCounterparty("12")}, "phone", None),
        ("foreign_account", "account_id", "account_not_found"),
        ({"purpose": "Tontine Contribution"}, "purpose", "invalid_purpose"),
        ({"owner_id": ""}, "owner_id", "invalid_owner_id"),
        ({"idempotency_key": ""}, "idempotency_key", "invalid_idempotency_key"),
        ({"reference": "bad reference!"}, "reference", None),
        ({"provider": "nobody"}, "provider", None),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    *,
    client: httpx.AsyncClient,
    app: FastAPI,
    sessionmaker: async_sessionmaker[AsyncSession],
    changes: dict[str, Any] | str,
    field: str,
    code: str | None,
) -> None:
    actor = await create_org_with_user(client)
    if changes == "foreign_account":
        changes = {"account_id": await foreign_account(sessionmaker, client)}
    assert isinstance(changes, dict)
    call = arguments(app, actor, "booking-9", **changes)
    for kind in (payments.collect, payments.payout):
        with pytest.raises(ValidationFailed) as refused:
            async with unit_of_work(sessionmaker) as session:
                await kind(session, **call)
        assert refused.value.field == field, refused.value.errors
        error = refused.value.errors[0]
        assert error.field == field
        if code is not None:
            assert error.code == code
        assert error.message_fr and error.message_en and error.message_fr != error.message_en
    async with sessionmaker() as session:
        written = await session.execute(
            select(func.count()).select_from(Payment).where(Payment.organization_id == actor.organization_id)
        )
        assert written.scalar_one() == 0


async def submit_job_done(sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID) -> bool:
    async with sessionmaker() as session:
        status = await session.scalar(select(Job.status).where(Job.dedupe_key == f"{SUBMIT_JOB}:{payment_id}"))
        return status == JobStatus.DONE


async def test_a_payment_not_yet_sent_can_be_cancelled_and_a_sent_one_cannot(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    actor = await create_org_with_user(client)
    assert actor.organization_id is not None
    organization_id = actor.organization_id
    await fund(sessionmaker, organization_id, 20_000)
    async with unit_of_work(sessionmaker) as session:
        payout = await payments.payout(session, **arguments(app, actor, "share-1", purpose=fake_module.PAYOUT_PURPOSE))
        cancelled = await payments.cancel(session, organization_id=organization_id, payment_id=payout.id)
    assert cancelled.status is Status.CANCELLED
    assert (await postings(sessionmaker, str(payout.id))) == {"payout.reserve": 5000, "payout.void": 5000}
    # The submit job still runs after the commit: it finds the payment cancelled and sends nothing.
    await eventually(lambda: submit_job_done(sessionmaker, payout.id), what="the submit job")
    assert sandbox.simulator.created(await outbound_reference(sessionmaker, payout.id)) == 0
    shown = await wait_status(client, actor, "payout", str(payout.id))
    assert (shown["status"], shown["failure_reason"]) == ("cancelled", "cancelled")

    async with unit_of_work(sessionmaker) as session:
        sent = await payments.collect(session, **arguments(app, actor, "share-2", outcome=Outcome.PENDING_FOREVER))
    await wait_status(client, actor, "collection", str(sent.id), {"pending"})
    with pytest.raises(Conflict) as refused:
        async with unit_of_work(sessionmaker) as session:
            await payments.cancel(session, organization_id=organization_id, payment_id=sent.id)
    assert (refused.value.code, refused.value.extra["status"]) == ("payment_not_cancellable", "pending")

    stranger = await create_org_with_user(client)
    assert stranger.organization_id is not None
    for call in (payments.get, payments.cancel):
        with pytest.raises(PaymentNotFound):
            async with unit_of_work(sessionmaker) as session:
                await call(session, organization_id=stranger.organization_id, payment_id=sent.id)


async def lock_waits(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) or 0)


async def test_two_concurrent_calls_with_one_key_make_one_payment(
    client: httpx.AsyncClient, app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], backend: str
) -> None:
    actor = await create_org_with_user(client)
    call = arguments(app, actor, "booking-c")
    first_written, release = asyncio.Event(), asyncio.Event()

    async def first() -> uuid.UUID:
        async with unit_of_work(sessionmaker) as session:
            view = await payments.collect(session, **call)
            first_written.set()
            await release.wait()  # holds its uncommitted payment while the second call runs
        return view.id

    async def second() -> uuid.UUID:
        await first_written.wait()
        async with unit_of_work(sessionmaker) as session:
            return (await payments.collect(session, **call)).id

    calls = asyncio.gather(first(), second())
    await first_written.wait()
    if backend == "postgresql":
        # The second call waits on the unique key of the first one's insert (SQLite serialises the two instead).
        await eventually(lambda: lock_waits_seen(sessionmaker), what="the second call to wait on the first")
    release.set()
    first_id, second_id = await calls
    assert first_id == second_id
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.organization_id == actor.organization_id)
        )
    assert count == 1


async def lock_waits_seen(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    return await lock_waits(sessionmaker) > 0
