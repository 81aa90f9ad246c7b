"""Two-phase transfers: hold, post (all or part), void, expire — each resolved exactly once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from cauri.core.db import utcnow
from cauri.core.errors import AppError
from cauri.ledger import service as ledger
from cauri.ledger.errors import PendingTransferNotFound, PendingTransferResolved
from cauri.ledger.models import LedgerTransfer
from tests.ledger.conftest import Books, LedgerDB, balances, spec


async def hold(db: LedgerDB, books: Books, amount: int, timeout_seconds: int | None = None) -> ledger.Transfer:
    async with db.session() as session:
        [pending] = await ledger.create_transfers(
            session, [spec(books.wallet, books.other, amount, pending=True, timeout_seconds=timeout_seconds)]
        )
    return pending


async def funded(db: LedgerDB, books: Books, amount: int) -> None:
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.source, books.wallet, amount)])


async def test_a_pending_transfer_holds_funds(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600, timeout_seconds=3600)
    assert (pending.kind, pending.status) == ("pending", "pending")
    assert pending.expires_at is not None
    assert timedelta(seconds=3590) < pending.expires_at - pending.created_at <= timedelta(seconds=3600)
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, wallet.pending, wallet.available, wallet.debits_pending) == (1000, -600, 400, 600)
    assert (other.posted, other.pending, other.available, other.credits_pending) == (0, 600, 0, 600)
    # The hold counts against the wallet: only 400 remain.
    async with db.session() as session:
        with pytest.raises(AppError) as caught:
            await ledger.create_transfers(session, [spec(books.wallet, books.other, 401)])
    assert caught.value.code == "insufficient_funds"
    async with db.session() as session:
        with pytest.raises(AppError):
            await ledger.create_transfers(session, [spec(books.wallet, books.other, 401, pending=True)])


async def test_posting_in_full(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600)
    post_id = uuid.uuid4()
    async with db.session() as session:
        posted = await ledger.post_pending(session, id=post_id, pending_id=pending.id, metadata={"ref": "x"})
    assert (posted.id, posted.kind, posted.status, posted.amount, posted.pending_id) == (
        post_id,
        "post_pending",
        "posted",
        600,
        pending.id,
    )
    assert posted.seq > pending.seq
    assert posted.metadata == {"ref": "x"}
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, wallet.pending, wallet.available) == (400, 0, 400)
    assert (other.posted, other.pending) == (600, 0)
    async with db.session() as session:
        stored = await ledger.get_transfer(session, pending.id)
    assert stored is not None and stored.status == "posted"


async def test_posting_in_part_releases_the_rest(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600)
    async with db.session() as session:
        posted = await ledger.post_pending(session, id=uuid.uuid4(), pending_id=pending.id, amount=250)
    assert posted.amount == 250
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, wallet.pending, wallet.available) == (750, 0, 750)
    assert (other.posted, other.pending) == (250, 0)


async def test_posting_more_than_held_is_refused(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600)
    async with db.session() as session:
        with pytest.raises(AppError) as caught:
            await ledger.post_pending(session, id=uuid.uuid4(), pending_id=pending.id, amount=601)
        assert caught.value.code == "exceeds_pending_transfer_amount"
        with pytest.raises(AppError) as caught:
            await ledger.post_pending(session, id=uuid.uuid4(), pending_id=pending.id, amount=0)
        assert caught.value.code == "amount_must_be_positive"
    [wallet] = await balances(db, books.wallet)
    assert (wallet.posted, wallet.available) == (1000, 400)


async def test_voiding_releases_the_hold(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600)
    async with db.session() as session:
        voided = await ledger.void_pending(session, id=uuid.uuid4(), pending_id=pending.id)
    assert (voided.kind, voided.status, voided.amount) == ("void_pending", "voided", 600)
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, wallet.pending, wallet.available) == (1000, 0, 1000)
    assert (other.posted, other.pending) == (0, 0)


async def test_a_pending_transfer_is_resolved_once(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    posted_one, voided_one = await hold(db, books, 100), await hold(db, books, 100)
    async with db.session() as session:
        await ledger.post_pending(session, id=uuid.uuid4(), pending_id=posted_one.id)
        await ledger.void_pending(session, id=uuid.uuid4(), pending_id=voided_one.id)
    cases = [
        (posted_one, True, "pending_transfer_already_posted"),
        (posted_one, False, "pending_transfer_already_posted"),
        (voided_one, True, "pending_transfer_already_voided"),
        (voided_one, False, "pending_transfer_already_voided"),
    ]
    for pending, post, code in cases:
        async with db.session() as session:
            with pytest.raises(PendingTransferResolved) as caught:
                if post:
                    await ledger.post_pending(session, id=uuid.uuid4(), pending_id=pending.id)
                else:
                    await ledger.void_pending(session, id=uuid.uuid4(), pending_id=pending.id)
        assert (caught.value.code, caught.value.status) == (code, 409)
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, wallet.available, other.posted) == (900, 900, 100)


async def test_replaying_a_post_returns_it_and_another_content_conflicts(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 600)
    post_id = uuid.uuid4()
    async with db.session() as session:
        posted = await ledger.post_pending(session, id=post_id, pending_id=pending.id, amount=500)
    async with db.session() as session:
        assert await ledger.post_pending(session, id=post_id, pending_id=pending.id, amount=500) == posted
        with pytest.raises(AppError) as caught:
            await ledger.post_pending(session, id=post_id, pending_id=pending.id, amount=400)
        assert (caught.value.code, caught.value.extra["differs"]) == ("transfer_exists", ["amount"])
        with pytest.raises(AppError) as caught:
            await ledger.void_pending(session, id=post_id, pending_id=pending.id)
        assert caught.value.code == "transfer_exists"
    # Posting without an amount replays a full post.
    other_pending = await hold(db, books, 100)
    full_id = uuid.uuid4()
    async with db.session() as session:
        full = await ledger.post_pending(session, id=full_id, pending_id=other_pending.id)
        assert await ledger.post_pending(session, id=full_id, pending_id=other_pending.id) == full
        assert await ledger.post_pending(session, id=full_id, pending_id=other_pending.id, amount=100) == full
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, other.posted) == (400, 600)


async def test_post_or_void_of_what_is_not_pending(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    async with db.session() as session:
        [single] = await ledger.create_transfers(session, [spec(books.wallet, books.other, 5)])
        with pytest.raises(PendingTransferNotFound) as not_found:
            await ledger.post_pending(session, id=uuid.uuid4(), pending_id=uuid.uuid4())
        assert not_found.value.status == 404
        with pytest.raises(AppError) as caught:
            await ledger.void_pending(session, id=uuid.uuid4(), pending_id=single.id)
        assert (caught.value.code, caught.value.status) == ("pending_transfer_not_pending", 422)


async def test_expiry_releases_the_hold_exactly_once(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    short = await hold(db, books, 300, timeout_seconds=60)
    long = await hold(db, books, 200, timeout_seconds=3600)
    untimed = await hold(db, books, 100)
    ours = (short.id, long.id, untimed.id)

    async def statuses() -> dict[uuid.UUID, str]:
        async with db.session() as session:
            found = {t: await ledger.get_transfer(session, t) for t in ours}
        return {t: transfer.status for t, transfer in found.items() if transfer is not None}

    # Other tests' holds share the database: look at ours, not at how many expired.
    async with db.session() as session:
        await ledger.expire_pending_transfers(session, utcnow())
    assert await statuses() == dict.fromkeys(ours, "pending")
    later = utcnow() + timedelta(seconds=61)
    for _ in range(2):  # a second sweep (another scheduler, a retry) changes nothing
        async with db.session() as session:
            while await ledger.expire_pending_transfers(session, later):  # batches of 500, however many are due
                pass
        assert await statuses() == {short.id: "expired", long.id: "pending", untimed.id: "pending"}
        [wallet] = await balances(db, books.wallet)
        assert (wallet.posted, wallet.available) == (1000, 700)
    async with db.session() as session:
        with pytest.raises(PendingTransferResolved) as caught:
            await ledger.post_pending(session, id=uuid.uuid4(), pending_id=short.id)
    assert caught.value.code == "pending_transfer_expired"


async def test_a_timed_out_hold_cannot_be_posted_before_the_sweeper_ran(db: LedgerDB, books: Books) -> None:
    await funded(db, books, 1000)
    pending = await hold(db, books, 300, timeout_seconds=1)
    # In one transaction, so that the application's own expiry job cannot sweep it in between.
    async with db.session() as session:
        await session.execute(  # the timeout passed, without waiting for it
            update(LedgerTransfer)
            .where(LedgerTransfer.id == pending.id)
            .values(expires_at=utcnow() - timedelta(seconds=5))
        )
        with pytest.raises(PendingTransferResolved) as caught:
            await ledger.post_pending(session, id=uuid.uuid4(), pending_id=pending.id)
        assert caught.value.code == "pending_transfer_expired"
        with pytest.raises(PendingTransferResolved):
            await ledger.void_pending(session, id=uuid.uuid4(), pending_id=pending.id)
        assert (await ledger.balance(session, books.wallet)).available == 700  # held until the sweeper runs
        assert await ledger.expire_pending_transfers(session) >= 1
        assert (await ledger.balance(session, books.wallet)).available == 1000
