"""Tables of bulk disbursements: a batch (one uploaded file), its payable lines and its outbound callbacks.

A batch keeps the validation report (totals, the first issues, counts per code) as JSON; its lines are the
valid, normalised lines of the file, written in chunks as validation streams them (:func:`line_row`).
A line is identified by its batch and its line number in the file, which is also what the operator reads.

Money (docs/bulk.md, "Reservation"): ``reservation_id`` is the one pending ledger transfer that holds what is
still unpaid (``reserved_amount``); every settlement posts the paid part of it and re-reserves the rest in the
same transaction, so at every commit ``completed_amount`` equals what the ledger posted for the batch.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
from cauri.core.security import EncryptedColumn
from cauri.disbursements.ingest.copyrows import COPY_COLUMNS
from cauri.disbursements.validation import ValidationReport, ValidLine


class BatchState(StrEnum):
    DRAFT = "DRAFT"  # validated, not submitted
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # maker-checker: a second person must approve
    RESERVED = "RESERVED"  # the batch total is held on the organisation's ledger account
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    PARTIALLY_COMPLETED = "PARTIALLY_COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_BATCH_STATES = frozenset(
    {BatchState.COMPLETED, BatchState.PARTIALLY_COMPLETED, BatchState.FAILED, BatchState.CANCELLED}
)
RUNNING_BATCH_STATES = frozenset({BatchState.RESERVED, BatchState.PROCESSING})


class LineState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"  # claimed by a worker; sent to the provider, or about to be
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # the provider's final refusal or failure (``failure_reason``); may be retried
    CANCELLED = "CANCELLED"  # never sent: the batch was cancelled first


class PayeeCheck(StrEnum):
    NOT_REQUESTED = "not_requested"
    RUNNING = "running"
    DONE = "done"


class PayeeStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # no account, or an account that cannot receive
    UNAVAILABLE = "unavailable"  # the provider did not answer the lookup
    UNSUPPORTED = "unsupported"  # the provider offers no account-holder lookup


class BulkBatch(IdMixin, TimestampMixin, Base):
    __tablename__ = "bulk_batches"

    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by: Mapped[uuid.UUID | None]  # user id (None when an API key created it)
    created_by_api_key_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(24), default=BatchState.DRAFT, index=True)
    provider: Mapped[str] = mapped_column(String(40))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    callback_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    callback_progress: Mapped[bool] = mapped_column(Boolean, default=False)  # also at 25/50/75 %
    callback_milestone: Mapped[int] = mapped_column(Integer, default=0)  # last progress milestone announced
    # Who moved it along, and when.
    submitted_by: Mapped[uuid.UUID | None]
    submitted_by_api_key_id: Mapped[uuid.UUID | None]
    submitted_at: Mapped[datetime | None]
    approved_by: Mapped[uuid.UUID | None]
    approved_by_api_key_id: Mapped[uuid.UUID | None]
    approved_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]  # first line claimed
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # last sign of a worker on it (the sweeper restarts silent batches)
    run: Mapped[int] = mapped_column(Integer, default=0)  # 1 at the first approval, +1 per retry
    # The ledger: one pending transfer holds the unpaid rest (see the module docstring).
    account_id: Mapped[uuid.UUID | None]  # the organisation's operating account, debited
    reservation_id: Mapped[uuid.UUID | None]
    reservation_index: Mapped[int] = mapped_column(Integer, default=0)
    reserved_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # Progress, kept in the transactions that move the lines.
    completed_lines: Mapped[int] = mapped_column(Integer, default=0)
    failed_lines: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_lines: Mapped[int] = mapped_column(Integer, default=0)
    completed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The optional account-holder check of the payees.
    payee_check: Mapped[str] = mapped_column(String(16), default=PayeeCheck.NOT_REQUESTED)
    payees_checked: Mapped[int] = mapped_column(Integer, default=0)
    payees_flagged: Mapped[int] = mapped_column(Integer, default=0)
    # The uploaded file.
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str | None] = mapped_column(String(24))  # FileFormat
    file_container: Mapped[str | None] = mapped_column(String(8))  # Container
    file_encoding: Mapped[str | None] = mapped_column(String(24))
    # What validation found.
    currency: Mapped[str | None] = mapped_column(String(3))
    total_lines: Mapped[int] = mapped_column(Integer, default=0)
    valid_lines: Mapped[int] = mapped_column(Integer, default=0)
    invalid_lines: Mapped[int] = mapped_column(Integer, default=0)
    warning_lines: Mapped[int] = mapped_column(Integer, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units of the valid lines
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def record_validation(self, report: ValidationReport) -> None:
        """Copy a complete validation report onto the batch."""
        if not report.complete:
            raise ValueError("the validation report is not complete: iterate the validation to its end first")
        self.file_format = report.file_format
        self.file_container = report.container
        self.file_encoding = report.encoding
        self.currency = report.currency
        self.total_lines = report.lines
        self.valid_lines = report.valid_lines
        self.invalid_lines = report.invalid_lines
        self.warning_lines = report.warning_lines
        self.total_amount = report.totals.get(report.currency, 0) if report.currency else 0
        self.report = report.to_dict()


class BulkLine(Base):
    __tablename__ = "bulk_lines"
    __table_args__ = (
        # Transfer ids are unique per batch. Ids the file chose (standard format) are indexed: unique per batch
        # here, and looked up by organisation for "already used in an earlier batch". Generated ids are
        # uuid5(batch, line number), unique by construction through the primary key, and never indexed: a
        # random key costs a million-line upload as much as the rest of its storage.
        Index(
            "uq_bulk_lines_chosen_transfer_id",
            "organization_id",
            "transfer_id",
            "batch_id",
            unique=True,
            postgresql_where=text("chosen_id"),
            sqlite_where=text("chosen_id"),
        ),
        Index("ix_bulk_lines_batch_id_state", "batch_id", "state"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bulk_batches.id", ondelete="CASCADE"), primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer, primary_key=True)  # as the spreadsheet shows it
    organization_id: Mapped[uuid.UUID]
    transfer_id: Mapped[str] = mapped_column(String(64))
    chosen_id: Mapped[bool] = mapped_column(Boolean, default=False)  # the file chose it (standard format)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    party_id_type: Mapped[str] = mapped_column(String(16))
    party_identifier: Mapped[str] = mapped_column(String(128))  # E.164 for MSISDN
    payee_name: Mapped[str | None] = mapped_column(String(140))
    review: Mapped[str | None] = mapped_column(String(200))  # warning codes, comma-separated
    state: Mapped[str] = mapped_column(String(16), default=LineState.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # payment attempts: each has its own reference
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The provider's side of the current attempt.
    provider_reference: Mapped[str | None] = mapped_column(String(64))  # ours, derived from the transfer id
    provider_payment_id: Mapped[str | None] = mapped_column(String(128))  # theirs
    provider_status: Mapped[str | None] = mapped_column(String(64))
    provider_group: Mapped[str | None] = mapped_column(String(64))  # the bulk it went in (providers with a bulk API)
    submitted_at: Mapped[datetime | None]  # the provider acknowledged the attempt
    polls: Mapped[int] = mapped_column(Integer, default=0)
    # A worker owns a PROCESSING line until ``lease_until``; its writes are fenced by ``lease_token``.
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[uuid.UUID | None]
    completed_at: Mapped[datetime | None]
    settlement: Mapped[int | None] = mapped_column(Integer)  # index of the reservation whose post paid it
    payee_status: Mapped[str | None] = mapped_column(String(16))  # PayeeStatus
    payee_provider_name: Mapped[str | None] = mapped_column(String(140))


class BulkCallback(IdMixin, Base):
    """One signed notification to a batch's ``callback_url`` (progress milestone or end), delivered with retries."""

    __tablename__ = "bulk_callbacks"
    __table_args__ = (
        UniqueConstraint("batch_id", "event_key"),
        Index("ix_bulk_callbacks_state_next_attempt_at", "state", "next_attempt_at"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bulk_batches.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID]
    event_key: Mapped[str] = mapped_column(String(60))  # e.g. "run1:progress:50", "run1:final": once each
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    give_up_at: Mapped[datetime]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


# The columns of a stored line as COPY writes them (the rows of ingest.copyrows follow the same order).
LINE_COPY_COLUMNS: tuple[str, ...] = COPY_COLUMNS


def line_record(
    line: ValidLine, *, batch_id: uuid.UUID, organization_id: uuid.UUID, now: datetime, chosen_id: bool = False
) -> tuple[Any, ...]:
    """A validated line as a tuple in :data:`LINE_COPY_COLUMNS` order, for PostgreSQL's ``COPY``."""
    return (
        batch_id,
        line.line,
        organization_id,
        line.transfer_id,
        chosen_id,
        line.amount,
        line.currency,
        line.party_id_type,
        line.party_identifier,
        line.payee_name,
        ",".join(line.review) or None,
        LineState.PENDING.value,
        0,
        0,
        now,
    )


def line_row(
    line: ValidLine, *, batch_id: uuid.UUID, organization_id: uuid.UUID, chosen_id: bool = False
) -> dict[str, Any]:
    """A validated line as the values of one ``bulk_lines`` row, for bulk inserts of a chunk. ``chosen_id``: the
    transfer id comes from the file (standard format), not generated."""
    return {
        "batch_id": batch_id,
        "line_number": line.line,
        "organization_id": organization_id,
        "transfer_id": line.transfer_id,
        "chosen_id": chosen_id,
        "amount": line.amount,
        "currency": line.currency,
        "party_id_type": line.party_id_type,
        "party_identifier": line.party_identifier,
        "payee_name": line.payee_name,
        "review": ",".join(line.review) or None,
        "state": LineState.PENDING.value,
        "attempts": 0,
        "polls": 0,
        "updated_at": utcnow(),
    }


# Re-encrypted by `cauri keys rotate`.
ENCRYPTED_COLUMNS = (EncryptedColumn(BulkBatch.callback_secret_encrypted),)
