"""Lightspeed Retail (R-Series) wire <-> Cauri's unified POS models.

R-Series answers ``{"@attributes": {…}, "<Resource>": …}`` where the resource is a **list, a single object when
exactly one record matched, and absent when none did**; numbers and booleans are strings (``"33.75"``,
``"true"``); amounts are decimal strings in the shop's currency. Its error envelope is
``{"httpCode", "httpMessage", "message", "errorClass"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import orjson

from cauri.connectors.restaurant.base import (
    CatalogObject,
    PosPayment,
    PosPaymentStatus,
    Sale,
    SaleLine,
    SaleState,
    StockCount,
    WebhookEvent,
)
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.errors import AuthError, ConnectorError, InvalidSignature, RateLimited, unreadable_answer
from cauri.kit.http import parse_retry_after

PROVIDER = "lightspeed"
#: Lightspeed R-Series publishes no webhook for sales; Cauri's relay (and the simulator) sign notifications with
#: this scheme: base64(HMAC-SHA256(secret, notification URL + raw body)). Configurable, named as ours.
SIGNATURE_HEADER = "x-cauri-lightspeed-signature"
EVENT_KINDS = {
    "sale.created": "sales",
    "sale.updated": "sales",
    "item.updated": "catalog",
    "itemshop.updated": "stock",
    "salepayment.created": "payments",
}
#: ItemShop rows with shopID 0 are R-Series' account-wide totals, not a shop.
TOTAL_SHOP_ID = "0"


def iso(moment: datetime) -> str:
    """R-Series' timestamp format (ISO 8601 with offset). Sub-second digits are kept: a ``>=`` filter then
    repeats at most the records of the same instant, which the sync's change hash absorbs."""
    return moment.astimezone(UTC).isoformat()


def parse_time(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise unreadable_answer(PROVIDER, f"timestamp {str(value)[:40]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def decimal(value: object, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise unreadable_answer(PROVIDER, what) from exc


def minor_units(value: object, currency: str, what: str = "amount") -> int:
    """``"33.75"`` EUR -> 3375. An amount with more decimals than the currency has is unreadable, not rounded."""
    scaled = decimal(value, what).scaleb(CURRENCY_EXPONENTS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise unreadable_answer(PROVIDER, f"{what} with sub-unit digits")
    return int(scaled)


def amount_text(minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))


def flag(value: object) -> bool | None:
    """R-Series booleans are ``"true"``/``"false"``; anything else is unknown (None)."""
    text = str(value).lower()
    return True if text == "true" else False if text == "false" else None


def records(answer: object, resource: str) -> list[dict[str, Any]]:
    """The records of ``resource`` in an answer: a list, one object (exactly one match) or nothing (none). An
    answer without ``@attributes`` is of another shape and never reads as "nothing"."""
    if not isinstance(answer, dict) or not isinstance(answer.get("@attributes"), dict):
        raise unreadable_answer(PROVIDER, f"an answer without @attributes for {resource}")
    found = answer.get(resource)
    if found is None:
        return []
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list) and all(isinstance(item, dict) for item in found):
        return found
    raise unreadable_answer(PROVIDER, f"{resource} is neither an object nor a list")


def nested(record: Mapping[str, Any], container: str, resource: str) -> list[dict[str, Any]]:
    """``{"SaleLines": {"SaleLine": […] | {…}}}`` -> the list (R-Series' single-object rule applies here too)."""
    inner = record.get(container)
    if not inner:
        return []
    if not isinstance(inner, dict):
        raise unreadable_answer(PROVIDER, container)
    found = inner.get(resource)
    if found is None:
        return []
    return [found] if isinstance(found, dict) else list(found)


def _required(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None or value == "":
        raise unreadable_answer(PROVIDER, f"a record without {key}")
    return str(value)


def sale_state(record: Mapping[str, Any]) -> SaleState:
    if flag(record.get("voided")):
        return SaleState.CANCELLED
    if flag(record.get("completed")) is True:
        return SaleState.COMPLETED
    return SaleState.OPEN  # not completed, a quote, or a word we do not know: never counted as sold


def sale(record: Mapping[str, Any], currency: str) -> Sale:
    lines = []
    for line in nested(record, "SaleLines", "SaleLine"):
        item_id = str(line.get("itemID") or "")
        related = line.get("Item")
        item: Mapping[str, Any] = related if isinstance(related, dict) else {}
        lines.append(
            SaleLine(
                item_id=item_id if item_id not in ("", "0") else None,
                name=str(item.get("description") or line.get("note") or ""),
                quantity=decimal(line.get("unitQuantity", "0"), "unitQuantity"),
                total=minor_units(line.get("calcTotal", "0"), currency, "calcTotal"),
            )
        )
    updated = parse_time(_required(record, "timeStamp"))
    return Sale(
        id=_required(record, "saleID"),
        location_id=str(record.get("shopID") or ""),
        state=sale_state(record),
        created_at=parse_time(record.get("createTime") or updated.isoformat()),
        updated_at=updated,
        total=minor_units(record.get("calcTotal", record.get("total", "0")), currency, "calcTotal"),
        currency=currency,
        version=int(updated.timestamp() * 1000),
        lines=tuple(lines),
    )


def default_price(record: Mapping[str, Any]) -> str | None:
    for price in nested(record, "Prices", "ItemPrice"):
        if str(price.get("useType", "")).lower() == "default" or str(price.get("useTypeID")) == "1":
            return str(price.get("amount"))
    return None


def item(record: Mapping[str, Any], currency: str) -> CatalogObject:
    """An R-Series Item is what is sold and counted: the unified ``variation``."""
    updated = parse_time(_required(record, "timeStamp"))
    price = default_price(record)
    return CatalogObject(
        id=_required(record, "itemID"),
        type="variation",
        name=str(record.get("description") or ""),
        version=int(updated.timestamp() * 1000),
        updated_at=updated,
        deleted=flag(record.get("archived")) is True,
        parent_id=str(record["categoryID"]) if record.get("categoryID") not in (None, "", "0") else None,
        sku=str(record.get("customSku") or record.get("systemSku") or "") or None,
        price=minor_units(price, currency, "ItemPrice.amount") if price is not None else None,
        currency=currency,
    )


def payment(record: Mapping[str, Any], currency: str) -> PosPayment:
    created = parse_time(_required(record, "createTime"))
    return PosPayment(
        id=_required(record, "salePaymentID"),
        status=PosPaymentStatus.CANCELLED if flag(record.get("archived")) else PosPaymentStatus.COMPLETED,
        amount=minor_units(record.get("amount", "0"), currency),
        currency=currency,
        created_at=created,
        updated_at=parse_time(record.get("timeStamp") or created.isoformat()),
        location_id=None,
        order_id=str(record.get("saleID") or "") or None,
    )


def item_shop(record: Mapping[str, Any]) -> StockCount:
    return StockCount(
        item_id=_required(record, "itemID"),
        location_id=_required(record, "shopID"),
        state="in_stock",
        quantity=decimal(record.get("qoh", "0"), "qoh"),
        calculated_at=parse_time(_required(record, "timeStamp")),
    )


def error_from_response(response: httpx.Response) -> ConnectorError | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    code = str(body.get("errorClass") or body.get("httpMessage") or "") or None
    if response.status_code in (401, 403):
        return AuthError(provider=PROVIDER, provider_code=code)
    if response.status_code == 429:
        return RateLimited(
            provider=PROVIDER, provider_code=code, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    return None


# -- notifications --------------------------------------------------------------------------------------------


def sign(secret: str, notification_url: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(*, secrets: Sequence[str], headers: Mapping[str, str], body: bytes, notification_url: str) -> None:
    lowered = {name.lower(): value for name, value in headers.items()}
    received = lowered.get(SIGNATURE_HEADER, "")
    for secret in secrets:
        if received and hmac.compare_digest(sign(secret, notification_url, body).encode(), received.encode()):
            return
    raise InvalidSignature(provider=PROVIDER, provider_code="bad_signature" if received else "missing_signature")


def event(raw: object) -> WebhookEvent:
    if not isinstance(raw, dict) or not raw.get("event_id") or not raw.get("type"):
        raise unreadable_answer(PROVIDER, "notification")
    event_type = str(raw["type"])
    payload = raw.get("data")
    data: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
    ids = [data.get(key) for key in ("saleID", "itemID")]
    return WebhookEvent(
        event_id=str(raw["event_id"]),
        type=event_type,
        kind=EVENT_KINDS.get(event_type, "unknown"),
        object_ids=tuple(str(value) for value in ids if value) if event_type.startswith("sale.") else (),
        merchant_id=str(raw.get("accountID") or "") or None,
        created_at=parse_time(raw["created_at"]) if raw.get("created_at") else None,
        raw=raw,
    )
