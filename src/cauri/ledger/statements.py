"""Reading the books: an account's statement with running balance, and the trial balance.

A statement line is a transfer that changed the account's *posted* balance (a single-phase transfer or the post
of a pending one); holds show in the balances, not as lines. Lines are in the books' order (``seq``), which on
one account is commit order because a transfer draws its ``seq`` while holding the account's lock. The balance
after a line is therefore ``posted now - the effect of every later line``, computed in one statement so that the
numbers are consistent even while new transfers land: paging back from the newest line costs what it reads.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.errors import field_error
from cauri.ledger.accounts import get_account
from cauri.ledger.models import LedgerAccount, LedgerTransfer
from cauri.ledger.types import POST_PENDING, SINGLE, Account

transfers = cast(Table, LedgerTransfer.__table__)
accounts = cast(Table, LedgerAccount.__table__)
POSTING_KINDS = (SINGLE, POST_PENDING)


@dataclass(frozen=True, slots=True)
class StatementLine:
    seq: int
    transfer_id: uuid.UUID
    created_at: datetime
    code: str
    kind: str
    pending_id: uuid.UUID | None
    counterparty_account_id: uuid.UUID
    debit: int  # what this line took from the account (minor units), else 0
    credit: int  # what it brought, else 0
    balance: int  # the posted balance after this line, from the account's normal side (see Balance)
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Statement:
    account: Account
    lines: list[StatementLine]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    accounts: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def balanced(self) -> bool:
        return self.debits_posted == self.credits_posted and self.debits_pending == self.credits_pending


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        prefix, _, number = raw.partition(":")
        if prefix != "seq" or not number.isdigit():
            raise ValueError(raw)
        return int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise field_error(
            "cursor", "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from None


def _sign(account: Account) -> int:
    """+1 when credits raise the account's balance (credit-normal), -1 for debit-normal accounts."""
    return -1 if account.debit_normal else 1


def _lines_query(
    account_id: uuid.UUID,
    *,
    before_seq: int | None,
    after_seq: int | None,
    since: datetime | None,
    until: datetime | None,
    newest_first: bool,
    limit: int,
) -> Select[Any]:
    """The account's posting lines from both sides, each side read in index order, merged."""

    def side(column: str, counterparty: str, direction: int) -> Any:
        conditions: list[ColumnElement[bool]] = [
            transfers.c[column] == account_id,
            transfers.c.kind.in_(POSTING_KINDS),
        ]
        if before_seq is not None:
            conditions.append(transfers.c.seq < before_seq)
        if after_seq is not None:
            conditions.append(transfers.c.seq > after_seq)
        if since is not None:
            conditions.append(transfers.c.created_at >= since)
        if until is not None:
            conditions.append(transfers.c.created_at < until)
        order = transfers.c.seq.desc() if newest_first else transfers.c.seq.asc()
        return (
            select(
                transfers.c.seq,
                transfers.c.id,
                transfers.c.created_at,
                transfers.c.code,
                transfers.c.kind,
                transfers.c.pending_id,
                transfers.c[counterparty].label("counterparty"),
                transfers.c.amount,
                literal(direction).label("direction"),
                transfers.c.metadata,
            )
            .where(and_(*conditions))
            .order_by(order)
            .limit(limit)
            .subquery()
        )

    debits = side("debit_account_id", "credit_account_id", -1)
    credits = side("credit_account_id", "debit_account_id", 1)
    merged = union_all(select(debits), select(credits)).subquery()
    order = merged.c.seq.desc() if newest_first else merged.c.seq.asc()
    return select(merged).order_by(order).limit(limit)


async def _balance_after(session: AsyncSession, account: Account, seq: int) -> int:
    """The posted balance right after line ``seq``: posted now minus every later line, in one snapshot."""

    def later(column: str) -> Any:
        return (
            select(func.coalesce(func.sum(transfers.c.amount), 0))
            .where(
                transfers.c[column] == account.id,
                transfers.c.kind.in_(POSTING_KINDS),
                transfers.c.seq > seq,
            )
            .scalar_subquery()
        )

    row = (
        await session.execute(
            select(
                accounts.c.credits_posted - accounts.c.debits_posted,
                later("credit_account_id"),
                later("debit_account_id"),
            ).where(accounts.c.id == account.id)
        )
    ).one()
    credit_normal_now, later_credits, later_debits = (int(value) for value in row)
    return _sign(account) * (credit_normal_now - (later_credits - later_debits))


def _line(row: Any, account: Account, balance: int) -> StatementLine:
    amount = int(row.amount)
    return StatementLine(
        seq=row.seq,
        transfer_id=row.id,
        created_at=row.created_at,
        code=row.code,
        kind=row.kind,
        pending_id=row.pending_id,
        counterparty_account_id=row.counterparty,
        debit=amount if row.direction < 0 else 0,
        credit=amount if row.direction > 0 else 0,
        balance=balance,
        metadata=row.metadata or {},
    )


def _effect(row: Any, account: Account) -> int:
    return _sign(account) * int(row.direction) * int(row.amount)


async def statement(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    limit: int = 50,
    cursor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Statement:
    """A page of the account's lines, newest first, each with the balance after it; ``next_cursor`` pages back.

    With ``organization_id``, another organisation's account is a 404.
    """
    account = await get_account(session, account_id, organization_id=organization_id)
    before = decode_cursor(cursor) if cursor else None
    query = _lines_query(
        account.id, before_seq=before, after_seq=None, since=since, until=until, newest_first=True, limit=limit + 1
    )
    rows = list((await session.execute(query)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].seq)
    lines = []
    if rows:
        balance = await _balance_after(session, account, rows[0].seq)
        for row in rows:
            lines.append(_line(row, account, balance))
            balance -= _effect(row, account)
    return Statement(account=account, lines=lines, next_cursor=next_cursor)


async def statement_lines(
    sessionmaker: async_sessionmaker[AsyncSession],
    account: Account,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk: int = 1000,
) -> AsyncIterator[StatementLine]:
    """Every line of the period, oldest first, with running balance (for exports).

    Each ``chunk`` of lines is read in a short transaction of its own, so a slow reader never holds the database
    (on SQLite every transaction takes the write lock). Lines never change and an account's ``seq`` only grows, so
    the running balance carried from chunk to chunk stays exact.
    """
    after: int | None = None
    balance: int | None = None
    while True:
        query = _lines_query(
            account.id, before_seq=None, after_seq=after, since=since, until=until, newest_first=False, limit=chunk
        )
        async with sessionmaker() as session:
            rows = list((await session.execute(query)).all())
            if rows and balance is None:
                balance = await _balance_after(session, account, rows[0].seq) - _effect(rows[0], account)
        if not rows or balance is None:
            return
        for row in rows:
            balance += _effect(row, account)
            yield _line(row, account, balance)
        if len(rows) < chunk:
            return
        after = rows[-1].seq


async def trial_balance(session: AsyncSession, *, organization_id: uuid.UUID | None = None) -> list[CurrencyTotals]:
    """Per currency, the sums of every account's balances (of one organisation, or of the whole platform).

    Every transfer debits one account and credits another by the same amount, so on the whole platform debits
    equal credits in each currency, posted and pending: the books sum to zero.
    """
    query = select(
        accounts.c.currency,
        func.count(),
        func.coalesce(func.sum(accounts.c.debits_posted), 0),
        func.coalesce(func.sum(accounts.c.credits_posted), 0),
        func.coalesce(func.sum(accounts.c.debits_pending), 0),
        func.coalesce(func.sum(accounts.c.credits_pending), 0),
    ).group_by(accounts.c.currency)
    if organization_id is not None:
        query = query.where(accounts.c.organization_id == organization_id)
    rows = (await session.execute(query.order_by(accounts.c.currency))).all()
    return [
        CurrencyTotals(
            currency=row[0],
            accounts=int(row[1]),
            debits_posted=int(row[2]),
            credits_posted=int(row[3]),
            debits_pending=int(row[4]),
            credits_pending=int(row[5]),
        )
        for row in rows
    ]
