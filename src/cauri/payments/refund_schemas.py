"""Request and response bodies of refunds (``POST``/``GET /api/v1/collections/{id}/refunds``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cauri.payments.schemas import PaymentCreate


class RefundStatus(StrEnum):
    PENDING = "pending"  # recorded, money held; the provider has it or is about to
    SUCCEEDED = "succeeded"  # the payer got the money back
    FAILED = "failed"  # nothing went back; the hold is released


class RefundMethod(StrEnum):
    REFUND = "refund"  # the provider's own refund operation
    PAYOUT = "payout"  # a payout back to the payer, for providers without one
    REVERSAL = "reversal"  # a payout undone by the provider (the payee gives it back)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(
        default=None, description="Minor units to give back; absent: everything not refunded yet", examples=[2500]
    )
    reason: str = Field(min_length=1, max_length=255, examples=["Commande annulée"])
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="Checked against the collection's"
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_minor_units(cls, value: object) -> object:
        """The same whole-minor-units rule as a payment's amount, with the same words; null means everything."""
        return None if value is None else PaymentCreate._whole_minor_units(value)


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=255, examples=["Envoyé au mauvais numéro"])


class RefundView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    object: str = "refund"
    payment_id: uuid.UUID = Field(description="The collection refunded (the payout reversed)")
    status: RefundStatus
    method: RefundMethod
    amount: int
    currency: str
    reason: str
    provider: str
    outbound_reference: str = Field(description="The reference Cauri sent to the provider for this refund")
    provider_reference: str | None
    provider_status: str | None
    failure_reason: str | None
    failure_message: str | None = Field(default=None, description="Why it failed, in the caller's language")
    payout_id: uuid.UUID | None = Field(description="The payout that carries the money back (method payout)")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
