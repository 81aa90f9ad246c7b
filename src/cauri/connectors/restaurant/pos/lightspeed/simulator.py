"""A Lightspeed simulator (``cauri simulate lightspeed``): the Retail (R-Series) API as the connector uses it —
OAuth (authorisation code, rotating refresh tokens), ``Account``, ``Shop``, ``Sale`` (+ ``SaleLines``),
``SalePayment``, ``Item`` (GET, PUT of ``ItemShops.qoh``), ``ItemShop`` — with R-Series' quirks (one record is an
object, none is no key; strings for numbers; query operators; ``@attributes.next`` cursors and the legacy
``offset``; the leaky bucket and its headers) — and the Restaurant (K-Series) profile's public reads
(``/f/data/businesses``, ``/f/v2/business-location/{id}/sales``, ``/items/v1/items``).

Deliberate differences, for the unified contract: timestamps keep microseconds (R-Series gives seconds) and
quantities may be decimal (R-Series counts whole units).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.faults import Faults
from cauri.connectors.restaurant.pos.lightspeed import wire

DEMO_CLIENT_ID = "cauri-demo-lightspeed"
DEMO_CLIENT_SECRET = "cauri-demo-lightspeed-secret"  # noqa: S105 - the simulator's published demo value
DEMO_ACCESS_TOKEN = "cauri-demo-lightspeed-token"  # noqa: S105 - published demo value
DEMO_SIGNATURE_SECRET = "cauri-demo-lightspeed-signature"  # noqa: S105 - published demo value
ACCOUNT_ID = "123456"
TOKEN_LIFETIME = timedelta(hours=1)
API_PREFIXES = ("/API/V3", "/api/v1")  # the real one, and the seed's spelling


@dataclass
class LightspeedSimSettings:
    latency_seconds: float = 0.0
    page_max: int = 100
    bucket_size: float = 60.0
    drip_rate: float = 1.0  # units per second
    omit_refresh_token: bool = False
    legacy_offset: bool = False  # answer every list the pre-cursor way (count/offset/limit, no ``next``)


@dataclass(slots=True)
class SimItem:
    id: str
    description: str
    sku: str
    price: int
    updated_at: datetime
    archived: bool = False


@dataclass(slots=True)
class SimSale:
    id: str
    shop_id: str
    state: str  # COMPLETED, CANCELED, OPEN, or any other word (rendered as a quote)
    created_at: datetime
    updated_at: datetime
    lines: tuple[tuple[str, str, int, int], ...]  # (item id, quantity text, unit price, line total)
    total: int


@dataclass(slots=True)
class SimPayment:
    id: str
    sale_id: str
    amount: int
    created_at: datetime
    updated_at: datetime


def _error(status: int, message: str, error_class: str = "Exception") -> JSONResponse:
    phrases = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 500: "Error"}
    body = {"httpCode": str(status), "httpMessage": phrases.get(status, ""), "message": message}
    return JSONResponse({**body, "errorClass": error_class}, status_code=status)


def _text(moment: datetime) -> str:
    return wire.iso(moment)


def _matches(value: Any, spec: str) -> bool:
    """R-Series query operators: ``>=,x``, ``>,x``, ``<,x``, ``<=,x``, ``><,a,b``, ``IN,[a,b]``, ``!=,x``, or x."""
    op, sep, rest = spec.partition(",")
    if not sep:
        op, rest = "=", spec
    if op == "IN":
        return str(value) in {v.strip() for v in rest.strip("[]").split(",")}
    if isinstance(value, datetime):

        def cast(text: str) -> Any:
            return wire.parse_time(text)
    else:

        def cast(text: str) -> Any:
            return str(text)

    if op == "><":
        low, _, high = rest.partition(",")
        return bool(cast(low) <= value <= cast(high))
    checks: dict[str, Callable[[Any, Any], bool]] = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "!=": lambda a, b: a != b,
        "=": lambda a, b: a == b,
    }
    check = checks.get(op)
    return check is not None and check(value, cast(rest))


class LightspeedSimulator:
    def __init__(
        self,
        settings: LightspeedSimSettings | None = None,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        access_token: str | None = DEMO_ACCESS_TOKEN,
        signature_secret: str = DEMO_SIGNATURE_SECRET,
        account_id: str = ACCOUNT_ID,
        currency: str = "EUR",
    ) -> None:
        self.settings = settings or LightspeedSimSettings()
        self.client_id = client_id
        self.client_secret = client_secret
        self.signature_secret = signature_secret
        self.account_id = account_id
        self.currency = currency
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.rate_limited_answers = 0
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.shops: dict[str, str] = {"1": "Le Vieux Moulin"}
        self.items: dict[str, SimItem] = {}
        self.sales: dict[str, SimSale] = {}
        self.payments: dict[str, SimPayment] = {}
        self.qoh: dict[tuple[str, str], tuple[Decimal, datetime]] = {}  # (item, shop) -> (quantity, timeStamp)
        self._tokens: dict[str, datetime] = {}
        if access_token:
            self._tokens[access_token] = datetime(2099, 1, 1, tzinfo=UTC)
        self._refresh: set[str] = set()
        self._codes: dict[str, tuple[str, datetime]] = {}  # code -> (redirect uri, expiry)
        self._buckets: dict[str, tuple[float, float]] = {}  # token -> (level, monotonic time)
        self._seq = 0
        routes = [
            Route("/auth/oauth/authorize", self._authorize, methods=["GET"]),
            Route("/oauth/authorize.php", self._authorize, methods=["GET"]),
            Route("/auth/oauth/token", self._wrap(self._token, auth=False), methods=["POST"]),
            Route("/oauth/access_token.php", self._wrap(self._token, auth=False), methods=["POST"]),
            # K-Series (Restaurant) profile: public reads only.
            Route("/f/data/businesses", self._wrap(self._k_businesses), methods=["GET"]),
            Route("/f/v2/business-location/{location}/sales", self._wrap(self._k_sales), methods=["GET"]),
            Route("/items/v1/items", self._wrap(self._k_items), methods=["GET"]),
        ]
        for prefix in API_PREFIXES:
            account = f"{prefix}/Account/{{account}}"
            routes += [
                Route(f"{prefix}/Account.json", self._wrap(self._account), methods=["GET"]),
                Route(f"{account}/Shop.json", self._wrap(self._list("Shop", self._shops)), methods=["GET"]),
                Route(f"{account}/Sale.json", self._wrap(self._list("Sale", self._sales)), methods=["GET"]),
                Route(f"{account}/Sale/{{sale}}.json", self._wrap(self._sale), methods=["GET"]),
                Route(
                    f"{account}/SalePayment.json",
                    self._wrap(self._list("SalePayment", self._payments)),
                    methods=["GET"],
                ),
                Route(f"{account}/Item.json", self._wrap(self._list("Item", self._items)), methods=["GET"]),
                Route(f"{account}/Item/{{item}}.json", self._wrap(self._item), methods=["GET", "PUT"]),
                Route(
                    f"{account}/ItemShop.json", self._wrap(self._list("ItemShop", self._item_shops)), methods=["GET"]
                ),
            ]
        self.app = Starlette(routes=routes)

    # -- building the shop's data ---------------------------------------------------------------------------

    def _id(self) -> str:
        self._seq += 1
        return str(self._seq)

    def add_item(self, name: str, price: int, *, sku: str = "") -> str:
        item = SimItem(self._id(), name, sku, price, self.now())
        self.items[item.id] = item
        for shop in self.shops:
            self.qoh[(item.id, shop)] = (Decimal(0), item.updated_at)
        return item.id

    def update_item(self, variation_id: str, *, price: int | None = None, deleted: bool = False) -> None:
        item = self.items[variation_id]
        if price is not None:
            item.price = price
        item.archived = deleted
        item.updated_at = max(self.now(), item.updated_at + timedelta(microseconds=1))

    def add_order(
        self,
        lines: Iterable[tuple[str, Decimal | int | str]],
        *,
        state: str = "COMPLETED",
        at: datetime | None = None,
        shop_id: str = "1",
    ) -> str:
        moment = at or self.now()
        priced = []
        for item_id, quantity in lines:
            price = self.items[item_id].price if item_id in self.items else 0
            priced.append((item_id, str(quantity), price, int(Decimal(str(quantity)) * price)))
        total = sum(line[3] for line in priced)
        sale = SimSale(self._id(), shop_id, state, moment, moment, tuple(priced), total)
        self.sales[sale.id] = sale
        payment = SimPayment(self._id(), sale.id, total, moment, moment)
        self.payments[payment.id] = payment
        return sale.id

    def update_order(self, order_id: str, *, state: str | None = None, at: datetime | None = None) -> None:
        sale = self.sales[order_id]
        if state is not None:
            sale.state = state
        sale.updated_at = max(at or self.now(), sale.updated_at + timedelta(microseconds=1))

    def set_count(self, variation_id: str, quantity: Decimal | int, shop_id: str = "1") -> None:
        self.qoh[(variation_id, shop_id)] = (Decimal(quantity), self.now())

    def count(self, variation_id: str, shop_id: str = "1") -> Decimal:
        return self.qoh.get((variation_id, shop_id), (Decimal(0), self.now()))[0]

    # -- notifications (Cauri's relay scheme: R-Series has no sales webhook) ----------------------------------

    def event_body(self, event_type: str, data: dict[str, Any]) -> bytes:
        object_id = data.get("saleID") or data.get("itemID") or data.get("id")
        key = "itemID" if event_type.startswith("item") else "saleID"
        event = {
            "event_id": f"evt-{secrets.token_hex(8)}",
            "type": event_type,
            "accountID": self.account_id,
            "created_at": _text(self.now()),
            "data": {key: object_id},
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def signed(self, notification_url: str, body: bytes) -> dict[str, str]:
        signature = wire.sign(self.signature_secret, notification_url, body)
        return {"content-type": "application/json", wire.SIGNATURE_HEADER: signature}

    async def aclose(self) -> None:
        return None

    # -- rendering --------------------------------------------------------------------------------------------

    def _render_item(self, item: SimItem, *, with_shops: bool = False) -> dict[str, Any]:
        price = wire.amount_text(item.price, self.currency)
        rendered: dict[str, Any] = {
            "itemID": item.id,
            "systemSku": f"2100000{int(item.id):06d}",
            "customSku": item.sku,
            "description": item.description,
            "archived": "true" if item.archived else "false",
            "categoryID": "0",
            "timeStamp": _text(item.updated_at),
            "Prices": {
                "ItemPrice": [
                    {"amount": price, "useTypeID": "1", "useType": "Default"},
                    {"amount": price, "useTypeID": "2", "useType": "MSRP"},
                ]
            },
        }
        if with_shops:
            rows = [self._render_item_shop(item.id, shop) for shop in ("0", *self.shops)]
            rendered["ItemShops"] = {"ItemShop": rows}
        return rendered

    def _render_item_shop(self, item_id: str, shop: str) -> dict[str, Any]:
        if shop == wire.TOTAL_SHOP_ID:
            rows = [self.qoh.get((item_id, s), (Decimal(0), self.now())) for s in self.shops]
            quantity, stamp = sum((r[0] for r in rows), Decimal(0)), max(r[1] for r in rows)
        else:
            quantity, stamp = self.qoh.get((item_id, shop), (Decimal(0), self.now()))
        return {
            "itemShopID": f"{item_id}-{shop}",
            "itemID": item_id,
            "shopID": shop,
            "qoh": wire.quantity_text(quantity),
            "timeStamp": _text(stamp),
        }

    def _render_sale(self, sale: SimSale, relations: list[str]) -> dict[str, Any]:
        quote = sale.state not in ("COMPLETED", "CANCELED", "OPEN")
        rendered: dict[str, Any] = {
            "saleID": sale.id,
            "timeStamp": _text(sale.updated_at),
            "createTime": _text(sale.created_at),
            "updateTime": _text(sale.updated_at),
            "completed": "true" if sale.state in ("COMPLETED", "CANCELED") else "false",
            "voided": "true" if sale.state == "CANCELED" else "false",
            "archived": "false",
            "quoteID": "7" if quote else "0",
            "shopID": sale.shop_id,
            "registerID": "1",
            "calcTotal": wire.amount_text(sale.total, self.currency),
            "total": wire.amount_text(sale.total, self.currency),
        }
        if "SaleLines" in relations:
            lines = []
            for n, (item_id, quantity, price, total) in enumerate(sale.lines, 1):
                line: dict[str, Any] = {
                    "saleLineID": f"{sale.id}{n:03d}",
                    "itemID": item_id,
                    "unitQuantity": quantity,
                    "unitPrice": wire.amount_text(price, self.currency),
                    "calcTotal": wire.amount_text(total, self.currency),
                }
                if "SaleLines.Item" in relations and item_id in self.items:
                    line["Item"] = {"itemID": item_id, "description": self.items[item_id].description}
                lines.append(line)
            rendered["SaleLines"] = {"SaleLine": lines[0] if len(lines) == 1 else lines}
        return rendered

    @staticmethod
    def _answer(resource: str, found: list[dict[str, Any]], attributes: dict[str, str]) -> Response:
        body: dict[str, Any] = {"@attributes": attributes}
        if len(found) == 1:
            body[resource] = found[0]  # R-Series: one record is an object
        elif found:
            body[resource] = found
        return Response(orjson.dumps(body), media_type="application/json")

    # -- R-Series endpoints -------------------------------------------------------------------------------

    async def _account(self, request: Request) -> Response:
        return self._answer("Account", [{"accountID": self.account_id, "name": "Le Vieux Moulin"}], {"count": "1"})

    def _shops(self, _request: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [
            ({"shopID": s, "name": n, "archived": False}, {"shopID": s, "name": n, "archived": "false"})
            for s, n in self.shops.items()
        ]

    def _sales(self, request: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        relations = json.loads(request.query_params.get("load_relations") or "[]")
        return [
            (
                {"saleID": int(s.id), "timeStamp": s.updated_at, "shopID": s.shop_id, "createTime": s.created_at},
                self._render_sale(s, relations),
            )
            for s in self.sales.values()
        ]

    def _payments(self, _request: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        currency = self.currency
        return [
            (
                {
                    "salePaymentID": int(p.id),
                    "createTime": p.created_at,
                    "timeStamp": p.updated_at,
                    "saleID": p.sale_id,
                },
                {
                    "salePaymentID": p.id,
                    "saleID": p.sale_id,
                    "amount": wire.amount_text(p.amount, currency),
                    "createTime": _text(p.created_at),
                    "timeStamp": _text(p.updated_at),
                    "archived": "false",
                    "paymentTypeID": "1",
                },
            )
            for p in self.payments.values()
        ]

    def _items(self, _request: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [
            ({"itemID": int(i.id), "timeStamp": i.updated_at, "archived": i.archived}, self._render_item(i))
            for i in self.items.values()
        ]

    def _item_shops(self, _request: Request) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        rows = []
        for item_id in self.items:
            for shop in ("0", *self.shops):
                row = self._render_item_shop(item_id, shop)
                key = {
                    "itemShopID": row["itemShopID"],
                    "itemID": item_id,
                    "shopID": shop,
                    "timeStamp": wire.parse_time(row["timeStamp"]),
                }
                rows.append((key, row))
        return rows

    def _list(
        self, resource: str, source: Callable[[Request], list[tuple[dict[str, Any], dict[str, Any]]]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            params = request.query_params
            try:
                limit = int(params.get("limit") or 100)
            except ValueError:
                return _error(400, "limit must be a number")
            if not 1 <= limit <= self.settings.page_max:
                return _error(400, f"Limit must be between 1 and {self.settings.page_max}.")
            rows = source(request)
            for name, spec in params.items():
                if name in ("limit", "offset", "after", "sort", "load_relations", "archived"):
                    continue
                rows = [row for row in rows if name in row[0] and _matches(row[0][name], spec)]
            archived = params.get("archived", "false")
            if "archived" in (rows[0][0] if rows else {}):
                if archived == "only":
                    rows = [r for r in rows if r[0]["archived"]]
                elif archived != "true":
                    rows = [r for r in rows if not r[0]["archived"]]
            sort = params.get("sort") or next(iter(rows[0][0])) if rows else ""
            id_key = next(iter(rows[0][0])) if rows else ""
            rows.sort(key=lambda r: (r[0].get(sort, ""), r[0][id_key]))
            if "offset" in params or self.settings.legacy_offset:  # the legacy paging: count, offset, limit
                offset = int(params.get("offset") or 0)
                attributes = {"count": str(len(rows)), "offset": str(offset), "limit": str(limit)}
                return self._answer(resource, [r[1] for r in rows[offset : offset + limit]], attributes)
            after = params.get("after")
            if after:
                position = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
                rows = [r for r in rows if [_plain(r[0].get(sort, "")), _plain(r[0][id_key])] > position]
            page = rows[:limit]
            next_url = ""
            if len(rows) > limit:
                last = page[-1][0]
                token = json.dumps([_plain(last.get(sort, "")), _plain(last[id_key])]).encode()
                query = {k: v for k, v in params.items() if k != "after"}
                query["after"] = base64.urlsafe_b64encode(token).decode().rstrip("=")
                next_url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{urlencode(query)}"
            return self._answer(resource, [r[1] for r in page], {"next": next_url, "previous": "", "limit": str(limit)})

        return handler

    async def _sale(self, request: Request) -> Response:
        sale = self.sales.get(request.path_params["sale"])
        if sale is None:
            return _error(404, "Sale not found.")
        relations = json.loads(request.query_params.get("load_relations") or "[]")
        return self._answer("Sale", [self._render_sale(sale, relations)], {"count": "1"})

    async def _item(self, request: Request) -> Response:
        item = self.items.get(request.path_params["item"])
        if item is None:
            return _error(404, "Item not found.")
        if request.method == "PUT":
            try:
                body = await request.json()
                rows = body["ItemShops"]["ItemShop"]
                rows = [rows] if isinstance(rows, dict) else rows
                updates = [(str(r["itemShopID"]), Decimal(str(r["qoh"]))) for r in rows]
            except (ValueError, KeyError, TypeError, ArithmeticError):
                return _error(400, "Invalid ItemShops.", "ValidationException")
            for item_shop_id, quantity in updates:
                item_id, _, shop = item_shop_id.partition("-")
                if item_id != item.id or shop not in self.shops:
                    return _error(400, f"Unknown itemShopID {item_shop_id}.", "ValidationException")
                self.qoh[(item.id, shop)] = (quantity, self.now())
            item.updated_at = max(self.now(), item.updated_at + timedelta(microseconds=1))
        relations = json.loads(request.query_params.get("load_relations") or "[]")
        with_shops = request.method == "PUT" or "ItemShops" in relations
        return self._answer("Item", [self._render_item(item, with_shops=with_shops)], {"count": "1"})

    # -- K-Series (Restaurant) profile ------------------------------------------------------------------------

    async def _k_businesses(self, _request: Request) -> Response:
        locations = [{"id": int(s), "name": n} for s, n in self.shops.items()]
        return JSONResponse(
            [{"id": 1, "name": "Le Vieux Moulin", "currencyCode": self.currency, "businessLocations": locations}]
        )

    async def _k_sales(self, request: Request) -> Response:
        params = request.query_params
        page_size = int(params.get("pageSize") or 100)
        if not 1 <= page_size <= 100:
            return JSONResponse({"type": "about:blank", "title": "Bad Request", "detail": "pageSize"}, status_code=400)
        since = wire.parse_time(params["from"]) if params.get("from") else None
        until = wire.parse_time(params["to"]) if params.get("to") else None
        shop = request.path_params["location"]
        sales = sorted(
            (s for s in self.sales.values() if s.shop_id == shop),
            key=lambda s: (s.updated_at, int(s.id)),
        )
        sales = [
            s for s in sales if (since is None or s.updated_at >= since) and (until is None or s.updated_at < until)
        ]
        start = int(base64.urlsafe_b64decode(params["nextPageToken"]).decode()) if params.get("nextPageToken") else 0
        page = sales[start : start + page_size]
        token = (
            base64.urlsafe_b64encode(str(start + page_size).encode()).decode()
            if start + page_size < len(sales)
            else None
        )
        return JSONResponse({"sales": [self._k_sale(s) for s in page], "nextPageToken": token})

    def _k_sale(self, sale: SimSale) -> dict[str, Any]:
        states = {"COMPLETED": "CLOSED", "CANCELED": "VOIDED", "OPEN": "OPEN"}
        return {
            "accountReference": sale.id,
            "businessLocationId": int(sale.shop_id),
            "timeOfOpening": _text(sale.created_at),
            "timeOfCloseAndPaid": _text(sale.updated_at) if sale.state == "COMPLETED" else None,
            "updatedAt": _text(sale.updated_at),
            "status": states.get(sale.state, sale.state),
            "currency": self.currency,
            "totalAmount": wire.amount_text(sale.total, self.currency),
            "salesLines": [
                {
                    "sku": item_id,
                    "name": self.items[item_id].description if item_id in self.items else "",
                    "quantity": quantity,
                    "totalNetAmountWithTax": wire.amount_text(total, self.currency),
                }
                for item_id, quantity, _price, total in sale.lines
            ],
            "payments": [
                {"code": p.id, "netAmountWithTax": wire.amount_text(p.amount, self.currency)}
                for p in self.payments.values()
                if p.sale_id == sale.id
            ],
        }

    async def _k_items(self, request: Request) -> Response:
        params = request.query_params
        page_size = int(params.get("pageSize") or 1000)
        start = int(params.get("offset") or 0)
        items = sorted(self.items.values(), key=lambda i: int(i.id))
        page = items[start : start + min(page_size, 1000)]
        rendered = [
            {
                "sku": i.id,
                "name": i.description,
                "price": wire.amount_text(i.price, self.currency),
                "active": not i.archived,
                "updatedAt": _text(i.updated_at),
            }
            for i in page
        ]
        return JSONResponse({"items": rendered, "total": len(items), "offset": start})

    # -- OAuth ------------------------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.client_id or params.get("response_type", "code") != "code":
            return _error(400, "Invalid client_id or response_type.")
        code = secrets.token_urlsafe(16)
        redirect = params.get("redirect_uri") or "http://127.0.0.1/callback"
        self._codes[code] = (redirect, self.now() + timedelta(minutes=5))
        return RedirectResponse(
            f"{redirect}?{urlencode({'code': code, 'state': params.get('state', '')})}", status_code=302
        )

    def _issue(self) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        self._tokens[access] = self.now() + TOKEN_LIFETIME
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            "token_type": "bearer",
            "scope": "employee:all",
        }
        if not self.settings.omit_refresh_token:
            refresh = secrets.token_urlsafe(24)
            self._refresh.add(refresh)
            answer["refresh_token"] = refresh
        return answer

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self._codes.pop(str(form.get("code") or ""), None)
            if found is None or found[1] < self.now():
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(self._issue())
        if grant == "refresh_token":
            token = str(form.get("refresh_token") or "")
            if token not in self._refresh:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self._refresh.discard(token)  # rotating refresh tokens
            return JSONResponse(self._issue())
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    # -- plumbing -------------------------------------------------------------------------------------------

    def _bucket(self, token: str, cost: float) -> tuple[bool, float]:
        """Pour ``cost`` into the token's bucket; (accepted, level after)."""
        level, at = self._buckets.get(token, (0.0, time.monotonic()))
        now = time.monotonic()
        level = max(0.0, level - (now - at) * self.settings.drip_rate)
        if level + cost > self.settings.bucket_size:
            self._buckets[token] = (level, now)
            return False, level
        self._buckets[token] = (level + cost, now)
        return True, level + cost

    def _wrap(
        self, handler: Callable[[Request], Awaitable[Response]], *, auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if self.settings.latency_seconds:
                await asyncio.sleep(self.settings.latency_seconds)
            if self.faults.take(self.faults.rate_limited, path):
                return _error(429, "Rate limit exceeded.", "RateLimitException")
            if self.faults.take(self.faults.server_errors, path):
                return _error(500, "Internal error.")
            if not auth:
                return await handler(request)
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            expiry = self._tokens.get(token)
            if expiry is None or expiry <= self.now():
                return _error(401, "Invalid access token.", "UnauthorizedException")
            cost = 1.0 if request.method == "GET" else 10.0
            accepted, level = self._bucket(token, cost)
            headers = {
                "X-LS-API-Bucket-Level": f"{level:g}/{self.settings.bucket_size:g}",
                "X-LS-API-Drip-Rate": f"{self.settings.drip_rate:g}",
            }
            if not accepted:
                self.rate_limited_answers += 1
                wait = (level + cost - self.settings.bucket_size) / self.settings.drip_rate
                response: Response = _error(429, "Rate limit exceeded.", "RateLimitException")
                headers["Retry-After"] = str(max(1, math.ceil(wait)))
            elif self.faults.take(self.faults.malformed, path):
                response = JSONResponse({"Sales": {"elements": []}, "next": None})
            else:
                response = await handler(request)
            response.headers.update(headers)
            return response

        return endpoint


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
