"""FedaPay HTTP calls, and nothing else: ``Authorization: Bearer sk_…``, wrapped JSON answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from cauri.connectors.mobile_money.fedapay.transformers import PROVIDER, error_from_response, unreadable
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy, ProviderHttpClient

SANDBOX_URL = "https://sandbox-api.fedapay.com/v1"
LIVE_URL = "https://api.fedapay.com/v1"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3, rate_limit=None)


class FedaPayHttp:
    def __init__(self, *, base_url: str, api_key: SecretStr, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=BearerToken(api_key),
            policy=policy or DEFAULT_POLICY,
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _json(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise unreadable("a JSON object was expected")
        return answer

    async def create_transaction(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Not idempotent (FedaPay documents no idempotency key): never resent after it may have arrived."""
        response = await self.http.request("POST", "/transactions", operation="create_transaction", json=body)
        return self._json(response.json())

    async def token(self, transaction_id: str) -> dict[str, Any]:
        """``{token, url}``: the payment URL for a redirect, the token for the redirect-less modes."""
        response = await self.http.request(
            "POST", f"/transactions/{quote(transaction_id, safe='')}/token", operation="transaction_token", json={}
        )
        return self._json(response.json())

    async def pay(self, mode: str, token: str) -> dict[str, Any]:
        """``POST /{mode} {token}``: the push to the payer's phone (``mtn``, ``moov``, ``mtn_ci``, ``moov_tg``)."""
        response = await self.http.request("POST", f"/{quote(mode, safe='')}", operation="pay", json={"token": token})
        return self._json(response.json()) if response.content else {}

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"/transactions/{quote(transaction_id, safe='')}", operation="get_transaction"
        )
        return self._json(response.json())

    async def refund(self, transaction_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.http.request(
            "POST", f"/transactions/{quote(transaction_id, safe='')}/refund", operation="refund", json=body
        )
        return self._json(response.json())
