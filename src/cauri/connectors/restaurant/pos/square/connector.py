"""Square as a :class:`PosConnector`: Locations, Payments, Catalog, Orders and Inventory APIs, webhooks, and
the OAuth calls a connection needs (authorisation URL with PKCE, code exchange, refresh, revocation).

Real, from Square's public reference: paths, ``Square-Version``, bodies, cursors, page sizes (payments 100,
catalog list 100, catalog search 1,000, orders search 500 by default and 1,000 at most, inventory counts 1,000),
``expires_at`` tokens, the signature scheme. Unpublished (configurable): rate limits (``HttpPolicy.rate_limit``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr, ValidationError

from cauri.connectors.restaurant.base import (
    CatalogObject,
    Location,
    Page,
    PosConnector,
    PosPayment,
    Sale,
    StockChange,
    StockCount,
    WebhookEvent,
)
from cauri.connectors.restaurant.pos.square import schemas, transformers, webhooks
from cauri.kit.auth import AuthStrategy, NoAuth
from cauri.kit.errors import InvalidRequest, read_wire, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "square"
PRODUCTION_URL = "https://connect.squareup.com"
SANDBOX_URL = "https://connect.squareupsandbox.com"
SQUARE_VERSION = "2025-01-23"
DEFAULT_SCOPES = (
    "ITEMS_READ",
    "ITEMS_WRITE",
    "INVENTORY_READ",
    "INVENTORY_WRITE",
    "ORDERS_READ",
    "PAYMENTS_READ",
    "MERCHANT_PROFILE_READ",
)
W = TypeVar("W", bound=schemas.Wire)
PAGE_SIZES = {"payments": 100, "catalog_list": 100, "catalog_search": 1000, "orders": 1000, "stock": 1000}
MAX_ORDER_LOCATIONS = 10
#: Square publishes no rate limit; none by default, a ``rate_limit`` policy override sets one.
DEFAULT_POLICY = HttpPolicy(read_timeout=30.0, max_attempts=4, breaker_failures=5, breaker_reset_seconds=60.0)


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> PkcePair:
        verifier = secrets.token_urlsafe(64)[:96]
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@dataclass(frozen=True)
class SquareToken:
    access_token: SecretStr
    expires_at: datetime
    refresh_token: SecretStr | None
    merchant_id: str | None
    scopes: tuple[str, ...] = ()


#: Keys a page answer may carry besides its list; Square omits an empty list altogether (``{}``).
PAGE_KEYS = frozenset({"cursor", "errors", "latest_time", "related_objects"})


def read_page(model: type[W], raw: bytes, list_key: str) -> W:
    """A page of ``list_key``, validated straight from the answer's bytes (pydantic's parser: a 1,000-order page
    is the sync's hottest path). ``{}`` is an empty page, but an object with neither the list nor the page keys is
    an answer of another shape (a proxy's, another API version's) and must not read as "nothing changed"."""
    try:
        answer = model.model_validate_json(raw)
    except ValidationError as exc:
        raise unreadable_answer(PROVIDER, exc) from None
    if list_key not in answer.model_fields_set and set(answer.model_extra or {}) - PAGE_KEYS:
        raise unreadable_answer(PROVIDER, f"a page without {list_key!r}")
    return answer


class SquareOAuth:
    """Square's OAuth endpoints. ``client_secret`` is None for a PKCE-only (public) client."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: SecretStr | None,
        base_url: str = PRODUCTION_URL,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = base_url.rstrip("/")
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=self.base_url,
            auth=NoAuth(),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=("client_secret", "code", "code_verifier", "refresh_token", "access_token"),
            error_mapper=transformers.error_from_response,
        )

    def authorize_url(
        self, *, state: str, scopes: Sequence[str], redirect_uri: str | None, code_challenge: str | None
    ) -> str:
        query = {"client_id": self.client_id, "scope": " ".join(scopes), "session": "false", "state": state}
        if redirect_uri:
            query["redirect_uri"] = redirect_uri
        if code_challenge:
            query["code_challenge"] = code_challenge
            query["code_challenge_method"] = "S256"
        return f"{self.base_url}/oauth2/authorize?{urlencode(query)}"

    def _credentials(self, code_verifier: str | None) -> dict[str, str]:
        body = {"client_id": self.client_id}
        if code_verifier is not None:
            body["code_verifier"] = code_verifier
        elif self.client_secret is not None:
            body["client_secret"] = self.client_secret.get_secret_value()
        return body

    async def _token(self, body: dict[str, Any], scopes: Sequence[str]) -> SquareToken:
        # Not retried after the request left (a code is single use): a lost answer is "connect again".
        response = await self.http.request(
            "POST", "/oauth2/token", operation="oauth_token", json=body, idempotent=False
        )
        answer = read_wire(schemas.TokenAnswer, response.json(), PROVIDER)
        return SquareToken(
            access_token=SecretStr(answer.access_token),
            expires_at=transformers.parse_time(answer.expires_at),
            refresh_token=SecretStr(answer.refresh_token) if answer.refresh_token else None,
            merchant_id=answer.merchant_id,
            scopes=tuple(scopes),
        )

    async def exchange_code(
        self, code: str, *, redirect_uri: str | None, code_verifier: str | None, scopes: Sequence[str] = ()
    ) -> SquareToken:
        body: dict[str, Any] = {"grant_type": "authorization_code", "code": code, **self._credentials(code_verifier)}
        if redirect_uri:
            body["redirect_uri"] = redirect_uri
        return await self._token(body, scopes)

    async def refresh(self, refresh_token: SecretStr, *, pkce: bool, scopes: Sequence[str] = ()) -> SquareToken:
        body: dict[str, Any] = {"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()}
        body["client_id"] = self.client_id
        if not pkce and self.client_secret is not None:
            body["client_secret"] = self.client_secret.get_secret_value()
        return await self._token(body, scopes)

    async def revoke(self, access_token: SecretStr) -> None:
        if self.client_secret is None:
            raise InvalidRequest(
                "La révocation Square exige le secret de l'application.",
                "Square revocation needs the application secret.",
                provider=PROVIDER,
                code="square_revoke_needs_secret",
            )
        await self.http.request(
            "POST",
            "/oauth2/revoke",
            operation="oauth_revoke",
            json={"client_id": self.client_id, "access_token": access_token.get_secret_value()},
            headers={"Authorization": f"Client {self.client_secret.get_secret_value()}"},
            idempotent=True,  # revoking twice is harmless
        )

    async def aclose(self) -> None:
        await self.http.aclose()


class SquareConnector(PosConnector):
    provider = PROVIDER
    page_sizes = PAGE_SIZES

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        base_url: str = PRODUCTION_URL,
        square_version: str = SQUARE_VERSION,
        policy: HttpPolicy | None = None,
        signature_keys: Sequence[SecretStr] = (),
        orders_page_size: int = PAGE_SIZES["orders"],
    ) -> None:
        self.signature_keys = list(signature_keys)
        self.orders_page_size = orders_page_size
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=auth,
            policy=policy or DEFAULT_POLICY,
            default_headers={"Square-Version": square_version},
            error_mapper=transformers.error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Any:
        return (await self._get_raw(path, operation, params)).json()

    async def _get_raw(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.http.request("GET", path, operation=operation, params=params)

    async def _post_raw(self, path: str, body: Mapping[str, Any], operation: str, **kw: Any) -> bytes:
        # Searches change nothing (and batch-create carries its idempotency key): safe to retry on 5xx and timeouts.
        kw.setdefault("idempotent", True)
        return (await self.http.request("POST", path, operation=operation, json=dict(body), **kw)).content

    async def list_locations(self) -> list[Location]:
        answer = read_wire(schemas.LocationsAnswer, await self._get("/v2/locations", "list_locations"), PROVIDER)
        return [Location(loc.id, loc.name, loc.currency, loc.status == "ACTIVE") for loc in answer.locations]

    async def list_payments(
        self,
        *,
        begin_time: datetime | None = None,
        end_time: datetime | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
    ) -> Page[PosPayment]:
        params = {"sort_order": "ASC", "limit": str(PAGE_SIZES["payments"])}
        if begin_time is not None:
            params["begin_time"] = transformers.rfc3339(begin_time)
        if end_time is not None:
            params["end_time"] = transformers.rfc3339(end_time)
        if location_id:
            params["location_id"] = location_id
        if cursor:
            params["cursor"] = cursor
        raw = (await self._get_raw("/v2/payments", "list_payments", params)).content
        answer = read_page(schemas.PaymentsAnswer, raw, "payments")
        return Page([transformers.payment(p) for p in answer.payments], answer.cursor or None)

    async def list_catalog(self, *, cursor: str | None = None, types: Sequence[str] = ()) -> Page[CatalogObject]:
        params = {"types": ",".join(types) if types else "ITEM,CATEGORY"}
        if cursor:
            params["cursor"] = cursor
        raw = (await self._get_raw("/v2/catalog/list", "list_catalog", params)).content
        answer = read_page(schemas.CatalogAnswer, raw, "objects")
        return Page([o for obj in answer.objects for o in transformers.catalog_objects(obj)], answer.cursor or None)

    async def search_catalog(self, *, changed_since: datetime | None, cursor: str | None = None) -> Page[CatalogObject]:
        body: dict[str, Any] = {
            "object_types": ["ITEM", "CATEGORY"],
            "include_deleted_objects": True,
            "limit": PAGE_SIZES["catalog_search"],
        }
        if changed_since is not None:
            body["begin_time"] = transformers.rfc3339(changed_since)
        if cursor:
            body["cursor"] = cursor
        raw = await self._post_raw("/v2/catalog/search", body, "search_catalog")
        answer = read_page(schemas.CatalogAnswer, raw, "objects")
        return Page([o for obj in answer.objects for o in transformers.catalog_objects(obj)], answer.cursor or None)

    @staticmethod
    def orders_query(location_ids: Sequence[str], updated_since: datetime | None) -> dict[str, Any]:
        """The same query on every page (Square's cursors are valid only for the query that made them)."""
        updated: dict[str, str] = {}
        if updated_since is not None:
            updated["start_at"] = transformers.rfc3339(updated_since)
        return {
            "location_ids": list(location_ids),
            "query": {
                "filter": {"date_time_filter": {"updated_at": updated}},
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
        }

    async def search_sales(
        self,
        *,
        location_ids: Sequence[str],
        updated_since: datetime | None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Sale]:
        if not 1 <= len(location_ids) <= MAX_ORDER_LOCATIONS:
            raise InvalidRequest(
                f"Square cherche les commandes de 1 à {MAX_ORDER_LOCATIONS} établissements à la fois.",
                f"Square searches the orders of 1 to {MAX_ORDER_LOCATIONS} locations at a time.",
                provider=PROVIDER,
                code="square_too_many_locations",
            )
        body = {**self.orders_query(location_ids, updated_since), "limit": limit or self.orders_page_size}
        if cursor:
            body["cursor"] = cursor
        raw = await self._post_raw("/v2/orders/search", body, "search_orders")
        answer = read_page(schemas.OrdersAnswer, raw, "orders")
        return Page([transformers.sale(o) for o in answer.orders], answer.cursor or None)

    async def get_sale(self, sale_id: str) -> Sale:
        answer = read_wire(schemas.OrderAnswer, await self._get(f"/v2/orders/{sale_id}", "get_order"), PROVIDER)
        return transformers.sale(answer.order)

    async def stock_counts(
        self,
        *,
        item_ids: Sequence[str] = (),
        location_ids: Sequence[str] = (),
        updated_since: datetime | None = None,
        cursor: str | None = None,
    ) -> Page[StockCount]:
        body: dict[str, Any] = {"limit": PAGE_SIZES["stock"]}
        if item_ids:
            body["catalog_object_ids"] = list(item_ids)
        if location_ids:
            body["location_ids"] = list(location_ids)
        if updated_since is not None:
            body["updated_after"] = transformers.rfc3339(updated_since)
        if cursor:
            body["cursor"] = cursor
        raw = await self._post_raw("/v2/inventory/counts/batch-retrieve", body, "retrieve_counts")
        answer = read_page(schemas.CountsAnswer, raw, "counts")
        return Page([transformers.stock_count(c) for c in answer.counts], answer.cursor or None)

    async def change_stock(self, changes: Sequence[StockChange], *, idempotency_key: str) -> list[StockCount]:
        body = {
            "idempotency_key": idempotency_key,  # in the body, as Square wants: every retry sends the same one
            "changes": [transformers.inventory_change(c) for c in changes],
            "ignore_unchanged_counts": True,
        }
        raw = await self._post_raw("/v2/inventory/changes/batch-create", body, "change_inventory", idempotent=True)
        answer = read_page(schemas.CountsAnswer, raw, "counts")
        return [transformers.stock_count(c) for c in answer.counts]

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        webhooks.verify(signature_keys=self.signature_keys, headers=headers, body=body, notification_url=url)
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise unreadable_answer(PROVIDER, "webhook body") from exc
        return transformers.event(read_wire(schemas.Event, raw, PROVIDER))
