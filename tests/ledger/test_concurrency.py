"""Concurrency proofs on PostgreSQL: many transactions on real parallel connections, through both paths.

No account is ever overdrawn, exactly what is affordable succeeds, the books sum to zero, a pending transfer is
resolved exactly once, and no deadlock or serialization error ever reaches a caller (any exception other than the
ledger's own refusals fails these tests).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.errors import AppError
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerTransfer
from cauri.ledger.transfers import PYTHON_PATH
from cauri.ledger.types import TransferSpec
from tests.ledger.conftest import books_by_currency, create_org, spec

pytestmark = pytest.mark.postgres_only

CONNECTIONS = 16  # real parallelism, within what a shared server spares one test run


@pytest.fixture
async def parallel(database_url: str, ledger_path: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``await attempt(work)``: ``work(session)`` in its own transaction; "ok" or the ledger's refusal code."""
    engine = make_engine(database_url, pool_size=CONNECTIONS)
    sessionmaker: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)

    async def attempt(work: Callable[[AsyncSession], Awaitable[object]]) -> str:
        try:
            async with unit_of_work(sessionmaker) as session:
                session.info[PYTHON_PATH] = ledger_path == "python"
                await work(session)
        except AppError as refused:
            return refused.code
        return "ok"

    attempt.sessionmaker = sessionmaker  # type: ignore[attr-defined]
    yield attempt
    await engine.dispose()


async def in_one(attempt: Callable[..., Awaitable[str]], work: Callable[[AsyncSession], Awaitable[object]]) -> object:
    result: list[object] = []

    async def keep(session: AsyncSession) -> None:
        result.append(await work(session))

    assert await attempt(keep) == "ok"
    return result[0]


async def test_hundreds_of_transfers_out_of_one_account(parallel: Callable[..., Awaitable[str]]) -> None:
    async def setup(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
        org = await create_org(session)
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        wallet = await ledger.operating_account(session, org, "XOF")
        payees = [
            (
                await ledger.create_account(
                    session, organization_id=org, currency="XOF", code="payee", owner_ref=str(n)
                )
            ).id
            for n in range(20)
        ]
        await ledger.create_transfers(session, [spec(source.id, wallet.id, 1000)])
        return org, source.id, wallet.id, payees

    org, source, wallet, payees = await in_one(parallel, setup)  # type: ignore[misc]
    # 300 payouts of 7 from a wallet holding 1,000: room for exactly 142. One in ten goes linked with a fee
    # (the set-based path), which stands or falls with its payout.
    calls: list[list[TransferSpec]] = []
    for n in range(300):
        payout = spec(wallet, random.choice(payees), 7)
        calls.append([replace(payout, linked=True), spec(source, payees[0], 1)] if n % 10 == 0 else [payout])

    outcomes = await asyncio.gather(
        *(parallel(lambda session, specs=specs: ledger.create_transfers(session, specs)) for specs in calls)
    )
    counts = Counter(outcomes)
    assert set(counts) <= {"ok", "insufficient_funds"}, counts
    assert counts["ok"] == 142, counts

    async def check(session: AsyncSession) -> None:
        balance = await ledger.balance(session, wallet)
        assert balance.posted == 1000 - 142 * 7
        assert balance.available >= 0
        sums = await books_by_currency(session, [org])
        debits_pending, debits_posted, credits_pending, credits_posted = sums["XOF"]
        assert (debits_pending, credits_pending) == (0, 0)
        assert debits_posted == credits_posted
        written = await session.execute(
            select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.debit_account_id == wallet)
        )
        assert written.scalar_one() == 142

    await in_one(parallel, check)


async def test_crossing_transfers_never_deadlock(parallel: Callable[..., Awaitable[str]]) -> None:
    """Batches touching the same accounts in every order: the fixed lock order means no deadlock, ever."""

    async def setup(session: AsyncSession) -> tuple[uuid.UUID, list[uuid.UUID]]:
        org = await create_org(session)
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        accounts = []
        for n in range(6):
            account = await ledger.create_account(
                session,
                organization_id=org,
                currency="XOF",
                code="wallet",
                owner_ref=str(n),
                debits_must_not_exceed_credits=True,
            )
            accounts.append(account.id)
        await ledger.create_transfers(session, [spec(source.id, account, 10_000) for account in accounts])
        return org, accounts

    org, accounts = await in_one(parallel, setup)  # type: ignore[misc]
    rng = random.Random(7)
    calls = []
    for _ in range(250):
        size = rng.choice([1, 2, 3, 4])
        batch = []
        for _ in range(size):
            debit, credit = rng.sample(accounts, 2)
            batch.append(spec(debit, credit, rng.randint(1, 20)))
        calls.append(batch)
    outcomes = await asyncio.gather(
        *(parallel(lambda session, specs=specs: ledger.create_transfers(session, specs)) for specs in calls)
    )
    assert Counter(outcomes) == {"ok": len(calls)}

    async def check(session: AsyncSession) -> None:
        _, debits_posted, _, credits_posted = (await books_by_currency(session, [org]))["XOF"]
        assert debits_posted == credits_posted
        total = sum([(await ledger.balance(session, account)).posted for account in accounts])
        assert total == 6 * 10_000

    await in_one(parallel, check)


async def test_racing_posts_voids_and_expiry_resolve_each_hold_once(parallel: Callable[..., Awaitable[str]]) -> None:
    async def setup(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID, list[ledger.Transfer]]:
        org = await create_org(session)
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        wallet = await ledger.operating_account(session, org, "XOF")
        payee = await ledger.create_account(session, organization_id=org, currency="XOF", code="payee")
        await ledger.create_transfers(session, [spec(source.id, wallet.id, 100_000)])
        holds = await ledger.create_transfers(
            session, [spec(wallet.id, payee.id, 100, pending=True, timeout_seconds=3600) for _ in range(40)]
        )
        return org, wallet.id, holds

    org, wallet, holds = await in_one(parallel, setup)  # type: ignore[misc]
    later = utcnow() + timedelta(hours=2)
    tasks: list[Awaitable[str]] = []
    for hold in holds:
        racers: list[Callable[[AsyncSession], Awaitable[object]]] = [
            lambda session, hold=hold: ledger.post_pending(session, id=uuid.uuid4(), pending_id=hold.id, amount=60),
            lambda session, hold=hold: ledger.post_pending(session, id=uuid.uuid4(), pending_id=hold.id),
            lambda session, hold=hold: ledger.void_pending(session, id=uuid.uuid4(), pending_id=hold.id),
        ]
        tasks.extend(parallel(racer) for racer in racers)
    # The expiry job runs alongside: whatever it finds still pending (it sees them as timed out) it ends.
    tasks.extend(parallel(lambda session: ledger.expire_pending_transfers(session, later)) for _ in range(3))
    outcomes = await asyncio.gather(*tasks)
    allowed = {"ok", "pending_transfer_already_posted", "pending_transfer_already_voided", "pending_transfer_expired"}
    assert set(outcomes) <= allowed, Counter(outcomes)
    racing = [outcomes[3 * n : 3 * n + 3] for n in range(len(holds))]

    async def check(session: AsyncSession) -> None:
        ends: Counter[str] = Counter()
        posted_total = 0
        for hold, (partial_post, full_post, void) in zip(holds, racing, strict=True):
            stored = await ledger.get_transfer(session, hold.id)
            assert stored is not None
            ends[stored.status] += 1
            # Exactly one racer won, and what it did is what the hold became (or the sweeper ended it first).
            attempts = [("posted", partial_post), ("posted", full_post), ("voided", void)]
            won = [end for end, outcome in attempts if outcome == "ok"]
            assert won == ([] if stored.status == "expired" else [stored.status]), (stored.status, won)
            resolutions = (
                (await session.execute(select(LedgerTransfer).where(LedgerTransfer.pending_id == hold.id)))
                .scalars()
                .all()
            )
            # Exactly one resolution row for a post or void, none for an expiry.
            assert len(resolutions) == (0 if stored.status == "expired" else 1), stored.status
            posted_total += sum(r.amount for r in resolutions if r.kind == "post_pending")
        assert sum(ends.values()) == len(holds)
        assert "pending" not in ends
        balance = await ledger.balance(session, wallet)
        assert balance.posted == 100_000 - posted_total
        assert balance.debits_pending == 0
        debits_pending, debits_posted, credits_pending, credits_posted = (await books_by_currency(session, [org]))[
            "XOF"
        ]
        assert (debits_pending, credits_pending) == (0, 0)
        assert debits_posted == credits_posted

    await in_one(parallel, check)


async def test_the_same_transfer_racing_itself_is_written_once(parallel: Callable[..., Awaitable[str]]) -> None:
    """Retries of one payment settling at once (a callback and the poller): one transfer, every caller succeeds."""

    async def setup(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        org = await create_org(session)
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        wallet = await ledger.operating_account(session, org, "XOF")
        return source.id, wallet.id

    source, wallet = await in_one(parallel, setup)  # type: ignore[misc]
    single = spec(source, wallet, 500)
    pair = [spec(source, wallet, 7, linked=True), spec(source, wallet, 3)]
    outcomes = await asyncio.gather(
        *(parallel(lambda session: ledger.create_transfers(session, [single])) for _ in range(20)),
        *(parallel(lambda session: ledger.create_transfers(session, pair)) for _ in range(20)),
    )
    assert Counter(outcomes) == {"ok": 40}

    async def check(session: AsyncSession) -> None:
        assert (await ledger.balance(session, wallet)).posted == 510
        written = await session.execute(
            select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.credit_account_id == wallet)
        )
        assert written.scalar_one() == 3

    await in_one(parallel, check)
