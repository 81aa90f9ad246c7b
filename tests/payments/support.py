"""Helpers of the payments tests: waiting for a status, funding a wallet, reading the ledger, signing callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.mobile_money.sandbox import webhooks
from cauri.connectors.mobile_money.sandbox.simulator import SandboxSimulator
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs import enqueue
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerTransfer
from cauri.payments.models import Payment
from cauri.payments.settlement import transfer_id
from tests.support.identity import Actor

FINAL = {"succeeded", "failed", "expired", "cancelled"}
PAYMENT_STEPS = (
    "collection.credit",
    "collection.fee",
    "payout.reserve",
    "payout.post",
    "payout.void",
    "payout.fee",
    "payout.late",
)


def phone(outcome: Outcome = Outcome.SUCCESS) -> str:
    return magic_phone(outcome, "CM")


def reference(prefix: str = "REF") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def create(
    client: httpx.AsyncClient, actor: Actor, kind: str, *, outcome: Outcome = Outcome.SUCCESS, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 5000,
        "currency": "XAF",
        "phone": phone(outcome),
        "reference": reference(),
        "provider": "sandbox",  # the simulator these tests read; the automatic choice has tests of its own
    }
    body.update(fields)
    response = await client.post(f"/api/v1/{kind}s", json=body, headers=actor.headers)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


async def get(client: httpx.AsyncClient, actor: Actor, kind: str, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/{kind}s/{payment_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


async def wait_status(
    client: httpx.AsyncClient,
    actor: Actor,
    kind: str,
    payment_id: str,
    statuses: set[str] | None = None,
    *,
    within: float = 20.0,
) -> dict[str, Any]:
    wanted = statuses or FINAL
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await get(client, actor, kind, payment_id))
        return seen["status"] in wanted

    await eventually(reached, within=within, what=f"{kind} {payment_id} to be {sorted(wanted)}")
    return seen


async def fund(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, amount: int, currency: str = "XAF"
) -> None:
    """A bank deposit into the organisation's wallet, through the ledger's service."""
    async with unit_of_work(sessionmaker) as session:
        wallet = await ledger.operating_account(session, organization_id, currency)
        bank = await ledger.bank_deposits_account(session, organization_id, currency)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid4(),
                    debit_account_id=bank.id,
                    credit_account_id=wallet.id,
                    amount=amount,
                    code="deposit",
                )
            ],
        )


async def wallet(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, currency: str = "XAF"
) -> ledger.Balance:
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.operating_account(session, organization_id, currency)
        return await ledger.balance(session, account.id)


async def postings(
    sessionmaker: async_sessionmaker[AsyncSession], payment_id: str, steps: tuple[str, ...] = PAYMENT_STEPS
) -> dict[str, int]:
    """The ledger transfers of one payment (or refund: ``steps``), by step, with their amounts (absent steps are not
    listed)."""
    ids = {transfer_id(uuid.UUID(payment_id), step): step for step in steps}
    async with sessionmaker() as session:
        rows = await session.execute(
            select(LedgerTransfer.id, LedgerTransfer.amount).where(LedgerTransfer.id.in_(list(ids)))
        )
        return {ids[row.id]: row.amount for row in rows}


async def settled_postings(
    sessionmaker: async_sessionmaker[AsyncSession],
    payment_id: str,
    expected: dict[str, int],
    steps: tuple[str, ...] = PAYMENT_STEPS,
) -> None:
    """Assert a payment's postings, waiting for them first: a fee the create call's late answer brings is charged
    just after the success, in its own step, so a test that read once could see the success without its fee."""

    async def arrived() -> bool:
        return await postings(sessionmaker, payment_id, steps) == expected

    with contextlib.suppress(AssertionError):  # the equality below shows the difference
        await eventually(arrived, what=f"the postings {expected}")
    assert await postings(sessionmaker, payment_id, steps) == expected


async def expire_now(sessionmaker: async_sessionmaker[AsyncSession], payment_id: str) -> None:
    """Time passes: the payment is now past its expiry, and the expiry job is rung."""
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(Payment)
            .where(Payment.id == uuid.UUID(payment_id))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await enqueue(session, "payments.expire", {})


async def wallet_transfer_count(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, currency: str = "XAF"
) -> int:
    async with unit_of_work(sessionmaker) as session:
        account = await ledger.operating_account(session, organization_id, currency)
        count = await session.execute(
            select(func.count()).where(
                or_(LedgerTransfer.debit_account_id == account.id, LedgerTransfer.credit_account_id == account.id)
            )
        )
        return int(count.scalar_one())


def signed_callback(
    simulator: SandboxSimulator,
    kind: str,
    outbound_reference: str,
    *,
    state: str,
    secret: str,
    event_id: str | None = None,
    timestamp: int | None = None,
    failure_code: str | None = None,
    amount: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A callback exactly as the sandbox sends it, about a payment the simulator holds, with the state we choose."""
    payment_id = simulator.by_reference[(kind, outbound_reference)]
    data = simulator.payments[payment_id].to_wire()
    data.update({"state": state, "failure_code": failure_code})
    if amount is not None:
        data["amount"] = amount
    body = json.dumps(
        {
            "id": event_id or f"evt_test_{uuid.uuid4().hex[:16]}",
            "type": f"{kind}.{state.lower()}",
            "created": int(time.time()),
            "data": data,
        }
    ).encode()
    return body, webhooks.sign(secret, body, timestamp if timestamp is not None else int(time.time()))


def callback_url(actor: Actor) -> str:
    return f"/api/v1/webhooks/sandbox?org={actor.organization_id}"
