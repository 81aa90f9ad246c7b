"""Ledger tables: accounts with their four balances, immutable-by-convention transfers, bank deposits.

Only ``cauri.ledger`` writes these tables. Balances are guarded twice: by the services (which lock the accounts of
a call in one fixed order and check every rule before writing anything) and by CHECK constraints, so that even a
bug cannot overdraw an account whose flags forbid it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, utcnow

# JSON on SQLite, JSONB on PostgreSQL (compared by value when a transfer id is replayed).
JSONType = JSON().with_variant(JSONB(), "postgresql")
# A 64-bit integer that is SQLite's rowid alias when it is the primary key, a bigserial on PostgreSQL.
SequenceType = BigInteger().with_variant(Integer(), "sqlite")


class LedgerAccount(IdMixin, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("organization_id", "currency", "code", "owner_ref"),
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="balances_not_negative",
        ),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_pending + debits_posted <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits OR credits_pending + credits_posted <= debits_posted",
            name="credits_within_debits",
        ),
        CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="one_balance_flag",
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(40))
    # Who inside the organisation the account belongs to (a provider, a member, a tenant…); "" for the organisation.
    owner_ref: Mapped[str] = mapped_column(String(120), default="")
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(default=False)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransfer(Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        CheckConstraint("kind IN ('single', 'pending', 'post_pending', 'void_pending')", name="kind_known"),
        CheckConstraint("status IN ('posted', 'pending', 'voided', 'expired')", name="status_known"),
        # Statements read an account's lines in ``seq`` order, from either side.
        Index("ix_ledger_transfers_debit_account_id_seq", "debit_account_id", "seq"),
        Index("ix_ledger_transfers_credit_account_id_seq", "credit_account_id", "seq"),
        # The expiry job scans only the pending transfers that have a timeout.
        Index(
            "ix_ledger_transfers_expires_at_pending",
            "expires_at",
            postgresql_where=text("status = 'pending' AND expires_at IS NOT NULL"),
            sqlite_where=text("status = 'pending' AND expires_at IS NOT NULL"),
        ),
    )

    # The order of the books (TigerBeetle's "timestamp"): strictly increasing in commit order per account, because
    # it is drawn while the transfer's accounts are locked.
    seq: Mapped[int] = mapped_column(SequenceType, primary_key=True, autoincrement=True)
    # Chosen by the caller: replaying it is harmless.
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    organization_id: Mapped[uuid.UUID]
    # No foreign keys here, on purpose: every path checks both accounts exist while holding their locks, in the
    # statement that inserts the transfer; the two referential checks per row cost more than the rest of a
    # thousand-transfer call. Accounts are never deleted.
    debit_account_id: Mapped[uuid.UUID]
    credit_account_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(40))
    # single: posted at once; pending: a hold; post_pending / void_pending: the resolution of ``pending_id``.
    kind: Mapped[str] = mapped_column(String(12))
    # posted (single, post_pending); pending -> posted | voided | expired (pending); voided (void_pending).
    status: Mapped[str] = mapped_column(String(8))
    pending_id: Mapped[uuid.UUID | None]
    linked: Mapped[bool] = mapped_column(default=False)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerDeposit(IdMixin, Base):
    """Money an organisation sent to the platform's bank account, recorded by a platform admin."""

    __tablename__ = "ledger_deposits"
    __table_args__ = (
        UniqueConstraint("organization_id", "bank_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"))
    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transfers.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    bank_reference: Mapped[str] = mapped_column(String(100))
    proof_file_name: Mapped[str | None] = mapped_column(String(255))
    recorded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
