"""The ledger's HTTP shapes. Amounts are integers of minor units (XOF: francs; EUR: cents)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cauri.ledger.deposits import Deposit
from cauri.ledger.statements import CurrencyTotals, Statement, StatementLine
from cauri.ledger.types import Account


class AccountRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    currency: str
    code: str
    owner_ref: str | None
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    posted: int = Field(description="Posted balance, from the account's normal side (credits minus debits for wallets)")
    pending: int = Field(description="Net of the holds (pending transfers) on the account")
    available: int = Field(description="What can still be debited: posted minus outgoing holds")
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountRead:
        balance = account.balance
        return cls(
            id=account.id,
            organization_id=account.organization_id,
            currency=account.currency,
            code=account.code,
            owner_ref=account.owner_ref,
            debits_must_not_exceed_credits=account.debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=account.credits_must_not_exceed_debits,
            posted=balance.posted,
            pending=balance.pending,
            available=balance.available,
            debits_pending=account.debits_pending,
            debits_posted=account.debits_posted,
            credits_pending=account.credits_pending,
            credits_posted=account.credits_posted,
            created_at=account.created_at,
        )


class StatementLineRead(BaseModel):
    seq: int = Field(description="Position in the books; increasing in the order the account was moved")
    transfer_id: uuid.UUID
    created_at: datetime
    code: str
    kind: Literal["single", "post_pending"]
    pending_id: uuid.UUID | None
    counterparty_account_id: uuid.UUID
    debit: int
    credit: int
    balance: int = Field(description="Posted balance after this line")
    metadata: dict[str, Any]

    @classmethod
    def of(cls, line: StatementLine) -> StatementLineRead:
        return cls.model_validate(line, from_attributes=True)


class StatementPage(BaseModel):
    account: AccountRead
    items: list[StatementLineRead]
    next_cursor: str | None = None

    @classmethod
    def of(cls, statement: Statement) -> StatementPage:
        return cls(
            account=AccountRead.of(statement.account),
            items=[StatementLineRead.of(line) for line in statement.lines],
            next_cursor=statement.next_cursor,
        )


class CurrencyTotalsRead(BaseModel):
    currency: str
    accounts: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    balanced: bool = Field(description="Debits equal credits, posted and pending")

    @classmethod
    def of(cls, totals: CurrencyTotals) -> CurrencyTotalsRead:
        return cls(
            currency=totals.currency,
            accounts=totals.accounts,
            debits_posted=totals.debits_posted,
            credits_posted=totals.credits_posted,
            debits_pending=totals.debits_pending,
            credits_pending=totals.credits_pending,
            balanced=totals.balanced,
        )


class TrialBalanceRead(BaseModel):
    scope: Literal["platform", "organization"]
    organization_id: uuid.UUID | None
    balanced: bool = Field(description="Every currency balances")
    currencies: list[CurrencyTotalsRead]
    accounts: list[AccountRead] = Field(default_factory=list, description="The organisation's accounts (its scope)")


class DepositCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    amount: int | str = Field(
        description='Minor units as an integer, or a decimal text such as "150 000" or "99,50"', examples=[150000]
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["XOF"])
    bank_reference: str = Field(min_length=1, max_length=100, description="The bank's reference of the transfer")
    proof_file_name: str | None = Field(default=None, max_length=255, description="Name of the bank receipt file")


class DepositRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    account_id: uuid.UUID
    transfer_id: uuid.UUID
    amount: int
    currency: str
    bank_reference: str
    proof_file_name: str | None
    recorded_by: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, deposit: Deposit) -> DepositRead:
        return cls.model_validate(deposit, from_attributes=True)
