"""What the ledger's service takes and returns: plain frozen values, never ORM objects.

Balances change under the services' feet (other transactions, the SQL fast path), so the ledger hands out
snapshots; read :func:`cauri.ledger.service.balance` again for fresh numbers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Account codes the platform itself uses.
OPERATING = "org_wallet"  # an organisation's wallet in one currency: cannot go below zero
PROVIDER_CLEARING = "provider_clearing"  # what a mobile-money provider owes us (owner_ref = provider); may go negative
BANK_DEPOSITS = "bank_deposits"  # money the organisation sent to the platform's bank account (external funding)

# Transfer kinds and states.
SINGLE = "single"
PENDING = "pending"
POST_PENDING = "post_pending"
VOID_PENDING = "void_pending"
POSTED = "posted"
VOIDED = "voided"
EXPIRED = "expired"

MAX_BALANCE = 2**63 - 1  # a 64-bit signed column; no balance or amount may pass it
MAX_TRANSFERS_PER_CALL = 8190  # TigerBeetle's batch size
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600
MAX_METADATA_BYTES = 4096


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """One transfer to create. ``id`` is chosen by the caller (e.g. derived from a payment id) and makes retries safe.

    ``linked=True`` chains this transfer to the next one; the last one of a chain has ``linked=False``.
    """

    id: uuid.UUID
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    code: str
    pending: bool = False
    timeout_seconds: int | None = None
    linked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transfer:
    id: uuid.UUID
    seq: int  # the books' order (TigerBeetle's timestamp): increasing in commit order on every account
    organization_id: uuid.UUID
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    currency: str
    code: str
    kind: str  # single | pending | post_pending | void_pending
    status: str  # posted | pending | voided | expired
    pending_id: uuid.UUID | None
    linked: bool
    timeout_seconds: int | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    organization_id: uuid.UUID
    currency: str
    code: str
    owner_ref: str | None
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    created_at: datetime

    @property
    def debit_normal(self) -> bool:
        """Accounts whose credits may not exceed their debits (assets) read their balances debit minus credit."""
        return self.credits_must_not_exceed_debits

    @property
    def balance(self) -> Balance:
        return Balance.of(self)


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's balances in minor units, signed from the account's normal side.

    Credit-normal accounts (wallets, the default): ``posted = credits_posted - debits_posted``, ``pending`` is
    the net of holds (``credits_pending - debits_pending``) and ``available = posted - debits_pending``: what can
    still be debited. Debit-normal accounts (``credits_must_not_exceed_debits``) mirror it.
    """

    account_id: uuid.UUID
    currency: str
    posted: int
    pending: int
    available: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @classmethod
    def of(cls, account: Account) -> Balance:
        if account.debit_normal:
            posted = account.debits_posted - account.credits_posted
            pending = account.debits_pending - account.credits_pending
            available = posted - account.credits_pending
        else:
            posted = account.credits_posted - account.debits_posted
            pending = account.credits_pending - account.debits_pending
            available = posted - account.debits_pending
        return cls(
            account_id=account.id,
            currency=account.currency,
            posted=posted,
            pending=pending,
            available=available,
            debits_pending=account.debits_pending,
            debits_posted=account.debits_posted,
            credits_pending=account.credits_pending,
            credits_posted=account.credits_posted,
        )
