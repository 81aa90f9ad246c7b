"""Square's wire models (the fields Cauri reads), ``extra="allow"``: an answer of another shape is
``provider_unreadable_answer`` (:func:`cauri.kit.errors.read_wire`), never an empty success."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Lean(BaseModel):
    """The objects of a page (up to 1,000 orders): fields Square adds are ignored, not kept (a page is parsed
    several times faster); the answers around them stay ``extra="allow"``."""

    model_config = ConfigDict(extra="ignore")


class Money(Lean):
    amount: int
    currency: str


class Location(Wire):
    id: str
    name: str = ""
    currency: str = "USD"
    status: str = "ACTIVE"


class LocationsAnswer(Wire):
    locations: list[Location] = Field(default_factory=list)


class Payment(Lean):
    id: str
    status: str
    created_at: str
    updated_at: str
    amount_money: Money
    location_id: str | None = None
    order_id: str | None = None


class PaymentsAnswer(Wire):
    payments: list[Payment] = Field(default_factory=list)
    cursor: str | None = None


class VariationData(Wire):
    item_id: str | None = None
    name: str = ""
    sku: str | None = None
    price_money: Money | None = None


class ItemData(Wire):
    name: str = ""
    variations: list[CatalogObject] = Field(default_factory=list)


class CategoryData(Wire):
    name: str = ""


class CatalogObject(Wire):
    type: str
    id: str
    updated_at: str
    version: int = 0
    is_deleted: bool = False
    item_data: ItemData | None = None
    item_variation_data: VariationData | None = None
    category_data: CategoryData | None = None


class CatalogAnswer(Wire):
    objects: list[CatalogObject] = Field(default_factory=list)
    cursor: str | None = None


class LineItem(Lean):
    name: str = ""
    quantity: str
    catalog_object_id: str | None = None
    total_money: Money | None = None


class Order(Lean):
    id: str
    location_id: str
    state: str
    created_at: str
    updated_at: str
    version: int = 0
    total_money: Money | None = None
    line_items: list[LineItem] = Field(default_factory=list)


class OrdersAnswer(Wire):
    orders: list[Order] = Field(default_factory=list)
    cursor: str | None = None


class OrderAnswer(Wire):
    order: Order


class InventoryCount(Lean):
    catalog_object_id: str
    location_id: str
    state: str
    quantity: str
    calculated_at: str


class CountsAnswer(Wire):
    counts: list[InventoryCount] = Field(default_factory=list)
    cursor: str | None = None


class TokenAnswer(Wire):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a word, not a secret
    expires_at: str
    merchant_id: str | None = None
    refresh_token: str | None = None
    short_lived: bool = False


class EventData(Wire):
    type: str = ""
    id: str = ""
    object: dict[str, Any] = Field(default_factory=dict)


class Event(Wire):
    merchant_id: str | None = None
    type: str
    event_id: str
    created_at: str | None = None
    data: EventData = Field(default_factory=EventData)


ItemData.model_rebuild()
