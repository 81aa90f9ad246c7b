"""CinetPay HTTP calls, and nothing else. Credentials travel in the JSON body (``apikey``, ``site_id``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cauri.connectors.mobile_money.cinetpay.transformers import PROVIDER, error_from_response, unreadable
from cauri.kit.http import HttpPolicy, ProviderHttpClient

BASE_URL = "https://api-checkout.cinetpay.com/v2"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3, rate_limit=None)
SENSITIVE_FIELDS = ("apikey", "site_id")


class CinetPayHttp:
    def __init__(self, *, base_url: str, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=SENSITIVE_FIELDS,
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _json(answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise unreadable("a JSON object was expected")
        return answer

    async def payment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /payment``. Our ``transaction_id`` is unique at CinetPay, so a resend cannot pay twice."""
        response = await self.http.request("POST", "/payment", operation="payment", json=body, idempotent=True)
        return self._json(response.json())

    async def check(self, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.http.request("POST", "/payment/check", operation="check", json=body, idempotent=True)
        return self._json(response.json())
