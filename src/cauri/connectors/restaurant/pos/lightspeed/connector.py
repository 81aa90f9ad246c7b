"""Lightspeed Retail (R-Series) as a :class:`PosConnector`, and the OAuth calls a connection needs.

Real, from Lightspeed's public R-Series reference: Account-scoped URLs (``/API/V3/Account/{accountID}/Sale.json``),
``Shop``, ``Sale`` (with ``load_relations`` ``SaleLines``), ``SalePayment``, ``Item`` (prices in ``Prices``),
``ItemShop`` (stock: ``qoh`` per shop, shop 0 the total), query operators (``timeStamp=>=,…``, ``IN,[…]``),
``limit`` ≤ 100, pagination by the ``@attributes.next`` URL (and the legacy ``offset``/``count``), the
leaky-bucket headers ``X-LS-API-Bucket-Level: level/size`` and ``X-LS-API-Drip-Rate``, OAuth on
``cloud.lightspeedapp.com`` (``/auth/oauth/authorize``, ``/auth/oauth/token``, 1-hour tokens, refresh tokens).
Configurable, because the seed names other spellings: the API prefix (the seed's ``/api/v1``), the OAuth paths
(the seed's ``/oauth/authorize.php`` and ``/oauth/access_token.php``). Not public, Cauri's own: the notification
signature (R-Series has no sales webhook; see ``wire.SIGNATURE_HEADER``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
from pydantic import SecretStr

from cauri.connectors.restaurant.base import (
    CatalogObject,
    Location,
    Page,
    PosConnector,
    PosPayment,
    Sale,
    StockChange,
    StockChangeKind,
    StockCount,
    WebhookEvent,
)
from cauri.connectors.restaurant.pos.lightspeed import wire
from cauri.kit.auth import AuthStrategy, BearerToken, NoAuth
from cauri.kit.errors import InvalidRequest, PaymentNotFound, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = wire.PROVIDER
API_URL = "https://api.lightspeedapp.com"
OAUTH_URL = "https://cloud.lightspeedapp.com"
API_PREFIX = "/API/V3"
PAGE_LIMIT = 100  # R-Series' maximum ``limit``
PAGE_SIZES = {"payments": PAGE_LIMIT, "catalog_list": PAGE_LIMIT, "catalog_search": PAGE_LIMIT, "orders": PAGE_LIMIT}
DEFAULT_SCOPES = ("employee:all",)
#: Leaky-bucket costs (R-Series: a read drips 1 unit, a write 10).
READ_COST, WRITE_COST = 1.0, 10.0
#: Room kept free in the bucket. The provider drains it from when it handled our last call, which is later than
#: when we sent it; a call timed to fill the bucket exactly would arrive a little early by the provider's clock
#: and be answered 429. One read's worth covers a lag of 1/drip-rate seconds (1 s on R-Series).
BUCKET_HEADROOM = READ_COST
DEFAULT_POLICY = HttpPolicy(read_timeout=30.0, max_attempts=4, breaker_failures=5, breaker_reset_seconds=60.0)
IDEMPOTENCY_MEMORY = 1024


class LeakyBucket:
    """What the provider's ``X-LS-API-Bucket-Level`` / ``X-LS-API-Drip-Rate`` headers last said, drained by the
    clock: a call that would overflow the bucket waits until it fits, so the provider never has to answer 429."""

    def __init__(self) -> None:
        self.level = 0.0
        self.size = 0.0  # unknown until the first answer
        self.drip_rate = 1.0
        self.observed_at = time.monotonic()
        self.waited = 0.0

    def _drained(self, now: float) -> float:
        return max(0.0, self.level - (now - self.observed_at) * self.drip_rate)

    def observe(self, headers: httpx.Headers) -> None:
        level = headers.get("X-LS-API-Bucket-Level")
        if not level or "/" not in level:
            return
        used, _, size = level.partition("/")
        try:
            told, self.size = float(used), float(size)
            self.drip_rate = float(headers.get("X-LS-API-Drip-Rate") or self.drip_rate) or 1.0
        except ValueError:
            return
        now = time.monotonic()
        # The provider's level counts other clients of the account; ours counts our calls still in flight.
        self.level, self.observed_at = max(told, self._drained(now)), now

    def reserve(self, cost: float) -> float:
        """Count a call now and return how long it must wait to fit (concurrent callers queue behind it)."""
        now = time.monotonic()
        self.level, self.observed_at = self._drained(now) + cost, now
        if not self.size:
            return 0.0
        room = self.size - BUCKET_HEADROOM if self.size > BUCKET_HEADROOM else self.size
        return max(0.0, (self.level - room) / self.drip_rate)

    async def wait(self, cost: float) -> None:
        delay = self.reserve(cost)
        if delay > 0:
            self.waited += delay
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class LightspeedToken:
    access_token: SecretStr
    expires_at: datetime
    refresh_token: SecretStr | None
    merchant_id: str | None = None  # the account id, read with :meth:`LightspeedRetailConnector.account_id`
    scopes: tuple[str, ...] = ()


class LightspeedOAuth:
    """R-Series OAuth: authorisation code (form-encoded token calls with the client secret), 1-hour access
    tokens, refresh tokens (a refresh answer without one keeps ours: the caller's rule)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr,
        base_url: str = OAUTH_URL,
        authorize_path: str = "/auth/oauth/authorize",
        token_path: str = "/auth/oauth/token",  # noqa: S107 - a path, not a secret
        api_url: str = API_URL,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = base_url.rstrip("/")
        self.authorize_path = authorize_path
        self.token_path = token_path
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=self.base_url,
            auth=NoAuth(),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=("client_secret", "code", "refresh_token", "access_token"),
            error_mapper=wire.error_from_response,
        )

    def authorize_url(
        self, *, state: str, scopes: Sequence[str], redirect_uri: str | None, code_challenge: str | None = None
    ) -> str:
        query = {"response_type": "code", "client_id": self.client_id, "scope": " ".join(scopes), "state": state}
        if redirect_uri:
            query["redirect_uri"] = redirect_uri
        if code_challenge:
            query["code_challenge"] = code_challenge
            query["code_challenge_method"] = "S256"
        return f"{self.base_url}{self.authorize_path}?{urlencode(query)}"

    async def _token(self, form: dict[str, str], scopes: Sequence[str]) -> LightspeedToken:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret.get_secret_value()}
        response = await self.http.request(
            "POST", self.token_path, operation="oauth_token", data=form, idempotent=False
        )
        answer = response.json()
        if not isinstance(answer, dict) or not answer.get("access_token"):
            raise unreadable_answer(PROVIDER, "a token answer without access_token")
        lifetime = int(answer.get("expires_in") or 3600)
        refresh = answer.get("refresh_token")
        granted = str(answer.get("scope") or "").split()
        return LightspeedToken(
            access_token=SecretStr(str(answer["access_token"])),
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
            scopes=tuple(granted or scopes),
        )

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None, code_verifier: str | None = None, scopes: Sequence[str] = ()
    ) -> LightspeedToken:
        form = {"grant_type": "authorization_code", "code": code}
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        token = await self._token(form, scopes)
        # The account the restaurant authorised: every API URL is scoped by it (kept as the connection's merchant).
        api = ProviderHttpClient(provider=PROVIDER, base_url=self.api_url, auth=BearerToken(token.access_token))
        try:
            account = await LightspeedRetailConnector.account_id_for(api)
        finally:
            await api.aclose()
        return LightspeedToken(token.access_token, token.expires_at, token.refresh_token, account, token.scopes)

    async def refresh(
        self, refresh_token: SecretStr, *, pkce: bool = False, scopes: Sequence[str] = ()
    ) -> LightspeedToken:
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}, scopes
        )

    async def revoke(self, access_token: SecretStr) -> None:
        """R-Series publishes no revocation endpoint: the connection forgets the tokens (the access token expires
        within the hour; the restaurant removes the app in Lightspeed to end the grant)."""

    async def aclose(self) -> None:
        await self.http.aclose()


class LightspeedRetailConnector(PosConnector):
    provider = PROVIDER
    page_sizes = PAGE_SIZES

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        account_id: str,
        base_url: str = API_URL,
        api_prefix: str = API_PREFIX,
        currency: str = "EUR",
        policy: HttpPolicy | None = None,
        signature_secrets: Sequence[SecretStr] = (),
    ) -> None:
        self.account_id = account_id
        self.currency = currency
        self.prefix = f"{api_prefix.rstrip('/')}/Account/{account_id}"
        self.signature_secrets = [s.get_secret_value() for s in signature_secrets]
        self.bucket = LeakyBucket()
        self._applied: OrderedDict[str, list[StockCount]] = OrderedDict()
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=auth,
            policy=policy or DEFAULT_POLICY,
            error_mapper=wire.error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    async def account_id_for(http: ProviderHttpClient, api_prefix: str = API_PREFIX) -> str:
        """The account the token opens (``GET /API/V3/Account.json``), after a connection."""
        response = await http.request("GET", f"{api_prefix}/Account.json", operation="get_account")
        accounts = wire.records(orjson.loads(response.content), "Account")
        if not accounts:
            raise unreadable_answer(PROVIDER, "no Account for this token")
        return str(accounts[0].get("accountID"))

    # -- plumbing -------------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, operation: str, **kw: Any) -> httpx.Response:
        await self.bucket.wait(READ_COST if method == "GET" else WRITE_COST)
        response = await self.http.request(method, path, operation=operation, **kw)
        self.bucket.observe(response.headers)
        return response

    async def _answer(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._call("GET", path, operation, params=params)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise unreadable_answer(PROVIDER, exc) from None

    def _resource(self, name: str) -> str:
        return f"{self.prefix}/{name}.json"

    def _next_path(self, cursor: str, resource: str) -> str:
        """A ``next`` URL we gave out as a cursor, reduced to its path and query on *our* host (a cursor never
        sends the token elsewhere)."""
        parts = urlsplit(cursor)
        if parts.path != self._resource(resource):
            raise InvalidRequest(
                "Curseur Lightspeed invalide.", "Invalid Lightspeed cursor.", provider=PROVIDER, code="invalid_cursor"
            )
        return f"{parts.path}?{parts.query}"

    async def _page(
        self, resource: str, operation: str, params: dict[str, str], cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page: the first from ``params``, the next ones from the ``@attributes.next`` URL (or, from an
        account answering the legacy way, ``offset + limit < count``)."""
        if cursor:
            answer = await self._answer(self._next_path(cursor, resource), operation)
        else:
            answer = await self._answer(self._resource(resource), operation, {"limit": str(PAGE_LIMIT), **params})
        found = wire.records(answer, resource)
        attributes = answer["@attributes"]
        next_url = attributes.get("next") or None
        if next_url is None and "count" in attributes and "offset" in attributes:
            offset, limit, count = (int(attributes.get(k) or 0) for k in ("offset", "limit", "count"))
            if offset + limit < count:
                base = self._resource(resource)
                query = {**params, "limit": str(limit), "offset": str(offset + limit)}
                next_url = f"{base}?{urlencode(query)}"
        return found, str(next_url) if next_url else None

    @staticmethod
    def _since(moment: datetime) -> str:
        return f">=,{wire.iso(moment)}"

    @staticmethod
    def _among(ids: Sequence[str]) -> str:
        return f"IN,[{','.join(ids)}]"

    # -- PosConnector ---------------------------------------------------------------------------------------

    async def list_locations(self) -> list[Location]:
        answer = await self._answer(self._resource("Shop"), "list_shops")
        return [
            Location(
                str(shop.get("shopID")), str(shop.get("name") or ""), self.currency, not wire.flag(shop.get("archived"))
            )
            for shop in wire.records(answer, "Shop")
        ]

    async def list_payments(
        self,
        *,
        begin_time: datetime | None = None,
        end_time: datetime | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
    ) -> Page[PosPayment]:
        params = {"sort": "createTime"}
        if begin_time is not None and end_time is not None:
            params["createTime"] = f"><,{wire.iso(begin_time)},{wire.iso(end_time)}"
        elif begin_time is not None:
            params["createTime"] = self._since(begin_time)
        elif end_time is not None:
            params["createTime"] = f"<,{wire.iso(end_time)}"
        found, next_cursor = await self._page("SalePayment", "list_payments", params, cursor)
        return Page([wire.payment(p, self.currency) for p in found], next_cursor)

    async def list_catalog(self, *, cursor: str | None = None, types: Sequence[str] = ()) -> Page[CatalogObject]:
        found, next_cursor = await self._page("Item", "list_items", {"archived": "false", "sort": "itemID"}, cursor)
        return Page([wire.item(i, self.currency) for i in found], next_cursor)

    async def search_catalog(self, *, changed_since: datetime | None, cursor: str | None = None) -> Page[CatalogObject]:
        params = {"archived": "true", "sort": "timeStamp"}  # "true": archived items too (deleted ones)
        if changed_since is not None:
            params["timeStamp"] = self._since(changed_since)
        found, next_cursor = await self._page("Item", "search_items", params, cursor)
        return Page([wire.item(i, self.currency) for i in found], next_cursor)

    async def search_sales(
        self,
        *,
        location_ids: Sequence[str],
        updated_since: datetime | None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Sale]:
        params = {"sort": "timeStamp", "load_relations": json.dumps(["SaleLines", "SaleLines.Item"])}
        if location_ids:
            params["shopID"] = self._among(location_ids)
        if updated_since is not None:
            params["timeStamp"] = self._since(updated_since)
        if limit:
            params["limit"] = str(min(limit, PAGE_LIMIT))
        found, next_cursor = await self._page("Sale", "search_sales", params, cursor)
        return Page([wire.sale(s, self.currency) for s in found], next_cursor)

    async def get_sale(self, sale_id: str) -> Sale:
        params = {"load_relations": json.dumps(["SaleLines", "SaleLines.Item"])}
        answer = await self._answer(f"{self.prefix}/Sale/{sale_id}.json", "get_sale", params)
        found = wire.records(answer, "Sale")
        if not found:
            raise PaymentNotFound(provider=PROVIDER, code="sale_not_found")
        return wire.sale(found[0], self.currency)

    async def stock_counts(
        self,
        *,
        item_ids: Sequence[str] = (),
        location_ids: Sequence[str] = (),
        updated_since: datetime | None = None,
        cursor: str | None = None,
    ) -> Page[StockCount]:
        params = {"sort": "itemShopID"}
        if item_ids:
            params["itemID"] = self._among(item_ids)
        if location_ids:
            params["shopID"] = self._among(location_ids)
        if updated_since is not None:
            params["timeStamp"] = self._since(updated_since)
        found, next_cursor = await self._page("ItemShop", "list_item_shops", params, cursor)
        counts = [wire.item_shop(row) for row in found if str(row.get("shopID")) != wire.TOTAL_SHOP_ID]
        return Page(counts, next_cursor)

    async def change_stock(self, changes: Sequence[StockChange], *, idempotency_key: str) -> list[StockCount]:
        """R-Series stores ``qoh`` per ItemShop and takes an absolute value (no idempotency key): read, compute,
        ``PUT`` the result — an HTTP retry of that PUT is harmless. The same key twice is answered from memory
        (the hub's movements carry unique references, so a key is not reused across processes)."""
        if idempotency_key in self._applied:
            return self._applied[idempotency_key]
        by_item: dict[str, list[StockChange]] = {}
        for change in changes:
            by_item.setdefault(change.item_id, []).append(change)
        counts: list[StockCount] = []
        for item_id, item_changes in by_item.items():
            counts.extend(await self._apply(item_id, item_changes))
        self._applied[idempotency_key] = counts
        while len(self._applied) > IDEMPOTENCY_MEMORY:
            self._applied.popitem(last=False)
        return counts

    async def _apply(self, item_id: str, changes: Sequence[StockChange]) -> list[StockCount]:
        path = f"{self.prefix}/Item/{item_id}.json"
        answer = await self._answer(path, "get_item", {"load_relations": json.dumps(["ItemShops"])})
        items = wire.records(answer, "Item")
        if not items:
            raise PaymentNotFound(provider=PROVIDER, code="item_not_found")
        rows = {str(r.get("shopID")): r for r in wire.nested(items[0], "ItemShops", "ItemShop")}
        targets: dict[str, Decimal] = {}
        for change in changes:
            row = rows.get(change.location_id)
            if row is None:
                raise InvalidRequest(
                    f"L'article {item_id} n'a pas de stock dans la boutique {change.location_id}.",
                    f"Item {item_id} has no stock row in shop {change.location_id}.",
                    provider=PROVIDER,
                    code="lightspeed_unknown_shop",
                )
            current = targets.get(change.location_id, wire.decimal(row.get("qoh", "0"), "qoh"))
            targets[change.location_id] = _after(current, change)
        body = {
            "ItemShops": {
                "ItemShop": [
                    {"itemShopID": str(rows[shop]["itemShopID"]), "qoh": wire.quantity_text(qoh)}
                    for shop, qoh in targets.items()
                ]
            }
        }
        response = await self._call("PUT", path, "update_item", json=body)
        updated = wire.records(orjson.loads(response.content), "Item")
        rows_after = wire.nested(updated[0], "ItemShops", "ItemShop") if updated else []
        return [wire.item_shop(r) for r in rows_after if str(r.get("shopID")) in targets]

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        wire.verify(secrets=self.signature_secrets, headers=headers, body=body, notification_url=url)
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise unreadable_answer(PROVIDER, "notification body") from exc
        return wire.event(raw)


def _after(current: Decimal, change: StockChange) -> Decimal:
    if change.kind is StockChangeKind.PHYSICAL_COUNT:
        return change.quantity if change.to_state == "in_stock" else current
    if change.from_state == "in_stock" and change.to_state != "in_stock":
        return current - change.quantity
    if change.to_state == "in_stock" and change.from_state != "in_stock":
        return current + change.quantity
    return current
