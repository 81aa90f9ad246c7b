"""FedaPay HTTP calls, and nothing else: ``Authorization: Bearer sk_…``, wrapped JSON answers, paths under ``/v1``.

FedaPay's SDKs (fedapay-php ``lib/Requestor.php``, fedapay-node ``src/Requestor.ts``) request
``<host>/<api version>/<path>`` with the hosts ``https://sandbox-api.fedapay.com`` and ``https://api.fedapay.com`` and
the version ``v1``. :func:`api_root` adds ``/v1`` to a configured host once: a ``base_url`` that already ends in
``/v1`` (the form Cauri documented before) is used as it is, never doubled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from cauri.connectors.mobile_money.fedapay.transformers import PROVIDER, error_from_response, unreadable
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy, ProviderHttpClient

API_VERSION = "v1"
SANDBOX_URL = "https://sandbox-api.fedapay.com"
LIVE_URL = "https://api.fedapay.com"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3, rate_limit=None)
# ``include`` asks FedaPay to embed related objects (fedapay-node test/PayoutTest.ts sends it on create): with the
# currency embedded, an answer names its ISO code instead of a bare ``currency_id``.
INCLUDE = "customer,currency"


def api_root(base_url: str) -> str:
    """``https://host`` -> ``https://host/v1``; ``https://host/v1`` (or ``…/v1/``) stays ``https://host/v1``."""
    root = base_url.rstrip("/")
    return root if root.endswith(f"/{API_VERSION}") else f"{root}/{API_VERSION}"


class FedaPayHttp:
    def __init__(self, *, base_url: str, api_key: SecretStr, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=api_root(base_url),
            auth=BearerToken(api_key),
            policy=policy or DEFAULT_POLICY,
            error_mapper=error_from_response,
            default_headers={"X-FedaPay-Api-Version": API_VERSION},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _json(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise unreadable("a JSON object was expected")
        return answer

    @staticmethod
    def _id(value: str) -> str:
        return quote(value, safe="")

    async def create_transaction(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Not idempotent (FedaPay documents no idempotency key): never resent after it may have arrived."""
        response = await self.http.request(
            "POST", "/transactions", operation="create_transaction", json={**body, "include": INCLUDE}
        )
        return self._json(response.json())

    async def token(self, transaction_id: str) -> dict[str, Any]:
        """``{token, url}``: the payment URL for a redirect, the token for the redirect-less modes."""
        response = await self.http.request(
            "POST", f"/transactions/{self._id(transaction_id)}/token", operation="transaction_token", json={}
        )
        return self._json(response.json())

    async def pay(self, mode: str, token: str, phone_number: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``POST /v1/{mode} {token, phone_number?}``: the push to the payer's phone (``sendNowWithToken`` in the
        SDKs). ``phone_number`` (``{number, country}``) names the payer when the transaction has no customer."""
        body: dict[str, Any] = {"token": token}
        if phone_number is not None:
            body["phone_number"] = dict(phone_number)
        response = await self.http.request("POST", f"/{self._id(mode)}", operation="pay", json=body)
        return self._json(response.json()) if response.content else {}

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET",
            f"/transactions/{self._id(transaction_id)}",
            operation="get_transaction",
            params={"include": INCLUDE},
        )
        return self._json(response.json())

    async def refund(self, transaction_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.http.request(
            "POST", f"/transactions/{self._id(transaction_id)}/refund", operation="refund", json=body
        )
        return self._json(response.json())

    async def create_payout(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/payouts``: the payout exists, ``pending``, nothing is sent until it is started."""
        response = await self.http.request(
            "POST", "/payouts", operation="create_payout", json={**body, "include": INCLUDE}
        )
        return self._json(response.json())

    async def start_payouts(self, payouts: list[Mapping[str, Any]]) -> dict[str, Any]:
        """``PUT /v1/payouts/start {payouts: [{id, phone_number?, scheduled_at?}]}`` -> ``{"v1/payouts": [...]}``.
        Never resent (``idempotent=False``): a start whose answer was lost may have sent the money."""
        response = await self.http.request(
            "PUT",
            "/payouts/start",
            operation="start_payout",
            json={"payouts": [dict(p) for p in payouts]},
            idempotent=False,
        )
        return self._json(response.json())

    async def get_payout(self, payout_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"/payouts/{self._id(payout_id)}", operation="get_payout", params={"include": INCLUDE}
        )
        return self._json(response.json())

    async def balances(self) -> dict[str, Any]:
        """``GET /v1/balances`` -> ``{"v1/balances": [{id, currency_id, amount, mode, …}]}`` (one per mode)."""
        response = await self.http.request("GET", "/balances", operation="balances")
        return self._json(response.json())

    async def currencies(self) -> dict[str, Any]:
        """``GET /v1/currencies`` -> ``{"v1/currencies": [{id, iso, …}]}``: what a ``currency_id`` means."""
        response = await self.http.request("GET", "/currencies", operation="currencies")
        return self._json(response.json())
