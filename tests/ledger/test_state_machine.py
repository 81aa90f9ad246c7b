"""Hypothesis state machine: random accounts, transfers, chains, replays, pending/post/void/expire.

A small reference model (plain Python, sequential, obviously TigerBeetle's rules) predicts each call's outcome;
the ledger must agree — same success or same error code — and after every step the books must hold: per
currency, debits equal credits (posted and pending); no account breaks its flags; the stored balances are the
model's (so a replay or a refused call changed nothing). Runs on SQLite and on PostgreSQL through both paths.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.errors import AppError
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerAccount
from cauri.ledger.transfers import PYTHON_PATH
from cauri.ledger.types import MAX_BALANCE, TransferSpec
from tests.ledger.conftest import create_org

T = TypeVar("T")
CURRENCIES = ("XOF", "EUR")
ODD_AMOUNTS = (0, -3, 2**62, MAX_BALANCE)
OUTCOMES: Counter[str] = Counter()  # what the runs exercised: successes and each refusal code
LONG_TIMEOUT = 7 * 24 * 3600  # never reached by the wall clock during a test; only the expiry rule ends them


@dataclass
class ModelAccount:
    id: uuid.UUID
    currency: str
    debits_flag: bool
    credits_flag: bool
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def balances(self) -> tuple[int, int, int, int]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted)


@dataclass
class ModelTransfer:
    """What an id was used for: a created transfer (``spec``) or the post/void of ``pending_id``."""

    kind: str  # single | pending | post_pending | void_pending
    spec: TransferSpec | None = None
    pending_id: uuid.UUID | None = None
    amount: int = 0
    status: str = "posted"
    metadata: dict[str, Any] = field(default_factory=dict)


class Refused(Exception):
    def __init__(self, code: str, index: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.index = index


class Model:
    def __init__(self) -> None:
        self.accounts: dict[uuid.UUID, ModelAccount] = {}
        self.transfers: dict[uuid.UUID, ModelTransfer] = {}

    # --- create_transfers ---------------------------------------------------------------------------------------

    @staticmethod
    def _same(spec: TransferSpec, stored: ModelTransfer) -> bool:
        if stored.spec is None:
            return False
        return replace(spec, metadata={}) == replace(stored.spec, metadata={}) and spec.metadata == stored.spec.metadata

    def create(self, specs: list[TransferSpec]) -> None:
        """Apply ``specs`` or raise :class:`Refused` with the ledger's code, changing nothing."""
        if not specs:
            raise Refused("no_transfers")
        for index, spec in enumerate(specs):
            if not isinstance(spec.amount, int) or spec.amount <= 0:
                raise Refused("amount_must_be_positive", index)
            if spec.amount > MAX_BALANCE:
                raise Refused("amount_too_large", index)
            if spec.debit_account_id == spec.credit_account_id:
                raise Refused("accounts_must_be_different", index)
            if spec.timeout_seconds is not None and not spec.pending:
                raise Refused("timeout_reserved_for_pending_transfer", index)
        if specs[-1].linked:
            raise Refused("linked_event_chain_open", len(specs) - 1)
        scratch = {key: replace(account) for key, account in self.accounts.items()}
        new: dict[uuid.UUID, TransferSpec] = {}
        for index, spec in enumerate(specs):
            stored = self.transfers.get(spec.id)
            if stored is not None:
                if not self._same(spec, stored):
                    raise Refused("transfer_exists", index)
                continue
            if spec.id in new:
                if spec != new[spec.id]:
                    raise Refused("transfer_exists", index)
                continue
            debit, credit = scratch.get(spec.debit_account_id), scratch.get(spec.credit_account_id)
            if debit is None:
                raise Refused("debit_account_not_found", index)
            if credit is None:
                raise Refused("credit_account_not_found", index)
            if debit.currency != credit.currency:
                raise Refused("currency_mismatch", index)
            debits = debit.debits_pending + debit.debits_posted + spec.amount
            credits = credit.credits_pending + credit.credits_posted + spec.amount
            if debits > MAX_BALANCE:
                raise Refused("balance_overflow", index)
            if debit.debits_flag and debits > debit.credits_posted:
                raise Refused("insufficient_funds", index)
            if credits > MAX_BALANCE:
                raise Refused("balance_overflow", index)
            if credit.credits_flag and credits > credit.debits_posted:
                raise Refused("credits_exceed_debits", index)
            if spec.pending:
                debit.debits_pending += spec.amount
                credit.credits_pending += spec.amount
            else:
                debit.debits_posted += spec.amount
                credit.credits_posted += spec.amount
            new[spec.id] = spec
        self.accounts = scratch
        for transfer_id, spec in new.items():
            kind = "pending" if spec.pending else "single"
            self.transfers[transfer_id] = ModelTransfer(
                kind=kind, spec=spec, amount=spec.amount, status="pending" if spec.pending else "posted"
            )

    # --- post / void / expire -----------------------------------------------------------------------------------

    def resolve(self, transfer_id: uuid.UUID, pending_id: uuid.UUID, amount: int | None, *, post: bool) -> None:
        kind = "post_pending" if post else "void_pending"
        if amount is not None and amount <= 0:
            raise Refused("amount_must_be_positive")
        pending = self.transfers.get(pending_id)
        stored = self.transfers.get(transfer_id)
        if stored is not None:
            wanted = amount if amount is not None else (pending.amount if pending else stored.amount)
            if (stored.kind, stored.pending_id, stored.amount, stored.metadata) != (kind, pending_id, wanted, {}):
                raise Refused("transfer_exists")
            return
        if pending is None:
            raise Refused("pending_transfer_not_found")
        if pending.kind != "pending":
            raise Refused("pending_transfer_not_pending")
        if pending.status != "pending":
            raise Refused(
                {
                    "posted": "pending_transfer_already_posted",
                    "voided": "pending_transfer_already_voided",
                    "expired": "pending_transfer_expired",
                }[pending.status]
            )
        if amount is not None and amount > pending.amount:
            raise Refused("exceeds_pending_transfer_amount")
        assert pending.spec is not None
        resolved = amount if amount is not None else pending.amount
        self._release(pending)
        if post:
            self.accounts[pending.spec.debit_account_id].debits_posted += resolved
            self.accounts[pending.spec.credit_account_id].credits_posted += resolved
        pending.status = "posted" if post else "voided"
        self.transfers[transfer_id] = ModelTransfer(kind=kind, pending_id=pending_id, amount=resolved)

    def _release(self, pending: ModelTransfer) -> None:
        assert pending.spec is not None
        self.accounts[pending.spec.debit_account_id].debits_pending -= pending.amount
        self.accounts[pending.spec.credit_account_id].credits_pending -= pending.amount

    def expire_all_timed(self) -> None:
        for transfer in self.transfers.values():
            if (
                transfer.kind == "pending"
                and transfer.status == "pending"
                and transfer.spec
                and transfer.spec.timeout_seconds
            ):
                self._release(transfer)
                transfer.status = "expired"


class LedgerMachine(RuleBasedStateMachine):
    """Driven synchronously by Hypothesis; each step runs a unit of work on the machine's own event loop."""

    loop: asyncio.AbstractEventLoop
    sessionmaker: async_sessionmaker[AsyncSession]
    python_path: bool

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.org = uuid.uuid4()

    def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def unit() -> T:
            async with unit_of_work(self.sessionmaker) as session:
                session.info[PYTHON_PATH] = self.python_path
                return await work(session)

        return self.loop.run_until_complete(unit())

    def expect(self, call: Callable[[AsyncSession], Awaitable[Any]], predicted: Callable[[], None]) -> Any:
        """Run the model's prediction and the ledger's call; they must agree on success or on the error code."""
        try:
            predicted()
            expected: str | None = None
        except Refused as refused:
            expected = refused.code
        OUTCOMES[expected or "ok"] += 1
        try:
            result = self.run(call)
        except AppError as error:
            assert expected is not None, f"ledger refused ({error.code}) what the model accepts"
            assert error.code == expected, f"ledger said {error.code}, model {expected}"
            return None
        assert expected is None, f"ledger accepted what the model refuses ({expected})"
        return result

    @initialize()
    def organisation(self) -> None:
        self.org = self.run(create_org)
        for currency, flags in (("XOF", "none"), ("XOF", "debits"), ("XOF", "credits"), ("EUR", "none")):
            self.open_account(currency, flags)

    @precondition(lambda self: len(self.model.accounts) < 10)
    @rule(currency=st.sampled_from(CURRENCIES), flags=st.sampled_from(["none", "debits", "debits", "credits"]))
    def open_account(self, currency: str, flags: str) -> None:
        account = self.run(
            lambda session: ledger.create_account(
                session,
                organization_id=self.org,
                currency=currency,
                code="acct",
                owner_ref=uuid.uuid4().hex,
                debits_must_not_exceed_credits=flags == "debits",
                credits_must_not_exceed_debits=flags == "credits",
            )
        )
        self.model.accounts[account.id] = ModelAccount(account.id, currency, flags == "debits", flags == "credits")

    def _accounts(self, data: st.DataObject) -> tuple[uuid.UUID, uuid.UUID]:
        """A debit and a credit account: mostly two of the same currency, now and then a wrong pair."""
        known = list(self.model.accounts)  # creation order: draws must not depend on random ids
        debit = data.draw(st.sampled_from(known))
        currency = self.model.accounts[debit].currency
        same = [a for a in known if a != debit and self.model.accounts[a].currency == currency]
        odd = data.draw(st.integers(0, 24))
        # Now and then any account: maybe the same one, maybe another currency.
        credit = data.draw(st.sampled_from(known if odd == 0 or not same else same))
        if odd == 1:
            debit = uuid.uuid4()  # an account that does not exist
        elif odd == 2:
            credit = uuid.uuid4()
        return debit, credit

    def _spec(self, data: st.DataObject) -> TransferSpec:
        previous = [t.spec for t in self.model.transfers.values() if t.spec is not None]
        if previous and data.draw(st.integers(0, 9)) == 0:
            again = data.draw(st.sampled_from(previous))
            return again if data.draw(st.booleans()) else replace(again, amount=again.amount + 1)
        pending = data.draw(st.booleans())
        amount = (
            data.draw(st.integers(1, 400)) if data.draw(st.integers(0, 29)) else data.draw(st.sampled_from(ODD_AMOUNTS))
        )
        debit, credit = self._accounts(data)
        return TransferSpec(
            id=uuid.uuid4(),
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            code="machine",
            pending=pending,
            timeout_seconds=data.draw(st.sampled_from([None, LONG_TIMEOUT])) if pending else None,
            metadata=data.draw(st.sampled_from([{}, {"k": 1}])),
        )

    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        size = data.draw(st.sampled_from([1, 1, 1, 2, 2, 3, 5]))
        specs = [self._spec(data) for _ in range(size)]
        # Chains: link some transfers to the next one; rarely leave the last one open (refused).
        links = data.draw(st.lists(st.booleans(), min_size=size, max_size=size))
        links[-1] = links[-1] and data.draw(st.integers(0, 9)) == 0
        specs = [replace(s, linked=link) for s, link in zip(specs, links, strict=True)]
        result = self.expect(lambda session: ledger.create_transfers(session, specs), lambda: self.model.create(specs))
        if result is not None:
            assert [t.id for t in result] == [s.id for s in specs]

    def _pendings(self, *, open_only: bool) -> list[uuid.UUID]:
        return [
            transfer_id
            for transfer_id, t in self.model.transfers.items()
            if t.kind == "pending" and (t.status == "pending") == open_only
        ]

    @precondition(lambda self: any(t.kind == "pending" for t in self.model.transfers.values()))
    @rule(data=st.data(), post=st.booleans())
    def resolve(self, data: st.DataObject, post: bool) -> None:
        open_ones = self._pendings(open_only=True)
        closed = self._pendings(open_only=False)
        choices = open_ones if open_ones and data.draw(st.integers(0, 4)) > 0 else (closed or open_ones)
        pending_id = data.draw(st.sampled_from(choices))
        amount = None
        if post and data.draw(st.booleans()):
            amount = (
                data.draw(st.integers(1, self.model.transfers[pending_id].amount + 2))
                if data.draw(st.integers(0, 9))
                else 0
            )
        transfer_id = uuid.uuid4()
        resolved_ids = [i for i, t in self.model.transfers.items() if t.pending_id is not None]
        if resolved_ids and data.draw(st.integers(0, 5)) == 0:
            transfer_id = data.draw(st.sampled_from(resolved_ids))  # a replay, or a conflict
        if post:
            self.expect(
                lambda session: ledger.post_pending(session, id=transfer_id, pending_id=pending_id, amount=amount),
                lambda: self.model.resolve(transfer_id, pending_id, amount, post=True),
            )
        else:
            self.expect(
                lambda session: ledger.void_pending(session, id=transfer_id, pending_id=pending_id),
                lambda: self.model.resolve(transfer_id, pending_id, None, post=False),
            )

    @precondition(
        lambda self: any(
            t.status == "pending" and t.spec and t.spec.timeout_seconds for t in self.model.transfers.values()
        )
    )
    @rule()
    def expire(self) -> None:
        later = utcnow() + timedelta(seconds=LONG_TIMEOUT + 60)
        # Other organisations' holds expire too (one database per run): sweep until nothing is left, as the job does.
        while self.run(lambda session: ledger.expire_pending_transfers(session, later)):
            pass
        self.model.expire_all_timed()

    @invariant()
    def books_hold(self) -> None:
        async def read(session: AsyncSession) -> list[Any]:
            rows = await session.execute(select(LedgerAccount).where(LedgerAccount.organization_id == self.org))
            return list(rows.scalars().all())

        stored = self.run(read)
        assert {a.id for a in stored} == set(self.model.accounts)
        totals: dict[str, list[int]] = {}
        for account in stored:
            balances = (account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted)
            assert balances == self.model.accounts[account.id].balances()
            assert min(balances) >= 0
            if account.debits_must_not_exceed_credits:
                assert account.debits_pending + account.debits_posted <= account.credits_posted
            if account.credits_must_not_exceed_debits:
                assert account.credits_pending + account.credits_posted <= account.debits_posted
            sums = totals.setdefault(account.currency, [0, 0, 0, 0])
            for position, value in enumerate(balances):
                sums[position] += value
        for currency, (debits_pending, debits_posted, credits_pending, credits_posted) in totals.items():
            assert debits_pending == credits_pending, currency
            assert debits_posted == credits_posted, currency


def run_machine(database_url: str, python_path: bool) -> None:
    """Hypothesis drives the machine synchronously: it gets a thread and an event loop of its own."""
    loop = asyncio.new_event_loop()
    engine: AsyncEngine = make_engine(database_url, pool_size=2)
    try:
        LedgerMachine.loop = loop
        LedgerMachine.sessionmaker = make_sessionmaker(engine)
        LedgerMachine.python_path = python_path
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=30,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                # Shrinking replays hundreds of database steps: report the failing run as found instead.
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


@pytest.mark.slow
async def test_the_books_always_balance(database_url: str, ledger_path: str) -> None:
    OUTCOMES.clear()
    # In a thread, so that the test loop keeps running: the application's background jobs live there, and on
    # SQLite a job paused in the middle of its transaction would hold the write lock for the whole run.
    await asyncio.to_thread(run_machine, database_url, ledger_path == "python")
    # The runs must have reached successes and a good share of the refusals, or they prove little.
    assert OUTCOMES["ok"] >= 50, OUTCOMES
    assert len(OUTCOMES) >= 8, OUTCOMES
