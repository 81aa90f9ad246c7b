"""Transfer rules, on SQLite and PostgreSQL, through both paths (PostgreSQL's SQL functions and the Python path)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from cauri.core.errors import AppError
from cauri.ledger import service as ledger
from cauri.ledger.errors import InsufficientFunds, TransferExists
from cauri.ledger.models import LedgerTransfer
from cauri.ledger.types import MAX_BALANCE, TransferSpec
from tests.ledger.conftest import Books, LedgerDB, balances, books_by_currency, spec


async def fund(db: LedgerDB, books: Books, amount: int, account: uuid.UUID | None = None) -> None:
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.source, account or books.wallet, amount)])


async def count_transfers(db: LedgerDB, org: uuid.UUID) -> int:
    async with db.session() as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.organization_id == org)
                )
            ).scalar_one()
        )


async def expect_error(db: LedgerDB, specs: list[TransferSpec], code: str) -> AppError:
    async with db.session() as session:
        with pytest.raises(AppError) as caught:
            await ledger.create_transfers(session, specs)
    assert caught.value.code == code, caught.value
    return caught.value


async def test_a_posted_transfer_moves_money_and_keeps_what_it_was_given(db: LedgerDB, books: Books) -> None:
    transfer_spec = spec(books.source, books.wallet, 5000, metadata={"payment": "p-1", "n": 2})
    async with db.session() as session:
        [transfer] = await ledger.create_transfers(session, [transfer_spec])
    assert transfer.id == transfer_spec.id
    assert (transfer.amount, transfer.currency, transfer.code, transfer.kind, transfer.status) == (
        5000,
        "XOF",
        "test",
        "single",
        "posted",
    )
    assert transfer.organization_id == books.org
    assert transfer.metadata == {"payment": "p-1", "n": 2}
    source, wallet = await balances(db, books.source, books.wallet)
    assert (wallet.posted, wallet.available, wallet.pending) == (5000, 5000, 0)
    assert (source.debits_posted, source.posted) == (5000, -5000)
    async with db.session() as session:
        stored = await ledger.get_transfer(session, transfer.id)
    assert stored == transfer


async def test_transfers_of_a_call_are_ordered_and_see_each_other(db: LedgerDB, books: Books) -> None:
    # The wallet is empty: funding it first, in the same call, makes the second transfer possible.
    specs = [spec(books.source, books.wallet, 300), spec(books.wallet, books.other, 300)]
    async with db.session() as session:
        first, second = await ledger.create_transfers(session, specs)
    assert first.seq < second.seq
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, other.posted) == (0, 300)
    # The other order fails as a whole: nothing of the call is written.
    error = await expect_error(
        db, [spec(books.other, books.wallet, 301), spec(books.source, books.other, 1)], "insufficient_funds"
    )
    assert error.extra["index"] == 0
    assert (await balances(db, books.other))[0].posted == 300


async def test_insufficient_funds_writes_nothing_and_names_the_transfer(db: LedgerDB, books: Books) -> None:
    await fund(db, books, 1000)
    before = await count_transfers(db, books.org)
    specs = [spec(books.source, books.other, 10), spec(books.wallet, books.other, 1001)]
    error = await expect_error(db, specs, "insufficient_funds")
    assert isinstance(error, InsufficientFunds)
    assert error.status == 422
    assert error.extra == {"index": 1, "transfer_id": str(specs[1].id), "account_id": str(books.wallet)}
    assert error.message_fr and error.message_en and error.message_fr != error.message_en
    assert await count_transfers(db, books.org) == before
    wallet, other = await balances(db, books.wallet, books.other)
    assert (wallet.posted, other.posted) == (1000, 0)
    # Exactly the balance is allowed.
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.wallet, books.other, 1000)])
    assert [b.posted for b in await balances(db, books.wallet, books.other)] == [0, 1000]


async def test_a_failed_call_leaves_the_callers_transaction_usable(db: LedgerDB, books: Books) -> None:
    await fund(db, books, 100)
    async with db.session() as session:
        with pytest.raises(InsufficientFunds):
            await ledger.create_transfers(session, [spec(books.wallet, books.other, 101)])
        with pytest.raises(InsufficientFunds):
            await ledger.create_transfers(
                session, [spec(books.wallet, books.other, 60), spec(books.wallet, books.other, 41)]
            )
        # Same transaction, after the refusals: a payment would now record its failure, or try less.
        await ledger.create_transfers(session, [spec(books.wallet, books.other, 100)])
    assert [b.posted for b in await balances(db, books.wallet, books.other)] == [0, 100]


async def test_credits_must_not_exceed_debits(db: LedgerDB, books: Books) -> None:
    # The asset account (e.g. cash at a bank) may only be credited up to what was debited to it.
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.asset, books.wallet, 500)])
    error = await expect_error(db, [spec(books.source, books.asset, 501)], "credits_exceed_debits")
    assert error.status == 422
    assert error.extra["account_id"] == str(books.asset)
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.source, books.asset, 500)])
    [asset] = await balances(db, books.asset)
    assert (asset.posted, asset.debits_posted, asset.credits_posted) == (0, 500, 500)


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "amount_must_be_positive"), (-5, "amount_must_be_positive"), (MAX_BALANCE + 1, "amount_too_large")],
)
async def test_amount_must_be_a_positive_integer(db: LedgerDB, books: Books, amount: int, code: str) -> None:
    error = await expect_error(db, [spec(books.source, books.wallet, amount)], code)
    assert error.status == 422
    assert error.field == "amount"


async def test_amount_may_not_be_a_float_or_a_bool(db: LedgerDB, books: Books) -> None:
    await expect_error(db, [spec(books.source, books.wallet, 10.5)], "amount_must_be_positive")  # type: ignore[arg-type]
    await expect_error(db, [spec(books.source, books.wallet, True)], "amount_must_be_positive")


async def test_invalid_transfers_are_named(db: LedgerDB, books: Books) -> None:
    missing = uuid.uuid4()
    cases = [
        ([spec(books.wallet, books.wallet, 1)], "accounts_must_be_different"),
        ([spec(books.source, books.euro, 1)], "currency_mismatch"),
        ([spec(missing, books.wallet, 1)], "debit_account_not_found"),
        ([spec(books.source, missing, 1)], "credit_account_not_found"),
        ([replace(spec(books.source, books.wallet, 1), code="Bad Code")], "invalid_code"),
        ([spec(books.source, books.wallet, 1, timeout_seconds=60)], "timeout_reserved_for_pending_transfer"),
        ([spec(books.source, books.wallet, 1, pending=True, timeout_seconds=0)], "invalid_timeout"),
        ([spec(books.source, books.wallet, 1, metadata={"x": float("nan")})], "invalid_metadata"),
        ([spec(books.source, books.wallet, 1, metadata={"x": "y" * 5000})], "invalid_metadata"),
        ([spec(books.source, books.wallet, 1, metadata=["not", "an", "object"])], "invalid_metadata"),
        ([], "no_transfers"),
    ]
    before = await count_transfers(db, books.org)
    for specs, code in cases:
        error = await expect_error(db, specs, code)
        assert error.status == 422, code
        assert error.field, code
    assert await count_transfers(db, books.org) == before


async def test_errors_speak_french_by_default_and_english_on_request(db: LedgerDB, books: Books) -> None:
    error = await expect_error(db, [spec(books.source, books.euro, 1)], "currency_mismatch")
    assert error.message_fr == "Les deux comptes doivent être dans la même devise."
    assert error.message_en == "Both accounts must be in the same currency."


async def test_replaying_a_transfer_returns_the_original_and_changes_nothing(db: LedgerDB, books: Books) -> None:
    original_spec = spec(books.source, books.wallet, 700, metadata={"b": 1, "a": [1, 2]})
    async with db.session() as session:
        [original] = await ledger.create_transfers(session, [original_spec])
    # Same content, keys in another order: the same transfer.
    again = replace(original_spec, metadata={"a": [1, 2], "b": 1})
    for _ in range(2):
        async with db.session() as session:
            [replayed] = await ledger.create_transfers(session, [again])
        assert replayed == original
    [wallet] = await balances(db, books.wallet)
    assert wallet.posted == 700
    # In a batch, the replay is skipped and the new transfer applied.
    fresh = spec(books.wallet, books.other, 200)
    async with db.session() as session:
        replayed, created = await ledger.create_transfers(session, [again, fresh])
    assert replayed == original
    assert created.id == fresh.id
    assert [b.posted for b in await balances(db, books.wallet, books.other)] == [500, 200]


async def test_reusing_an_id_with_other_content_is_a_conflict(db: LedgerDB, books: Books) -> None:
    original = spec(books.source, books.wallet, 700)
    async with db.session() as session:
        await ledger.create_transfers(session, [original])
    error = await expect_error(db, [replace(original, amount=701, metadata={"x": 1})], "transfer_exists")
    assert isinstance(error, TransferExists)
    assert error.status == 409
    assert error.extra["differs"] == ["amount", "metadata"]
    await expect_error(db, [replace(original, pending=True)], "transfer_exists")
    await expect_error(db, [replace(original, credit_account_id=books.other)], "transfer_exists")
    assert (await balances(db, books.wallet))[0].posted == 700


async def test_the_same_id_twice_in_one_call(db: LedgerDB, books: Books) -> None:
    twice = spec(books.source, books.wallet, 10)
    async with db.session() as session:
        first, second = await ledger.create_transfers(session, [twice, twice])
    assert first == second
    assert (await balances(db, books.wallet))[0].posted == 10
    other = spec(books.source, books.wallet, 10)
    error = await expect_error(db, [other, replace(other, amount=11)], "transfer_exists")
    assert error.extra["index"] == 1


async def test_a_linked_chain_succeeds_or_fails_as_one(db: LedgerDB, books: Books) -> None:
    await fund(db, books, 1000)
    # Rent: the tenant's 1,000 split between landlord (900) and platform fee (100), linked.
    chain = [
        spec(books.wallet, books.other, 900, linked=True),
        spec(books.wallet, books.source, 100),
    ]
    async with db.session() as session:
        await ledger.create_transfers(session, chain)
    assert [b.posted for b in await balances(db, books.wallet, books.other)] == [0, 900]
    failing = [spec(books.source, books.wallet, 50, linked=True), spec(books.wallet, books.other, 51)]
    error = await expect_error(db, failing, "insufficient_funds")
    assert error.extra["index"] == 1
    assert [b.posted for b in await balances(db, books.wallet, books.other)] == [0, 900]


async def test_an_open_chain_is_refused(db: LedgerDB, books: Books) -> None:
    error = await expect_error(
        db,
        [spec(books.source, books.wallet, 1), spec(books.source, books.wallet, 1, linked=True)],
        "linked_event_chain_open",
    )
    assert error.extra["index"] == 1


async def test_balances_cannot_overflow(db: LedgerDB, books: Books) -> None:
    async with db.session() as session:
        await ledger.create_transfers(session, [spec(books.source, books.wallet, MAX_BALANCE)])
    error = await expect_error(db, [spec(books.source, books.wallet, 1)], "balance_overflow")
    assert error.status == 422
    error = await expect_error(db, [spec(books.source, books.other, 1)], "balance_overflow")
    assert (await balances(db, books.wallet))[0].posted == MAX_BALANCE


async def test_books_balance_per_currency(db: LedgerDB, books: Books) -> None:
    async with db.session() as session:
        euro_source = await ledger.create_account(session, organization_id=books.org, currency="EUR", code="source")
        await ledger.create_transfers(
            session,
            [
                spec(books.source, books.wallet, 5000),
                spec(books.wallet, books.other, 1200, pending=True),
                spec(euro_source.id, books.euro, 1999),
            ],
        )
    async with db.session() as session:
        sums = await books_by_currency(session, [books.org])
    for currency, (debits_pending, debits_posted, credits_pending, credits_posted) in sums.items():
        assert debits_pending == credits_pending, currency
        assert debits_posted == credits_posted, currency
    assert sums["XOF"] == (1200, 5000, 1200, 5000)
    assert sums["EUR"] == (0, 1999, 0, 1999)


async def test_a_thousand_transfers_in_one_call(db: LedgerDB, books: Books) -> None:
    specs = [spec(books.source, books.wallet if n % 2 else books.other, n + 1) for n in range(1000)]
    async with db.session() as session:
        transfers = await ledger.create_transfers(session, specs)
    assert [t.id for t in transfers] == [s.id for s in specs]
    seqs = [t.seq for t in transfers]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 1000
    wallet, other = await balances(db, books.wallet, books.other)
    assert wallet.posted == sum(n + 1 for n in range(1000) if n % 2)
    assert other.posted == sum(n + 1 for n in range(1000) if not n % 2)
