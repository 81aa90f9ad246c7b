"""Square wire <-> Cauri's unified POS models: state maps, times, amounts (Square's ``amount`` is already in
minor units), quantities (decimal strings), and Square's error envelope ``{"errors": [{category, code, detail,
field}]}`` -> the kit's errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from cauri.connectors.restaurant.base import (
    CatalogObject,
    PosPayment,
    PosPaymentStatus,
    Sale,
    SaleLine,
    SaleState,
    StockChange,
    StockChangeKind,
    StockCount,
    WebhookEvent,
)
from cauri.connectors.restaurant.pos.square import schemas
from cauri.kit.errors import AuthError, ConnectorError, InvalidRequest, RateLimited, unreadable_answer

PROVIDER = "square"

SALE_STATES = {"COMPLETED": SaleState.COMPLETED, "CANCELED": SaleState.CANCELLED, "OPEN": SaleState.OPEN}
PAYMENT_STATUSES = {
    "COMPLETED": PosPaymentStatus.COMPLETED,
    "APPROVED": PosPaymentStatus.PENDING,
    "PENDING": PosPaymentStatus.PENDING,
    "CANCELED": PosPaymentStatus.CANCELLED,
    "FAILED": PosPaymentStatus.FAILED,
}
CATALOG_TYPES = {"ITEM": "item", "ITEM_VARIATION": "variation", "CATEGORY": "category"}
#: Which object kind a webhook event asks to sync again.
EVENT_KINDS = {
    "order.created": "sales",
    "order.updated": "sales",
    "order.fulfillment.updated": "sales",
    "catalog.version.updated": "catalog",
    "inventory.count.updated": "stock",
    "payment.created": "payments",
    "payment.updated": "payments",
}


def rfc3339(moment: datetime) -> str:
    """Square's timestamps: RFC 3339 in UTC with milliseconds (``2026-12-07T10:00:00.000Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise unreadable_answer(PROVIDER, f"timestamp {value[:40]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_quantity(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise unreadable_answer(PROVIDER, "quantity") from exc


def quantity_text(value: Decimal) -> str:
    """Square takes up to five decimals, as a string; ``1.50000`` is sent as ``1.5``."""
    return format(value.quantize(Decimal("0.00001")).normalize(), "f")


def catalog_objects(raw: schemas.CatalogObject) -> list[CatalogObject]:
    """One Square object -> unified objects (an ITEM carries its variations, which are what is sold)."""
    out = [_catalog_object(raw, parent=None)]
    if raw.item_data is not None:
        out.extend(_catalog_object(variation, parent=raw) for variation in raw.item_data.variations)
    return out


def _catalog_object(raw: schemas.CatalogObject, parent: schemas.CatalogObject | None) -> CatalogObject:
    name, sku, price, currency, parent_id = "", None, None, None, None
    if raw.item_data is not None:
        name = raw.item_data.name
    elif raw.item_variation_data is not None:
        data = raw.item_variation_data
        base = parent.item_data.name if parent is not None and parent.item_data is not None else ""
        name = f"{base} — {data.name}" if base and data.name else (base or data.name)
        sku = data.sku
        parent_id = data.item_id or (parent.id if parent is not None else None)
        if data.price_money is not None:
            price, currency = data.price_money.amount, data.price_money.currency
    elif raw.category_data is not None:
        name = raw.category_data.name
    return CatalogObject(
        id=raw.id,
        type=CATALOG_TYPES.get(raw.type, "other"),
        name=name,
        version=raw.version,
        updated_at=parse_time(raw.updated_at),
        deleted=raw.is_deleted,
        parent_id=parent_id,
        sku=sku,
        price=price,
        currency=currency,
    )


def sale(raw: schemas.Order) -> Sale:
    total = raw.total_money
    return Sale(
        id=raw.id,
        location_id=raw.location_id,
        state=SALE_STATES.get(raw.state, SaleState.OPEN),
        created_at=parse_time(raw.created_at),
        updated_at=parse_time(raw.updated_at),
        total=total.amount if total else 0,
        currency=total.currency if total else "",
        version=raw.version,
        lines=tuple(
            SaleLine(
                item_id=line.catalog_object_id,
                name=line.name,
                quantity=parse_quantity(line.quantity),
                total=line.total_money.amount if line.total_money else 0,
            )
            for line in raw.line_items
        ),
    )


def payment(raw: schemas.Payment) -> PosPayment:
    return PosPayment(
        id=raw.id,
        status=PAYMENT_STATUSES.get(raw.status, PosPaymentStatus.PENDING),
        amount=raw.amount_money.amount,
        currency=raw.amount_money.currency,
        created_at=parse_time(raw.created_at),
        updated_at=parse_time(raw.updated_at),
        location_id=raw.location_id,
        order_id=raw.order_id,
    )


def stock_count(raw: schemas.InventoryCount) -> StockCount:
    return StockCount(
        item_id=raw.catalog_object_id,
        location_id=raw.location_id,
        state=raw.state.lower(),
        quantity=parse_quantity(raw.quantity),
        calculated_at=parse_time(raw.calculated_at),
    )


def inventory_change(change: StockChange) -> dict[str, Any]:
    common = {
        "catalog_object_id": change.item_id,
        "location_id": change.location_id,
        "quantity": quantity_text(change.quantity),
        "occurred_at": rfc3339(change.occurred_at),
    }
    if change.kind is StockChangeKind.PHYSICAL_COUNT:
        return {"type": "PHYSICAL_COUNT", "physical_count": {**common, "state": change.to_state.upper()}}
    return {
        "type": "ADJUSTMENT",
        "adjustment": {**common, "from_state": change.from_state.upper(), "to_state": change.to_state.upper()},
    }


def event(raw: schemas.Event) -> WebhookEvent:
    obj = raw.data.object
    ids: list[str] = []
    if raw.type.startswith("order."):
        for value in obj.values():
            if isinstance(value, dict) and isinstance(value.get("order_id"), str):
                ids.append(value["order_id"])
        if not ids and raw.data.id:
            ids.append(raw.data.id)
    elif raw.type == "inventory.count.updated":
        counts = obj.get("inventory_counts")
        if isinstance(counts, list):
            ids.extend(str(c["catalog_object_id"]) for c in counts if isinstance(c, dict) and "catalog_object_id" in c)
    elif raw.data.id:
        ids.append(raw.data.id)
    return WebhookEvent(
        event_id=raw.event_id,
        type=raw.type,
        kind=EVENT_KINDS.get(raw.type, "other"),
        object_ids=tuple(dict.fromkeys(ids)),
        merchant_id=raw.merchant_id,
        created_at=parse_time(raw.created_at) if raw.created_at else None,
        raw=raw.model_dump(),
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    """Square's error envelope -> the precise error; None lets the HTTP layer's defaults answer (5xx)."""
    try:
        body = response.json()
        first = body["errors"][0]
        category, code = str(first.get("category", "")), str(first.get("code", ""))
        field = first.get("field")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        category, code, field = "", "", None
    status = response.status_code
    if status == 429 or category == "RATE_LIMIT_ERROR":
        return RateLimited(provider=PROVIDER, provider_code=code or "RATE_LIMITED")
    if status in (401, 403) or category == "AUTHENTICATION_ERROR":
        return AuthError(provider=PROVIDER, provider_code=code or None)
    if status == 404:
        return ConnectorError(
            "Objet inconnu du fournisseur.",
            "The provider does not know this object.",
            provider=PROVIDER,
            provider_code=code or "NOT_FOUND",
            code="provider_object_not_found",
        )
    if 400 <= status < 500:
        detail = f" ({field})" if field else ""
        return InvalidRequest(
            f"Requête refusée par Square : {code or status}{detail}.",
            f"Request refused by Square: {code or status}{detail}.",
            provider=PROVIDER,
            provider_code=code or None,
        )
    return None
