"""Wave HTTP calls, and nothing else: ``Authorization: Bearer <api key>``, wire dicts in and out.

Creates carry an ``idempotency-key`` made by the caller before the first attempt (Wave documents it for payouts;
it is sent on checkout sessions and refunds too), so a retry after a 5xx or a timeout returns the first answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from cauri.connectors.mobile_money.wave.transformers import PROVIDER, error_from_response
from cauri.kit.auth import BearerToken
from cauri.kit.http import HttpPolicy, ProviderHttpClient

DEFAULT_BASE_URL = "https://api.wave.com"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3)
IDEMPOTENCY_HEADER = "idempotency-key"


class WaveHttp:
    def __init__(self, *, base_url: str, api_key: SecretStr, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=BearerToken(api_key),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=("restrict_payer_mobile", "mobile", "national_id"),
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, operation: str, body: dict[str, Any] | None, key: str) -> dict[str, Any]:
        response = await self.http.request(
            "POST", path, operation=operation, json=body, idempotency_key=key, idempotency_header=IDEMPOTENCY_HEADER
        )
        return _json(response)

    async def _get(self, path: str, operation: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return _json(await self.http.request("GET", path, operation=operation, params=params))

    async def create_checkout_session(self, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return await self._post("/v1/checkout/sessions", "collect", body, idempotency_key)

    async def get_checkout_session(self, session_id: str) -> dict[str, Any]:
        return await self._get(f"/v1/checkout/sessions/{quote(session_id, safe='')}", "collect_status")

    async def search_checkout_sessions(self, client_reference: str) -> dict[str, Any]:
        return await self._get(
            "/v1/checkout/sessions/search", "collect_search", params={"client_reference": client_reference}
        )

    async def checkout_session_by_transaction(self, transaction_id: str) -> dict[str, Any]:
        return await self._get("/v1/checkout/sessions", "collect_status", params={"transaction_id": transaction_id})

    async def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "POST",
            f"/v1/checkout/sessions/{quote(session_id, safe='')}/expire",
            operation="collect_expire",
            idempotent=True,  # expiring twice changes nothing
            allow_status=(400, 409),
        )
        return _json(response)

    async def refund_checkout_session(self, session_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return await self._post(
            f"/v1/checkout/sessions/{quote(session_id, safe='')}/refund", "refund", None, idempotency_key
        )

    async def reverse_payout(self, payout_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return await self._post(f"/v1/payout/{quote(payout_id, safe='')}/reverse", "reversal", None, idempotency_key)

    async def create_payout(self, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return await self._post("/v1/payout", "payout", body, idempotency_key)

    async def get_payout(self, payout_id: str) -> dict[str, Any]:
        return await self._get(f"/v1/payout/{quote(payout_id, safe='')}", "payout_status")

    async def search_payouts(self, client_reference: str) -> dict[str, Any]:
        return await self._get("/v1/payouts/search", "payout_search", params={"client_reference": client_reference})

    async def create_payout_batch(self, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """``POST /v1/payout-batch`` ``{"payouts": [...]}`` -> ``{"id": "pb-…"}``; the payouts are made afterwards."""
        return await self._post("/v1/payout-batch", "payout_batch", body, idempotency_key)

    async def get_payout_batch(self, batch_id: str) -> dict[str, Any]:
        return await self._get(f"/v1/payout-batch/{quote(batch_id, safe='')}", "payout_batch_status")

    async def list_transactions(
        self, *, day: str | None = None, after: str | None = None, include_subaccounts: bool = False
    ) -> dict[str, Any]:
        """``GET /v1/transactions``: one page of a day's movements (``day`` YYYY-MM-DD, today by default)."""
        params: dict[str, str] = {}
        if day:
            params["date"] = day
        if after:
            params["after"] = after
        if include_subaccounts:
            params["include_subaccounts"] = "true"
        return await self._get("/v1/transactions", "transactions", params=params or None)

    async def balance(self) -> dict[str, Any]:
        return await self._get("/v1/balance", "balance")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    if isinstance(value, list):
        return {"result": value}
    return value if isinstance(value, dict) else {}
