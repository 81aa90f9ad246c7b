"""Sandbox HTTP calls, and nothing else: paths, headers, idempotency keys. Wire dicts in, wire dicts out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cauri.connectors.mobile_money.sandbox.transformers import PROVIDER, error_from_response
from cauri.kit.auth import AuthStrategy
from cauri.kit.http import HttpPolicy, ProviderHttpClient

DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=20.0, max_attempts=3, rate_limit="600/minute")
# Wire fields that must never reach a log, beyond the generic secret-looking names.
SENSITIVE_FIELDS = ("client_secret", "webhook_secret")


class SandboxClient:
    def __init__(self, *, base_url: str, auth: AuthStrategy, policy: HttpPolicy | None = None) -> None:
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=auth,
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=SENSITIVE_FIELDS,
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create(self, kind: str, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """``kind``: "collections", "payouts" or "refunds". The sandbox honours ``Idempotency-Key``: retries are
        safe."""
        response = await self.http.request(
            "POST", f"/v1/{kind}", operation=f"create_{kind}", json=body, idempotency_key=idempotency_key
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def get(self, kind: str, provider_reference: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"/v1/{kind}/{quote(provider_reference, safe='')}", operation=f"get_{kind}"
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def get_by_reference(self, kind: str, reference: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"/v1/{kind}/by-reference/{quote(reference, safe='')}", operation=f"find_{kind}"
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def create_bulk(self, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """``POST /v1/bulk-payouts``: safe to resend under the same key (the sandbox answers the bulk it has)."""
        response = await self.http.request(
            "POST", "/v1/bulk-payouts", operation="create_bulk_payout", json=body, idempotency_key=idempotency_key
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def get_bulk(self, reference: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"/v1/bulk-payouts/{quote(reference, safe='')}", operation="get_bulk_payout"
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def balance(self, currency: str) -> dict[str, Any]:
        response = await self.http.request("GET", f"/v1/balance/{quote(currency, safe='')}", operation="balance")
        answer: dict[str, Any] = response.json()
        return answer

    async def account(self, msisdn: str) -> dict[str, Any] | None:
        """None when the number has no account (404 ``SUBSCRIBER_NOT_FOUND``)."""
        response = await self.http.request(
            "GET", f"/v1/accounts/{quote(msisdn, safe='')}", operation="account_holder", allow_status=(404,)
        )
        if response.status_code == 404:
            return None
        answer: dict[str, Any] = response.json()
        return answer
