"""The "Cauri generic supplier profile": the seed's supplier API shape (``/api/v1/products``,
``/api/v1/products/search``, ``/api/v1/orders``, ``X-API-KEY``), with every path configurable per supplier, because
Metro, Transgourmet and Pomona publish no ordering API (``docs/providers/suppliers.md``).

An order carries our reference as ``Idempotency-Key`` and in its body: a retried order is the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cauri.connectors.restaurant.base import (
    Page,
    SupplierChannel,
    SupplierConnector,
    SupplierOrder,
    SupplierOrderRequest,
    SupplierOrderStatus,
    SupplierProduct,
)
from cauri.kit.auth import ApiKeyHeader
from cauri.kit.errors import read_wire
from cauri.kit.http import HttpPolicy, ProviderHttpClient

STATUSES = {
    "received": SupplierOrderStatus.SENT,
    "confirmed": SupplierOrderStatus.CONFIRMED,
    "shipped": SupplierOrderStatus.SHIPPED,
    "delivered": SupplierOrderStatus.DELIVERED,
    "cancelled": SupplierOrderStatus.CANCELLED,
}


@dataclass(frozen=True)
class SupplierPaths:
    """Where a supplier's API answers (the seed's paths by default: its Metro table)."""

    products: str = "/api/v1/products"
    search: str = "/api/v1/products/search"
    availability: str = "/api/v1/availability"
    orders: str = "/api/v1/orders"
    order: str = "/api/v1/orders/{order_id}"


PROFILES = {
    "metro": SupplierPaths(),
    "transgourmet": SupplierPaths(
        products="/api/catalog", search="/api/catalog/search", availability="/api/availability", orders="/api/orders"
    ),
    "pomona": SupplierPaths(
        products="/api/catalog/products",
        search="/api/catalog/products/search",
        orders="/api/orders/create",
        order="/api/orders/{order_id}",
    ),
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Product(_Wire):
    sku: str
    name: str
    unit: str
    pack_size: Decimal
    price: int  # minor units per pack
    currency: str
    available: bool = True
    gtin: str | None = None


class _Products(_Wire):
    products: list[_Product]
    next_page: int | None = None


class _Order(_Wire):
    order_id: str
    reference: str
    status: str
    total: int
    currency: str


class _Availability(_Wire):
    availability: dict[str, bool] = Field(default_factory=dict)


def _product(raw: _Product) -> SupplierProduct:
    return SupplierProduct(raw.sku, raw.name, raw.unit, raw.pack_size, raw.price, raw.currency, raw.available, raw.gtin)


class GenericSupplierConnector(SupplierConnector):
    channel = SupplierChannel.API

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        api_key: SecretStr,
        paths: SupplierPaths | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.provider = provider
        self.paths = paths or PROFILES.get(provider, SupplierPaths())
        self.http = ProviderHttpClient(
            provider=provider, base_url=base_url, auth=ApiKeyHeader("X-API-KEY", api_key), policy=policy
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, operation: str, params: dict[str, str] | None = None) -> Any:
        return (await self.http.request("GET", path, operation=operation, params=params)).json()

    async def catalog(self, *, cursor: str | None = None) -> Page[SupplierProduct]:
        raw = await self._get(self.paths.products, "catalog", {"page": cursor or "1"})
        answer = read_wire(_Products, raw, self.provider)
        return Page([_product(p) for p in answer.products], str(answer.next_page) if answer.next_page else None)

    async def search(self, query: str) -> list[SupplierProduct]:
        answer = read_wire(_Products, await self._get(self.paths.search, "search", {"q": query}), self.provider)
        return [_product(p) for p in answer.products]

    async def availability(self, skus: Sequence[str]) -> dict[str, bool]:
        raw = await self._get(self.paths.availability, "availability", {"skus": ",".join(skus)})
        known = read_wire(_Availability, raw, self.provider).availability
        return {sku: bool(known.get(sku, False)) for sku in skus}  # a product it does not name: not available

    def _order(self, raw: object) -> SupplierOrder:
        answer = read_wire(_Order, raw, self.provider)
        status = STATUSES.get(answer.status, SupplierOrderStatus.UNKNOWN)
        return SupplierOrder(answer.reference, answer.order_id, status, answer.total, answer.currency)

    async def place_order(self, order: SupplierOrderRequest) -> SupplierOrder:
        body = {
            "reference": order.reference,
            "lines": [{"sku": line.sku, "quantity": line.packs} for line in order.lines],
            "delivery_date": order.delivery_date.isoformat() if order.delivery_date else None,
            "delivery_address": order.delivery_address,
            "note": order.note,
        }
        response = await self.http.request(
            "POST", self.paths.orders, operation="place_order", json=body, idempotency_key=order.reference
        )
        return self._order(response.json())

    async def order_status(self, reference: str) -> SupplierOrder:
        path = self.paths.order.format(order_id=reference)
        return self._order(await self._get(path, "order_status", {"by": "reference"}))
