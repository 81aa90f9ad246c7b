"""The restaurant hub's API shapes."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cauri.core.errors import field_error
from cauri.restaurant.models import RestaurantConnection, SyncCheckpoint


class Input(BaseModel):
    """Request bodies: an unknown field is a 422 naming it."""

    model_config = ConfigDict(extra="forbid")


class CheckpointRead(BaseModel):
    kind: str
    status: str
    watermark: datetime | None
    resumable: bool  # a run stopped half-way and will resume where it stopped
    pages: int
    seen: int
    written: int
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error_code: str | None
    last_error_message: str | None

    @classmethod
    def of(cls, row: SyncCheckpoint) -> CheckpointRead:
        return cls(
            kind=row.kind,
            status=row.status,
            watermark=row.watermark,
            resumable=row.cursor is not None,
            pages=row.pages,
            seen=row.seen,
            written=row.written,
            last_success_at=row.last_success_at,
            last_error_at=row.last_error_at,
            last_error_code=row.last_error_code,
            last_error_message=row.last_error_message,
        )


class ConnectionRead(BaseModel):
    """A connection's health: never a token."""

    provider: str
    kind: str
    status: str
    scopes: list[str]
    merchant_id: str | None
    connected_at: datetime
    expires_at: datetime | None
    refreshed_at: datetime | None
    refreshable: bool
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error_code: str | None
    last_error_message: str | None
    sync: list[CheckpointRead] = []

    @classmethod
    def of(cls, row: RestaurantConnection, checkpoints: list[SyncCheckpoint] | None = None) -> ConnectionRead:
        return cls(
            provider=row.provider,
            kind=row.kind,
            status=row.status,
            scopes=list(row.scopes or []),
            merchant_id=row.merchant_id,
            connected_at=row.connected_at,
            expires_at=row.expires_at,
            refreshed_at=row.refreshed_at,
            refreshable=row.refreshable,
            last_success_at=row.last_success_at,
            last_error_at=row.last_error_at,
            last_error_code=row.last_error_code,
            last_error_message=row.last_error_message,
            sync=[CheckpointRead.of(c) for c in checkpoints or []],
        )


class ConnectStarted(BaseModel):
    authorize_url: str


class SyncQueued(BaseModel):
    kind: str
    job_id: str


class CatalogItemRead(BaseModel):
    """A catalogue object in the POS's words, unified; ``price`` in minor units of ``currency``."""

    id: str
    type: str
    name: str
    version: int
    updated_at: datetime
    deleted: bool
    parent_id: str | None
    sku: str | None
    price: int | None
    currency: str | None


def encode_catalog_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def catalog_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error):
        raise field_error(
            "cursor", "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from None


class IngredientWrite(Input):
    name: str = Field(min_length=1, max_length=120)
    unit: str = Field(pattern="^(kg|l|piece)$")
    stock: Decimal = Field(ge=0, max_digits=12, decimal_places=3)
    threshold: Decimal = Field(ge=0, max_digits=12, decimal_places=3)
    reorder: Decimal = Field(ge=0, max_digits=12, decimal_places=3)


class IngredientRead(BaseModel):
    id: uuid.UUID
    name: str
    unit: str
    stock: Decimal
    threshold: Decimal
    reorder: Decimal


class RecipeLineWrite(Input):
    ingredient_id: uuid.UUID
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=3)


class RecipeWrite(Input):
    lines: list[RecipeLineWrite] = Field(min_length=1, max_length=50)


class SupplierProductWrite(Input):
    supplier: str = Field(min_length=1, max_length=40)
    sku: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    ingredient_id: uuid.UUID
    pack_size: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    price: int = Field(gt=0, description="Per pack, in minor units (cents)")
    currency: str = Field(pattern="^[A-Z]{3}$")
    available: bool = True


class OrderRead(BaseModel):
    id: uuid.UUID
    supplier: str
    reference: str
    status: str
    lines: list[dict[str, Any]]
    total: int
    currency: str
    drafted_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    channel: str | None = None
    supplier_order_id: str | None = None
    sent_at: datetime | None = None
    delivered: list[dict[str, Any]] = []
    invoice_number: str | None = None
    invoice_total: int | None = None
    paid_at: datetime | None = None


class PacksWrite(Input):
    packs: int = Field(ge=1, le=10_000)


class AlertRead(BaseModel):
    id: uuid.UUID
    ingredient_id: uuid.UUID
    ingredient: str
    status: str  # ordered (a draft awaits approval), no_supplier (no supplier carries it)
    stock: Decimal
    threshold: Decimal
    order_id: uuid.UUID | None
    created_at: datetime


class SupplierWrite(Input):
    """How to order from a supplier: its API (the generic profile's paths for its name), or e-mail."""

    channel: str = Field(pattern="^(api|email)$")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    base_url: str | None = Field(default=None, max_length=500, pattern="^https?://")
    api_key: SecretStr | None = None


class DeliveryLine(Input):
    sku: str = Field(min_length=1, max_length=80)
    packs: int = Field(ge=0, le=100_000)


class DeliveryWrite(Input):
    lines: list[DeliveryLine] = Field(min_length=1, max_length=200)


class InvoiceWrite(Input):
    number: str = Field(min_length=1, max_length=60)
    total: int = Field(gt=0, description="Minor units (cents)")
    currency: str = Field(pattern="^[A-Z]{3}$")
