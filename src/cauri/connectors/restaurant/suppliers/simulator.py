"""A supplier simulator in the Cauri generic profile (``cauri simulate metro|transgourmet|pomona``): catalogue
pages, search, availability, orders deduplicated by our reference (a retried order is the same order), order
status, the faults a test needs (a 500 after the order was taken, a 429)."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.suppliers.generic import PROFILES, SupplierPaths

DEMO_API_KEY = "cauri-demo-supplier-key"
PAGE_SIZE = 50


@dataclass
class SimProduct:
    sku: str
    name: str
    unit: str
    pack_size: Decimal
    price: int
    currency: str = "EUR"
    available: bool = True

    def render(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "unit": self.unit,
            "pack_size": format(self.pack_size, "f"),
            "price": self.price,
            "currency": self.currency,
            "available": self.available,
        }


@dataclass
class SupplierFaults:
    error_after_order: int = 0  # take the order, then answer 500 (the caller cannot know it was taken)
    rate_limited: Counter[str] = field(default_factory=Counter)


class SupplierSimulator:
    def __init__(self, name: str = "metro", *, api_key: str = DEMO_API_KEY, paths: SupplierPaths | None = None) -> None:
        self.name = name
        self.api_key = api_key
        self.paths = paths or PROFILES.get(name, SupplierPaths())
        self.products: dict[str, SimProduct] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # by our reference
        self.requests: Counter[str] = Counter()
        self.faults = SupplierFaults()
        order_path = self.paths.order.replace("{order_id}", "{order_id:path}")
        self.app = Starlette(
            routes=[
                Route(self.paths.products, self._wrap(self._catalog), methods=["GET"]),
                Route(self.paths.search, self._wrap(self._search), methods=["GET"]),
                Route(self.paths.availability, self._wrap(self._availability), methods=["GET"]),
                Route(self.paths.orders, self._wrap(self._place), methods=["POST"]),
                Route(order_path, self._wrap(self._status), methods=["GET"]),
            ]
        )

    def add_product(
        self, sku: str, name: str, unit: str, pack_size: str, price: int, *, available: bool = True
    ) -> None:
        self.products[sku] = SimProduct(sku, name, unit, Decimal(pack_size), price, available=available)

    def set_status(self, reference: str, status: str) -> None:
        self.orders[reference]["status"] = status

    def created(self, reference: str) -> int:
        return 1 if reference in self.orders else 0

    async def aclose(self) -> None:
        return None

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if request.headers.get("x-api-key") != self.api_key:
                return JSONResponse({"error": "unauthorized", "message": "Invalid API key"}, status_code=401)
            if self.faults.rate_limited[path] > 0:
                self.faults.rate_limited[path] -= 1
                return JSONResponse({"error": "rate_limited"}, status_code=429, headers={"Retry-After": "1"})
            response: Response = await handler(request)
            return response

        return endpoint

    async def _catalog(self, request: Request) -> Response:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            return JSONResponse({"error": "invalid_page"}, status_code=400)
        items = sorted(self.products.values(), key=lambda p: p.sku)
        chosen = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        more = page * PAGE_SIZE < len(items)
        return JSONResponse({"products": [p.render() for p in chosen], "next_page": page + 1 if more else None})

    async def _search(self, request: Request) -> Response:
        words = request.query_params.get("q", "").lower().split()
        found = [p for p in self.products.values() if all(w in p.name.lower() for w in words)]
        return JSONResponse({"products": [p.render() for p in found], "next_page": None})

    async def _availability(self, request: Request) -> Response:
        skus = [s for s in request.query_params.get("skus", "").split(",") if s]
        return JSONResponse({"availability": {s: self.products[s].available for s in skus if s in self.products}})

    async def _place(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            reference = str(body["reference"])
            lines = [(str(line["sku"]), int(line["quantity"])) for line in body["lines"]]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "invalid_order"}, status_code=400)
        if request.headers.get("idempotency-key") not in (None, reference):
            return JSONResponse({"error": "idempotency_key_mismatch"}, status_code=400)
        if reference in self.orders:
            return JSONResponse(self.orders[reference])  # the same order, never a second one
        unknown = [sku for sku, _ in lines if sku not in self.products]
        if unknown or not lines:
            return JSONResponse({"error": "unknown_product", "skus": unknown}, status_code=422)
        total = sum(self.products[sku].price * quantity for sku, quantity in lines)
        order = {
            "order_id": f"{self.name.upper()}-{secrets.token_hex(4).upper()}",
            "reference": reference,
            "status": "received",
            "total": total,
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
        }
        self.orders[reference] = order
        if self.faults.error_after_order > 0:
            self.faults.error_after_order -= 1
            return JSONResponse({"error": "internal"}, status_code=500)
        return JSONResponse(order, status_code=201)

    async def _status(self, request: Request) -> Response:
        key = request.path_params["order_id"]
        order = self.orders.get(key) or next((o for o in self.orders.values() if o["order_id"] == key), None)
        if order is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(order)
