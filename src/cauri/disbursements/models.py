"""Tables of bulk disbursements: a batch (one uploaded file) and its payable lines.

A batch keeps the validation report (totals, the first issues, counts per code) as JSON; its lines are the
valid, normalised lines of the file, written in chunks as validation streams them (:func:`line_row`).
A line is identified by its batch and its line number in the file, which is also what the operator reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
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


class LineState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class BulkBatch(IdMixin, TimestampMixin, Base):
    __tablename__ = "bulk_batches"

    organization_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_by: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(24), default=BatchState.DRAFT, index=True)
    provider: Mapped[str] = mapped_column(String(40))
    callback_url: Mapped[str | None] = mapped_column(String(2000))
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
        UniqueConstraint("batch_id", "transfer_id"),
        # "Already used in an earlier batch": looked up by organisation and transfer id.
        Index("ix_bulk_lines_organization_id_transfer_id", "organization_id", "transfer_id"),
        Index("ix_bulk_lines_batch_id_state", "batch_id", "state"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bulk_batches.id", ondelete="CASCADE"), primary_key=True)
    line_number: Mapped[int] = mapped_column(Integer, primary_key=True)  # as the spreadsheet shows it
    organization_id: Mapped[uuid.UUID]
    transfer_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    party_id_type: Mapped[str] = mapped_column(String(16))
    party_identifier: Mapped[str] = mapped_column(String(128))  # E.164 for MSISDN
    payee_name: Mapped[str | None] = mapped_column(String(140))
    review: Mapped[str | None] = mapped_column(String(200))  # warning codes, comma-separated
    state: Mapped[str] = mapped_column(String(16), default=LineState.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def line_row(line: ValidLine, *, batch_id: uuid.UUID, organization_id: uuid.UUID) -> dict[str, Any]:
    """A validated line as the values of one ``bulk_lines`` row, for bulk inserts of a chunk."""
    return {
        "batch_id": batch_id,
        "line_number": line.line,
        "organization_id": organization_id,
        "transfer_id": line.transfer_id,
        "amount": line.amount,
        "currency": line.currency,
        "party_id_type": line.party_id_type,
        "party_identifier": line.party_identifier,
        "payee_name": line.payee_name,
        "review": ",".join(line.review) or None,
        "state": LineState.PENDING.value,
        "attempts": 0,
        "updated_at": utcnow(),
    }
