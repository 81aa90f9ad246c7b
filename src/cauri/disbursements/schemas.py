"""Request and response bodies of the bulk transfers API. Amounts are integers of minor units with a currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cauri.core.i18n import Language, pick
from cauri.disbursements.callbacks import progress_percent
from cauri.disbursements.models import BatchState, BulkBatch, BulkLine, LineState
from cauri.kit.errors import FailureReason

# Failure reasons that are Cauri's own, not a provider's (those are FailureReason).
_OWN_REASONS: dict[str, tuple[str, str]] = {
    "provider_auth_failed": (
        "Le fournisseur a refusé nos identifiants : vérifiez la configuration du connecteur.",
        "The provider refused our credentials: check the connector's configuration.",
    ),
    "invalid_request": ("Le fournisseur a refusé la demande.", "The provider refused the request."),
    "unsupported": (
        "Le fournisseur ne permet pas ce paiement.",
        "The provider does not allow this payment.",
    ),
    "failed": ("Le paiement a échoué.", "The payment failed."),
}


def failure_message(reason: str | None, language: Language | None = None) -> str | None:
    """The operator's explanation of a line's failure, in their language."""
    if reason is None:
        return None
    if reason in FailureReason.__members__.values():
        return FailureReason(reason).message(language)
    fr, en = _OWN_REASONS.get(reason, _OWN_REASONS["failed"])
    return pick(fr, en, language)


class BulkBatchRead(BaseModel):
    id: uuid.UUID
    state: BatchState
    provider: str
    currency: str | None
    file_name: str
    file_size: int
    file_sha256: str
    file_format: str | None
    total_lines: int = Field(description="Payment lines read in the file")
    valid_lines: int = Field(description="Lines that will be paid")
    invalid_lines: int
    warning_lines: int = Field(description="Valid lines flagged for review")
    total_amount: int = Field(description="Minor units of the valid lines")
    completed_lines: int
    failed_lines: int
    cancelled_lines: int
    completed_amount: int
    failed_amount: int
    reserved_amount: int = Field(description="Still held on the ledger for this batch")
    progress_percent: float
    run: int
    cancel_requested: bool
    callback_url: str | None
    callback_progress: bool
    payee_check: str
    payees_checked: int
    payees_flagged: int
    created_by: uuid.UUID | None
    created_by_api_key_id: uuid.UUID | None
    submitted_by: uuid.UUID | None
    submitted_at: datetime | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    cancelled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class BulkBatchDetail(BulkBatchRead):
    report: dict[str, Any] = Field(description="The validation report (first 1000 issues in detail, all counted)")


class BulkBatchCreated(BulkBatchDetail):
    callback_secret: str | None = Field(
        default=None, description="Signs the callbacks (Cauri-Signature); shown once, keep it"
    )


class BulkLineRead(BaseModel):
    line_number: int
    transfer_id: str
    amount: int
    currency: str
    party_id_type: str
    party_identifier: str
    payee_name: str | None
    review: list[str]
    state: LineState
    failure_reason: str | None
    failure_message: str | None
    attempts: int
    provider_reference: str | None
    provider_payment_id: str | None
    provider_status: str | None
    completed_at: datetime | None
    payee_status: str | None
    payee_provider_name: str | None


class BulkAmounts(BaseModel):
    total: int
    completed: int
    failed: int
    reserved: int
    currency: str | None


class BulkStatus(BaseModel):
    batch: BulkBatchRead
    counts: dict[str, int] = Field(description="Lines per state: PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED")
    amounts: BulkAmounts
    lines: list[BulkLineRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page of lines")


class BulkProgress(BaseModel):
    """One event of the live stream."""

    state: BatchState
    completed: int
    failed: int
    cancelled: int
    total: int
    progress_percent: float


class BulkRetry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[int] | None = Field(
        default=None, max_length=100_000, description="Line numbers to retry (default: every failed line)"
    )


def batch_read(batch: BulkBatch) -> BulkBatchRead:
    return BulkBatchRead.model_validate(_batch_fields(batch))


def batch_detail(batch: BulkBatch) -> BulkBatchDetail:
    return BulkBatchDetail.model_validate({**_batch_fields(batch), "report": batch.report or {}})


def batch_created(batch: BulkBatch, secret: str | None) -> BulkBatchCreated:
    return BulkBatchCreated.model_validate(
        {**_batch_fields(batch), "report": batch.report or {}, "callback_secret": secret}
    )


def _batch_fields(batch: BulkBatch) -> dict[str, Any]:
    fields = {name: getattr(batch, name) for name in BulkBatchRead.model_fields if name != "progress_percent"}
    fields["progress_percent"] = progress_percent(batch)
    return fields


def progress_of(batch: BulkBatch) -> BulkProgress:
    return BulkProgress(
        state=BatchState(batch.state),
        completed=batch.completed_lines,
        failed=batch.failed_lines,
        cancelled=batch.cancelled_lines,
        total=batch.valid_lines,
        progress_percent=progress_percent(batch),
    )


def line_read(line: BulkLine, language: Language | None = None) -> BulkLineRead:
    return BulkLineRead(
        line_number=line.line_number,
        transfer_id=line.transfer_id,
        amount=line.amount,
        currency=line.currency,
        party_id_type=line.party_id_type,
        party_identifier=line.party_identifier,
        payee_name=line.payee_name,
        review=[code for code in (line.review or "").split(",") if code],
        state=LineState(line.state),
        failure_reason=line.failure_reason,
        failure_message=failure_message(line.failure_reason, language),
        attempts=line.attempts,
        provider_reference=line.provider_reference,
        provider_payment_id=line.provider_payment_id,
        provider_status=line.provider_status,
        completed_at=line.completed_at,
        payee_status=line.payee_status,
        payee_provider_name=line.payee_provider_name,
    )
