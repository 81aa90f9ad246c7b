"""Lightspeed Restaurant (K-Series), the second Lightspeed profile, from what is public about it.

Public (second-hand: practitioners' code and a harvested spec; the developer portal is partner-only): the hosts
(``api.lsk.lightspeed.app``, trial ``api.trial.lsk.lightspeed.app``), OAuth with named scopes and rotating refresh
tokens, ``GET /f/data/businesses``, the financial API ``GET /f/v2/business-location/{id}/sales?from&to&pageSize≤100
&include=payments&nextPageToken`` (``{sales, nextPageToken}``) and ``GET /items/v1/items``. Every path is a
setting (:class:`KSeriesPaths`); the field names of a sale and an item are our best reading and are kept in
:func:`sale` / :func:`item` only. Not public (so :class:`~cauri.kit.errors.Unsupported`): sale detail by id,
stock levels and stock changes (scope-gated operations API). Notifications use Cauri's relay signature (K-Series
documents no HMAC scheme).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from cauri.connectors.restaurant.base import (
    CatalogObject,
    Location,
    Page,
    PosConnector,
    PosPayment,
    PosPaymentStatus,
    Sale,
    SaleLine,
    SaleState,
    StockChange,
    StockCount,
    WebhookEvent,
)
from cauri.connectors.restaurant.pos.lightspeed import wire
from cauri.kit.auth import AuthStrategy
from cauri.kit.errors import InvalidRequest, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "lightspeed_k"
API_URL = "https://api.lsk.lightspeed.app"
TRIAL_URL = "https://api.trial.lsk.lightspeed.app"
DEFAULT_SCOPES = ("financial-api", "items", "offline_access")
SALE_STATES = {"CLOSED": SaleState.COMPLETED, "VOIDED": SaleState.CANCELLED, "CANCELLED": SaleState.CANCELLED}
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PAGE_SIZES = {"orders": 100, "catalog_list": 1000, "catalog_search": 1000, "payments": 100}


@dataclass(frozen=True)
class KSeriesPaths:
    businesses: str = "/f/data/businesses"
    sales: str = "/f/v2/business-location/{location}/sales"
    items: str = "/items/v1/items"
    sales_page: int = 100
    items_page: int = 1000


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(PROVIDER, exc) from None


def sale(raw: Mapping[str, Any], currency: str) -> Sale:
    try:
        updated = wire.parse_time(raw.get("updatedAt") or raw["timeOfOpening"])
        lines = tuple(
            SaleLine(
                item_id=str(line.get("sku")) or None,
                name=str(line.get("name") or ""),
                quantity=wire.decimal(line.get("quantity", "0"), "quantity"),
                total=wire.minor_units(line.get("totalNetAmountWithTax", "0"), currency),
            )
            for line in raw.get("salesLines") or []
        )
        return Sale(
            id=str(raw["accountReference"]),
            location_id=str(raw["businessLocationId"]),
            state=SALE_STATES.get(str(raw.get("status")), SaleState.OPEN),
            created_at=wire.parse_time(raw["timeOfOpening"]),
            updated_at=updated,
            total=wire.minor_units(raw.get("totalAmount", "0"), currency),
            currency=str(raw.get("currency") or currency),
            version=int(updated.timestamp() * 1000),
            lines=lines,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise unreadable_answer(PROVIDER, exc) from None


def item(raw: Mapping[str, Any], currency: str) -> CatalogObject:
    try:
        updated = wire.parse_time(raw["updatedAt"])
        return CatalogObject(
            id=str(raw["sku"]),
            type="variation",
            name=str(raw.get("name") or ""),
            version=int(updated.timestamp() * 1000),
            updated_at=updated,
            deleted=raw.get("active") is False,
            sku=str(raw["sku"]),
            price=wire.minor_units(raw["price"], currency) if raw.get("price") is not None else None,
            currency=currency,
        )
    except (KeyError, TypeError) as exc:
        raise unreadable_answer(PROVIDER, exc) from None


class LightspeedRestaurantConnector(PosConnector):
    provider = PROVIDER
    page_sizes = PAGE_SIZES

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        base_url: str = API_URL,
        currency: str = "EUR",
        paths: KSeriesPaths | None = None,
        policy: HttpPolicy | None = None,
        signature_secrets: Sequence[str] = (),
    ) -> None:
        self.currency = currency
        self.paths = paths or KSeriesPaths()
        self.signature_secrets = list(signature_secrets)
        self.http = ProviderHttpClient(provider=PROVIDER, base_url=base_url, auth=auth, policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Any:
        return _parse((await self.http.request("GET", path, operation=operation, params=params)).content)

    async def list_locations(self) -> list[Location]:
        answer = await self._get(self.paths.businesses, "list_businesses")
        if not isinstance(answer, list):
            raise unreadable_answer(PROVIDER, "businesses")
        return [
            Location(str(loc["id"]), str(loc.get("name") or ""), str(business.get("currencyCode") or self.currency))
            for business in answer
            for loc in business.get("businessLocations") or []
        ]

    async def _sales(
        self, location_id: str, since: datetime | None, cursor: str | None, limit: int | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        params = {
            "from": wire.iso(since or EPOCH),
            "to": wire.iso(datetime.now(UTC)),
            "pageSize": str(min(limit or self.paths.sales_page, self.paths.sales_page)),
            "include": "payments",
        }
        if cursor:
            params["nextPageToken"] = cursor
        path = self.paths.sales.format(location=location_id)
        answer = await self._get(path, "list_sales", params)
        if not isinstance(answer, dict) or not isinstance(answer.get("sales"), list):
            raise unreadable_answer(PROVIDER, "a page without sales")
        return answer["sales"], answer.get("nextPageToken") or None

    async def search_sales(
        self,
        *,
        location_ids: Sequence[str],
        updated_since: datetime | None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Sale]:
        if len(location_ids) != 1:
            raise InvalidRequest(
                "K-Series lit les ventes d'un établissement à la fois.",
                "K-Series reads the sales of one business location at a time.",
                provider=PROVIDER,
                code="lightspeed_k_one_location",
            )
        found, next_cursor = await self._sales(location_ids[0], updated_since, cursor, limit)
        return Page([sale(raw, self.currency) for raw in found], next_cursor)

    async def list_payments(
        self,
        *,
        begin_time: datetime | None = None,
        end_time: datetime | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
    ) -> Page[PosPayment]:
        if location_id is None:
            raise self.unsupported("payments without a business location")
        found, next_cursor = await self._sales(location_id, begin_time, cursor, None)
        payments = []
        for raw in found:
            moment = wire.parse_time(raw.get("timeOfCloseAndPaid") or raw["timeOfOpening"])
            for paid in raw.get("payments") or []:
                payments.append(
                    PosPayment(
                        id=str(paid["code"]),
                        status=PosPaymentStatus.COMPLETED,
                        amount=wire.minor_units(paid.get("netAmountWithTax", "0"), self.currency),
                        currency=self.currency,
                        created_at=moment,
                        updated_at=moment,
                        location_id=location_id,
                        order_id=str(raw["accountReference"]),
                    )
                )
        return Page(payments, next_cursor)

    async def list_catalog(self, *, cursor: str | None = None, types: Sequence[str] = ()) -> Page[CatalogObject]:
        offset = int(cursor or 0)
        params = {"offset": str(offset), "pageSize": str(self.paths.items_page)}
        answer = await self._get(self.paths.items, "list_items", params)
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise unreadable_answer(PROVIDER, "a page without items")
        found = answer["items"]
        total = int(answer.get("total") or 0)
        next_offset = offset + len(found)
        return Page(
            [item(raw, self.currency) for raw in found], str(next_offset) if found and next_offset < total else None
        )

    async def search_catalog(self, *, changed_since: datetime | None, cursor: str | None = None) -> Page[CatalogObject]:
        """No changed-since filter is public: the list, filtered here (a catalogue is small)."""
        page = await self.list_catalog(cursor=cursor)
        kept = [o for o in page.items if changed_since is None or o.updated_at >= changed_since]
        return Page(kept, page.cursor)

    async def get_sale(self, sale_id: str) -> Sale:
        raise self.unsupported("sale detail by id (not public for K-Series)")

    async def stock_counts(
        self,
        *,
        item_ids: Sequence[str] = (),
        location_ids: Sequence[str] = (),
        updated_since: datetime | None = None,
        cursor: str | None = None,
    ) -> Page[StockCount]:
        raise self.unsupported("stock levels (not public for K-Series)")

    async def change_stock(self, changes: Sequence[StockChange], *, idempotency_key: str) -> list[StockCount]:
        raise self.unsupported("stock changes (not public for K-Series)")

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        wire.verify(secrets=self.signature_secrets, headers=headers, body=body, notification_url=url)
        return wire.event(_parse(body))
