"""A faithful Square simulator (``cauri simulate square``): OAuth (authorisation code with PKCE, refresh,
revocation), Locations, Payments, Catalog (list, search with ``begin_time``), Orders (search by ``updated_at`` with
query-bound cursors, retrieve), Inventory (counts batch-retrieve, changes batch-create with its idempotency key)
and signed webhooks, with Square's page sizes, error envelope and the faults tests need (429, 5xx, a page of
another shape, a token answer without ``refresh_token``).

It accepts requests as Square's official Python SDK (``squareup``) sends them (``tests``: the SDK against it).
Objects are kept compact (slots, rendered on demand) so 200,000 orders fit in a benchmark's memory.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.faults import Faults
from cauri.connectors.restaurant.pos.square import webhooks
from cauri.connectors.restaurant.pos.square.transformers import rfc3339

DEMO_CLIENT_ID = "sq0idp-cauri-demo"
DEMO_CLIENT_SECRET = "sq0csp-cauri-demo-secret"  # noqa: S105 - the simulator's published demo value
DEMO_ACCESS_TOKEN = "EAAAcauri-demo-personal-access-token"  # noqa: S105 - published demo value
DEMO_SIGNATURE_KEY = "cauri-demo-square-signature-key"
CODE_LIFETIME = timedelta(minutes=5)
TOKEN_LIFETIME = timedelta(days=30)
ALL_SCOPES = frozenset(
    {"ITEMS_READ", "ITEMS_WRITE", "INVENTORY_READ", "INVENTORY_WRITE", "ORDERS_READ", "ORDERS_WRITE"}
    | {"PAYMENTS_READ", "MERCHANT_PROFILE_READ", "CUSTOMERS_READ"}
)


@dataclass
class SquareSimSettings:
    latency_seconds: float = 0.0
    payments_page: int = 100
    catalog_list_page: int = 100
    catalog_search_default: int = 1000
    catalog_search_max: int = 1000
    orders_default: int = 500
    orders_max: int = 1000
    counts_default: int = 1000
    counts_max: int = 1000
    #: Code flow: a refresh answers the same refresh token; PKCE: a new one (Square's documented behaviour).
    omit_refresh_token: bool = False  # a provider answering a refresh without any refresh_token
    auto_approve: bool = True  # /oauth2/authorize redirects at once (the seller "allowed")


@dataclass(slots=True)
class SimItem:
    item_id: str
    variation_id: str
    name: str
    sku: str
    price: int
    currency: str
    version: int
    updated_at: datetime
    deleted: bool = False


@dataclass(slots=True)
class SimOrder:
    id: str
    location_id: str
    state: str
    created_at: datetime
    updated_at: datetime
    version: int
    currency: str
    lines: tuple[tuple[str, str, int, int], ...]  # (variation id, quantity text, unit price, line total)
    total: int

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.updated_at, self.id)


@dataclass(slots=True)
class SimPayment:
    id: str
    order_id: str
    location_id: str
    amount: int
    currency: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass
class _Code:
    client_id: str
    redirect_uri: str | None
    scopes: tuple[str, ...]
    challenge: str | None
    expires_at: datetime
    used: bool = False


@dataclass
class _Grant:
    merchant_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    pkce: bool
    revoked: bool = False


def _error(status: int, category: str, code: str, detail: str, field_name: str | None = None) -> JSONResponse:
    error = {"category": category, "code": code, "detail": detail}
    if field_name:
        error["field"] = field_name
    return JSONResponse({"errors": [error]}, status_code=status)


def _fast(payload: dict[str, Any]) -> Response:
    """A page as JSON, encoded by orjson (a 1,000-order page in a few milliseconds)."""
    return Response(orjson.dumps(payload), media_type="application/json")


def _bad(code: str, detail: str, field_name: str | None = None) -> JSONResponse:
    return _error(400, "INVALID_REQUEST_ERROR", code, detail, field_name)


def _parse_time(value: Any, field_name: str) -> datetime | JSONResponse:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _bad("INVALID_TIME", f"Invalid RFC 3339 time: {value}", field_name)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode_cursor(query: Any, position: Any) -> str:
    digest = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    raw = json.dumps({"q": digest, "p": position}, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, query: Any) -> Any:
    """The position in a cursor made for this very query; None when it is not one of ours, or for another query."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        digest = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    except (ValueError, TypeError):
        return None
    if not isinstance(raw, dict) or raw.get("q") != digest:
        return None
    return raw.get("p")


class SquareSimulator:
    def __init__(
        self,
        settings: SquareSimSettings | None = None,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        access_token: str | None = DEMO_ACCESS_TOKEN,
        signature_key: str = DEMO_SIGNATURE_KEY,
        merchant_id: str = "MLVIEUXMOULIN",
        currency: str = "EUR",
    ) -> None:
        self.settings = settings or SquareSimSettings()
        self.client_id = client_id
        self.client_secret = client_secret
        self.signature_key = signature_key
        self.merchant_id = merchant_id
        self.currency = currency
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.locations: dict[str, str] = {"LVM-MAIN": "Le Vieux Moulin"}
        self.items: dict[str, SimItem] = {}  # by item id
        self.by_variation: dict[str, SimItem] = {}
        self.orders: dict[str, SimOrder] = {}
        self._order_index: list[tuple[datetime, str]] = []  # sorted (updated_at, id)
        self.payments: dict[str, SimPayment] = {}
        self._payment_index: list[tuple[datetime, str]] = []  # sorted (created_at, id)
        self.counts: dict[tuple[str, str, str], tuple[Decimal, datetime]] = {}
        self._inventory_keys: dict[str, tuple[str, dict[str, Any]]] = {}  # key -> (body hash, answer)
        self.inventory_changes_applied = 0
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}  # access token -> grant
        self._refresh: dict[str, _Grant] = {}  # refresh token -> grant
        if access_token:
            far = datetime(2099, 1, 1, tzinfo=UTC)
            self._grants[access_token] = _Grant(merchant_id, client_id, tuple(sorted(ALL_SCOPES)), far, False)
        self.subscriptions: list[str] = []  # notification URLs
        self.deliveries: list[tuple[str, int]] = []  # (event id, receiver status)
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.app = Starlette(
            routes=[
                Route("/oauth2/authorize", self._authorize, methods=["GET"]),
                Route("/oauth2/token", self._wrap(self._token, auth=False), methods=["POST"]),
                Route("/oauth2/revoke", self._wrap(self._revoke, auth=False), methods=["POST"]),
                Route("/v2/locations", self._wrap(self._locations, scope="MERCHANT_PROFILE_READ"), methods=["GET"]),
                Route("/v2/payments", self._wrap(self._payments, scope="PAYMENTS_READ"), methods=["GET"]),
                Route("/v2/catalog/list", self._wrap(self._catalog_list, scope="ITEMS_READ"), methods=["GET"]),
                Route("/v2/catalog/search", self._wrap(self._catalog_search, scope="ITEMS_READ"), methods=["POST"]),
                Route("/v2/orders/search", self._wrap(self._orders_search, scope="ORDERS_READ"), methods=["POST"]),
                Route("/v2/orders/{order_id}", self._wrap(self._order, scope="ORDERS_READ"), methods=["GET"]),
                Route(
                    "/v2/inventory/counts/batch-retrieve",
                    self._wrap(self._counts, scope="INVENTORY_READ"),
                    methods=["POST"],
                ),
                Route(
                    "/v2/inventory/changes/batch-create",
                    self._wrap(self._changes, scope="INVENTORY_WRITE"),
                    methods=["POST"],
                ),
                Route("/_sim/state", self._state, methods=["GET"]),
            ]
        )

    # -- building the seller's data (tests, demo, benchmark) ----------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:08d}{secrets.token_hex(3).upper()}"

    def add_item(
        self, name: str, price: int, *, sku: str = "", updated_at: datetime | None = None, variation_id: str = ""
    ) -> str:
        """A dish (ITEM with one ITEM_VARIATION); returns the variation id (what orders and stock name)."""
        item_id = self._id("ITM")
        item = SimItem(
            item_id, variation_id or self._id("VAR"), name, sku, price, self.currency, 1, updated_at or self.now()
        )
        self.items[item_id] = item
        self.by_variation[item.variation_id] = item
        return item.variation_id

    def update_item(self, variation_id: str, *, price: int | None = None, deleted: bool = False) -> None:
        item = self.by_variation[variation_id]
        if price is not None:
            item.price = price
        item.deleted = deleted
        item.version += 1
        item.updated_at = max(self.now(), item.updated_at + timedelta(milliseconds=1))

    def add_order(
        self,
        lines: Iterable[tuple[str, Decimal | int | str]],
        *,
        location_id: str = "LVM-MAIN",
        state: str = "COMPLETED",
        at: datetime | None = None,
        with_payment: bool = True,
    ) -> str:
        moment = at or self.now()
        priced = []
        for variation, quantity in lines:
            price = self.by_variation[variation].price if variation in self.by_variation else 0
            priced.append((variation, str(quantity), price, int(Decimal(str(quantity)) * price)))
        total = sum(line[3] for line in priced)
        order = SimOrder(self._id("ORD"), location_id, state, moment, moment, 1, self.currency, tuple(priced), total)
        self.orders[order.id] = order
        bisect.insort(self._order_index, order.key)
        if with_payment:
            payment = SimPayment(
                self._id("PAY"), order.id, location_id, order.total, self.currency, "COMPLETED", moment, moment
            )
            self.payments[payment.id] = payment
            bisect.insort(self._payment_index, (payment.created_at, payment.id))
        self._emit("order.created", order)
        return order.id

    def update_order(self, order_id: str, *, state: str | None = None, at: datetime | None = None) -> None:
        order = self.orders[order_id]
        del self._order_index[bisect.bisect_left(self._order_index, order.key)]
        if state is not None:
            order.state = state
        order.version += 1
        order.updated_at = max(at or self.now(), order.updated_at + timedelta(milliseconds=1))
        bisect.insort(self._order_index, order.key)
        self._emit("order.updated", order)

    def set_count(self, variation_id: str, quantity: Decimal | int, location_id: str = "LVM-MAIN") -> None:
        self.counts[(variation_id, location_id, "IN_STOCK")] = (Decimal(quantity), self.now())

    def count(self, variation_id: str, location_id: str = "LVM-MAIN", state: str = "IN_STOCK") -> Decimal:
        return self.counts.get((variation_id, location_id, state), (Decimal(0), self.now()))[0]

    # -- webhooks -----------------------------------------------------------------------------------------------

    def subscribe(self, notification_url: str) -> None:
        self.subscriptions.append(notification_url)

    def event_body(self, event_type: str, data: dict[str, Any]) -> bytes:
        event = {
            "merchant_id": self.merchant_id,
            "type": event_type,
            "event_id": self._id("evt-").lower(),
            "created_at": rfc3339(self.now()),
            "data": data,
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def signed(self, notification_url: str, body: bytes) -> dict[str, str]:
        return {
            "content-type": "application/json",
            webhooks.SIGNATURE_HEADER: webhooks.sign(self.signature_key, notification_url, body),
            "square-environment": "Sandbox",
        }

    def _emit(self, event_type: str, order: SimOrder) -> None:
        if not self.subscriptions:
            return
        kind = event_type.split(".")[1]
        data = {
            "type": "order",
            "id": order.id,
            "object": {
                f"order_{kind}": {
                    "order_id": order.id,
                    "location_id": order.location_id,
                    "state": order.state,
                    "version": order.version,
                    "updated_at": rfc3339(order.updated_at),
                }
            },
        }
        body = self.event_body(event_type, data)
        for url in self.subscriptions:
            self._spawn(self.deliver(url, body))

    def _spawn(self, work: Awaitable[Any]) -> None:
        try:
            task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        except RuntimeError:  # no loop (a synchronous test building data): nothing to deliver now
            if asyncio.iscoroutine(work):
                work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, url: str, body: bytes) -> int:
        """POST one signed event to ``url``; Square retries on non-2xx (here: the caller decides)."""
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(url, content=body, headers=self.signed(url, body))
        self.deliveries.append((json.loads(body)["event_id"], response.status_code))
        return response.status_code

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- plumbing -------------------------------------------------------------------------------------------

    def _wrap(
        self, handler: Callable[[Request], Awaitable[Response]], *, auth: bool = True, scope: str | None = None
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if self.settings.latency_seconds:
                await asyncio.sleep(self.settings.latency_seconds)
            if self.faults.take(self.faults.rate_limited, path):
                return _error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited")
            if self.faults.take(self.faults.server_errors, path):
                return _error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "An internal error has occurred")
            if auth:
                refusal = self._check_token(request, scope)
                if refusal is not None:
                    return refusal
            if self.faults.take(self.faults.malformed, path):
                return JSONResponse({"data": {"elements": []}, "next": None})
            return await handler(request)

        return endpoint

    def _check_token(self, request: Request, scope: str | None) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        grant = self._grants.get(token)
        if grant is None or grant.revoked:
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.")
        if grant.expires_at <= self.now():
            return _error(401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_EXPIRED", "The access token has expired.")
        if scope is not None and scope not in grant.scopes:
            return _error(403, "AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES", f"Requires {scope}.")
        return None

    @staticmethod
    async def _json(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _bad("INVALID_BODY", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _bad("INVALID_BODY", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _limit(value: Any, default: int, maximum: int) -> int | JSONResponse:
        if value is None:
            return default
        try:
            limit = int(value)
        except (TypeError, ValueError):
            return _bad("INVALID_VALUE", "limit must be an integer", "limit")
        if not 1 <= limit <= maximum:
            return _bad("INVALID_VALUE", f"limit must be between 1 and {maximum}", "limit")
        return limit

    async def _state(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "orders": len(self.orders),
                "items": len(self.items),
                "requests": dict(self.requests),
                "inventory_changes_applied": self.inventory_changes_applied,
            }
        )

    # -- OAuth --------------------------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        self.requests["/oauth2/authorize"] += 1
        query = request.query_params
        if query.get("client_id") != self.client_id:
            return _bad("INVALID_CLIENT_ID", "Unknown client_id", "client_id")
        scopes = tuple(query.get("scope", "").split())
        unknown = [s for s in scopes if s not in ALL_SCOPES]
        if unknown:
            return _bad("INVALID_SCOPE", f"Unknown scope {unknown[0]}", "scope")
        challenge = query.get("code_challenge")
        if challenge and query.get("code_challenge_method", "S256") != "S256":
            return _bad("INVALID_VALUE", "Only S256 is supported", "code_challenge_method")
        redirect_uri = query.get("redirect_uri")
        code = "sq0cgp-" + secrets.token_urlsafe(24)
        self._codes[code] = _Code(self.client_id, redirect_uri, scopes, challenge, self.now() + CODE_LIFETIME)
        target = redirect_uri or "http://127.0.0.1/square/callback"
        params = {"code": code, "response_type": "code"}
        if "state" in query:
            params["state"] = query["state"]
        return RedirectResponse(f"{target}?{urlencode(params)}", status_code=302)

    def _issue(self, grant: _Grant, refresh_token: str | None) -> dict[str, Any]:
        access = "EAAA" + secrets.token_urlsafe(40)
        self._grants[access] = grant
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_at": grant.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "merchant_id": grant.merchant_id,
            "short_lived": False,
        }
        if refresh_token is not None:
            self._refresh[refresh_token] = grant
            if not self.settings.omit_refresh_token:
                answer["refresh_token"] = refresh_token
        return answer

    async def _token(self, request: Request) -> Response:
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        if body.get("client_id") != self.client_id:
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid client_id")
        grant_type = body.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(body)
        if grant_type == "refresh_token":
            return self._refresh_grant(body)
        return _bad("INVALID_VALUE", "Unsupported grant_type", "grant_type")

    def _code_grant(self, body: dict[str, Any]) -> Response:
        code = self._codes.get(str(body.get("code", "")))
        if code is None or code.used or code.expires_at <= self.now():
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid or expired authorization code")
        if code.redirect_uri and body.get("redirect_uri") not in (None, code.redirect_uri):
            return _bad("INVALID_VALUE", "redirect_uri does not match", "redirect_uri")
        verifier = body.get("code_verifier")
        if code.challenge is not None:
            digest = hashlib.sha256(str(verifier or "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code.challenge:
                return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "code_verifier does not match")
        elif body.get("client_secret") != self.client_secret:
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid client_secret")
        code.used = True
        pkce = code.challenge is not None
        grant = _Grant(self.merchant_id, code.client_id, code.scopes, self.now() + TOKEN_LIFETIME, pkce)
        return JSONResponse(self._issue(grant, "EQAA" + secrets.token_urlsafe(40)))

    def _refresh_grant(self, body: dict[str, Any]) -> Response:
        token = str(body.get("refresh_token", ""))
        previous = self._refresh.get(token)
        if previous is None or previous.revoked:
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid refresh token")
        if not previous.pkce and body.get("client_secret") != self.client_secret:
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid client_secret")
        grant = _Grant(
            previous.merchant_id, previous.client_id, previous.scopes, self.now() + TOKEN_LIFETIME, previous.pkce
        )
        if previous.pkce and not self.settings.omit_refresh_token:  # PKCE: a new refresh token, the old one dies
            del self._refresh[token]
            return JSONResponse(self._issue(grant, "EQAA" + secrets.token_urlsafe(40)))
        return JSONResponse(self._issue(grant, token))

    async def _revoke(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Client {self.client_secret}":
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "Invalid client credentials")
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        grant = self._grants.get(str(body.get("access_token", "")))
        if grant is None and body.get("merchant_id") != self.merchant_id:
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Token not found")
        for each in [*self._grants.values(), *self._refresh.values()]:
            if grant is None or (each.merchant_id == grant.merchant_id and each.client_id == grant.client_id):
                each.revoked = True
        return JSONResponse({"success": True})

    # -- the seller's data --------------------------------------------------------------------------------------

    async def _locations(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "locations": [
                    {"id": lid, "name": name, "currency": self.currency, "status": "ACTIVE"}
                    for lid, name in self.locations.items()
                ]
            }
        )

    def _money(self, amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": self.currency}

    async def _payments(self, request: Request) -> Response:
        query = request.query_params
        limit = self._limit(query.get("limit"), self.settings.payments_page, self.settings.payments_page)
        if isinstance(limit, JSONResponse):
            return limit
        begin = _parse_time(query["begin_time"], "begin_time") if "begin_time" in query else None
        end = _parse_time(query["end_time"], "end_time") if "end_time" in query else None
        for moment in (begin, end):
            if isinstance(moment, JSONResponse):
                return moment
        shape = {k: query.get(k) for k in ("begin_time", "end_time", "location_id", "sort_order")}
        start = 0
        if query.get("cursor"):
            position = _decode_cursor(query["cursor"], shape)
            if not isinstance(position, int):
                return _bad("INVALID_CURSOR", "The cursor is invalid for this request.", "cursor")
            start = position
        elif isinstance(begin, datetime):
            start = bisect.bisect_left(self._payment_index, (begin, ""))
        out: list[dict[str, Any]] = []
        index = start
        while index < len(self._payment_index) and len(out) < limit:
            created, pid = self._payment_index[index]
            index += 1
            if isinstance(end, datetime) and created >= end:
                index = len(self._payment_index)
                break
            payment = self.payments[pid]
            if query.get("location_id") and payment.location_id != query["location_id"]:
                continue
            out.append(
                {
                    "id": payment.id,
                    "status": payment.status,
                    "created_at": rfc3339(payment.created_at),
                    "updated_at": rfc3339(payment.updated_at),
                    "amount_money": self._money(payment.amount),
                    "total_money": self._money(payment.amount),
                    "location_id": payment.location_id,
                    "order_id": payment.order_id,
                    "source_type": "CARD",
                }
            )
        answer: dict[str, Any] = {"payments": out} if out else {}  # Square omits an empty list
        if index < len(self._payment_index):
            answer["cursor"] = _encode_cursor(shape, index)
        return _fast(answer)

    def _render_item(self, item: SimItem) -> dict[str, Any]:
        updated = rfc3339(item.updated_at)
        return {
            "type": "ITEM",
            "id": item.item_id,
            "updated_at": updated,
            "version": item.version,
            "is_deleted": item.deleted,
            "present_at_all_locations": True,
            "item_data": {
                "name": item.name,
                "variations": [
                    {
                        "type": "ITEM_VARIATION",
                        "id": item.variation_id,
                        "updated_at": updated,
                        "version": item.version,
                        "is_deleted": item.deleted,
                        "present_at_all_locations": True,
                        "item_variation_data": {
                            "item_id": item.item_id,
                            "name": "Standard",
                            "sku": item.sku,
                            "pricing_type": "FIXED_PRICING",
                            "price_money": self._money(item.price),
                            "track_inventory": True,
                        },
                    }
                ],
            },
        }

    def _item_page(self, items: list[SimItem], start: int, limit: int, shape: Any) -> dict[str, Any]:
        page = items[start : start + limit]
        answer: dict[str, Any] = {"objects": [self._render_item(i) for i in page]} if page else {}
        if start + limit < len(items):
            answer["cursor"] = _encode_cursor(shape, start + limit)
        return answer

    async def _catalog_list(self, request: Request) -> Response:
        types = {t.strip().upper() for t in request.query_params.get("types", "ITEM").split(",") if t.strip()}
        items = [i for i in self.items.values() if not i.deleted] if "ITEM" in types else []
        shape = {"types": sorted(types)}
        start = 0
        if request.query_params.get("cursor"):
            position = _decode_cursor(request.query_params["cursor"], shape)
            if not isinstance(position, int):
                return _bad("INVALID_CURSOR", "The cursor is invalid for this request.", "cursor")
            start = position
        return _fast(self._item_page(items, start, self.settings.catalog_list_page, shape))

    async def _catalog_search(self, request: Request) -> Response:
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        limit = self._limit(body.get("limit"), self.settings.catalog_search_default, self.settings.catalog_search_max)
        if isinstance(limit, JSONResponse):
            return limit
        types = {str(t).upper() for t in body.get("object_types") or ["ITEM"]}
        begin = _parse_time(body["begin_time"], "begin_time") if body.get("begin_time") else None
        if isinstance(begin, JSONResponse):
            return begin
        items = sorted(self.items.values(), key=lambda i: (i.updated_at, i.item_id)) if "ITEM" in types else []
        if isinstance(begin, datetime):
            # Square answers deleted objects changed after begin_time even without include_deleted_objects.
            items = [i for i in items if i.updated_at > begin]
        elif not body.get("include_deleted_objects"):
            items = [i for i in items if not i.deleted]
        shape = {k: v for k, v in body.items() if k not in ("cursor", "limit")}
        start = 0
        if body.get("cursor"):
            position = _decode_cursor(str(body["cursor"]), shape)
            if not isinstance(position, int):
                return _bad("INVALID_CURSOR", "The cursor is invalid for this request.", "cursor")
            start = position
        answer = self._item_page(items, start, limit, shape)
        answer["latest_time"] = rfc3339(self.now())
        return _fast(answer)

    def _render_order(self, order: SimOrder) -> dict[str, Any]:
        lines = []
        for n, (variation, quantity, price, total) in enumerate(order.lines):
            item = self.by_variation.get(variation)
            lines.append(
                {
                    "uid": f"{order.id}-{n}",
                    "catalog_object_id": variation,
                    "catalog_version": item.version if item else 1,
                    "name": item.name if item else "",
                    "quantity": quantity,
                    "base_price_money": self._money(price),
                    "total_money": self._money(total),
                }
            )
        answer = {
            "id": order.id,
            "location_id": order.location_id,
            "state": order.state,
            "version": order.version,
            "created_at": rfc3339(order.created_at),
            "updated_at": rfc3339(order.updated_at),
            "line_items": lines,
            "total_money": self._money(order.total),
        }
        if order.state == "COMPLETED":
            answer["closed_at"] = answer["updated_at"]
        return answer

    async def _orders_search(self, request: Request) -> Response:  # noqa: PLR0911, PLR0912 - Square checks field by field
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        locations = body.get("location_ids") or []
        if not isinstance(locations, list) or not 1 <= len(locations) <= 10:
            return _bad("INVALID_ARRAY_LENGTH", "location_ids must hold 1 to 10 locations", "location_ids")
        limit = self._limit(body.get("limit"), self.settings.orders_default, self.settings.orders_max)
        if isinstance(limit, JSONResponse):
            return limit
        query = body.get("query") or {}
        time_filter = (query.get("filter") or {}).get("date_time_filter") or {}
        sort = query.get("sort") or {}
        sort_field = sort.get("sort_field", "CREATED_AT")
        if sort_field != "UPDATED_AT" or set(time_filter) - {"updated_at"}:
            # Only what incremental sync uses is simulated; Square also requires the sort field to match the filter.
            return _bad("INVALID_SORT_ORDER", "The simulator supports sort_field UPDATED_AT with an updated_at filter")
        updated = time_filter.get("updated_at") or {}
        start_at = _parse_time(updated["start_at"], "start_at") if updated.get("start_at") else None
        end_at = _parse_time(updated["end_at"], "end_at") if updated.get("end_at") else None
        for moment in (start_at, end_at):
            if isinstance(moment, JSONResponse):
                return moment
        states = set(((query.get("filter") or {}).get("state_filter") or {}).get("states") or [])
        shape = {"location_ids": locations, "query": query}
        if body.get("cursor"):
            position = _decode_cursor(str(body["cursor"]), shape)
            if not (isinstance(position, list) and len(position) == 2):
                return _bad("INVALID_CURSOR", "The cursor does not belong to this query.", "cursor")
            index = bisect.bisect_right(self._order_index, (datetime.fromisoformat(position[0]), position[1]))
        else:
            index = bisect.bisect_left(self._order_index, (start_at, "")) if isinstance(start_at, datetime) else 0
        wanted = set(locations)
        out: list[dict[str, Any]] = []
        last: tuple[datetime, str] | None = None
        while index < len(self._order_index) and len(out) < limit:
            key = self._order_index[index]
            index += 1
            if isinstance(end_at, datetime) and key[0] >= end_at:
                index = len(self._order_index)
                break
            last = key
            order = self.orders[key[1]]
            if order.location_id in wanted and (not states or order.state in states):
                out.append(self._render_order(order))
        answer: dict[str, Any] = {"orders": out} if out else {}
        if index < len(self._order_index) and last is not None:
            answer["cursor"] = _encode_cursor(shape, [last[0].isoformat(), last[1]])
        return _fast(answer)

    async def _order(self, request: Request) -> Response:
        order = self.orders.get(request.path_params["order_id"])
        if order is None:
            return _error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", "Order not found")
        return JSONResponse({"order": self._render_order(order)})

    def _render_count(self, key: tuple[str, str, str], value: tuple[Decimal, datetime]) -> dict[str, Any]:
        return {
            "catalog_object_id": key[0],
            "catalog_object_type": "ITEM_VARIATION",
            "location_id": key[1],
            "state": key[2],
            "quantity": format(value[0].normalize(), "f"),
            "calculated_at": rfc3339(value[1]),
        }

    async def _counts(self, request: Request) -> Response:
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        limit = self._limit(body.get("limit"), self.settings.counts_default, self.settings.counts_max)
        if isinstance(limit, JSONResponse):
            return limit
        ids = set(body.get("catalog_object_ids") or [])
        locations = set(body.get("location_ids") or [])
        states = set(body.get("states") or ["IN_STOCK"])
        after = _parse_time(body["updated_after"], "updated_after") if body.get("updated_after") else None
        if isinstance(after, JSONResponse):
            return after
        rows = sorted(
            (key, value)
            for key, value in self.counts.items()
            if (not ids or key[0] in ids)
            and (not locations or key[1] in locations)
            and key[2] in states
            and (after is None or value[1] > after)
        )
        shape = {k: v for k, v in body.items() if k not in ("cursor", "limit")}
        start = 0
        if body.get("cursor"):
            position = _decode_cursor(str(body["cursor"]), shape)
            if not isinstance(position, int):
                return _bad("INVALID_CURSOR", "The cursor is invalid for this request.", "cursor")
            start = position
        chosen = rows[start : start + limit]
        answer: dict[str, Any] = {"counts": [self._render_count(k, v) for k, v in chosen]} if chosen else {}
        if start + limit < len(rows):
            answer["cursor"] = _encode_cursor(shape, start + limit)
        return _fast(answer)

    async def _changes(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per refusal
        body = await self._json(request)
        if isinstance(body, JSONResponse):
            return body
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            return _bad("MISSING_REQUIRED_PARAMETER", "idempotency_key is required", "idempotency_key")
        fingerprint = hashlib.sha256(json.dumps(body.get("changes"), sort_keys=True).encode()).hexdigest()
        if key in self._inventory_keys:
            first_hash, first_answer = self._inventory_keys[key]
            if first_hash != fingerprint:
                return _bad("IDEMPOTENCY_KEY_REUSED", "The idempotency key was used with another request")
            return JSONResponse(first_answer)
        changes = body.get("changes")
        if not isinstance(changes, list) or not 1 <= len(changes) <= 100:
            return _bad("INVALID_ARRAY_LENGTH", "changes must hold 1 to 100 changes", "changes")
        touched: dict[tuple[str, str, str], tuple[Decimal, datetime]] = {}
        for n, change in enumerate(changes):
            applied = self._apply_change(change, n, touched)
            if isinstance(applied, JSONResponse):
                return applied  # all or nothing: ``touched`` is dropped
        self.counts.update(touched)
        self.inventory_changes_applied += len(changes)
        answer = {"counts": [self._render_count(k, v) for k, v in sorted(touched.items())], "changes": changes}
        self._inventory_keys[key] = (fingerprint, answer)
        return JSONResponse(answer)

    def _apply_change(  # noqa: PLR0911 - one answer per refusal
        self, change: Any, n: int, touched: dict[tuple[str, str, str], tuple[Decimal, datetime]]
    ) -> JSONResponse | None:
        kind = change.get("type") if isinstance(change, dict) else None
        detail = change.get(kind.lower()) if isinstance(kind, str) else None
        if kind not in ("ADJUSTMENT", "PHYSICAL_COUNT") or not isinstance(detail, dict):
            return _bad("INVALID_VALUE", "Unknown change type", f"changes[{n}].type")
        variation, location = detail.get("catalog_object_id"), detail.get("location_id")
        if variation not in self.by_variation:
            return _bad("NOT_FOUND", "Unknown catalog object", f"changes[{n}].catalog_object_id")
        if location not in self.locations:
            return _bad("NOT_FOUND", "Unknown location", f"changes[{n}].location_id")
        try:
            quantity = Decimal(str(detail.get("quantity")))
        except InvalidOperation:
            return _bad("INVALID_VALUE", "quantity must be a decimal string", f"changes[{n}].quantity")
        if not detail.get("occurred_at"):
            return _bad("MISSING_REQUIRED_PARAMETER", "occurred_at is required", f"changes[{n}].occurred_at")
        now = self.now()

        def current(state: str) -> Decimal:
            key = (str(variation), str(location), state)
            return touched.get(key, self.counts.get(key, (Decimal(0), now)))[0]

        if kind == "PHYSICAL_COUNT":
            state = str(detail.get("state", "IN_STOCK"))
            touched[(str(variation), str(location), state)] = (quantity, now)
            return None
        source, target = str(detail.get("from_state", "")), str(detail.get("to_state", ""))
        if not source or not target:
            return _bad("MISSING_REQUIRED_PARAMETER", "from_state and to_state are required", f"changes[{n}]")
        touched[(str(variation), str(location), source)] = (current(source) - quantity, now)
        touched[(str(variation), str(location), target)] = (current(target) + quantity, now)
        return None
