"""CinetPay HTTP calls, and nothing else.

Checkout v2 (:class:`CinetPayHttp`): credentials in the JSON body (``apikey``, ``site_id``). The current API
(:class:`CinetPayV1Http`): an OAuth login, then a bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from cauri.connectors.mobile_money.cinetpay.transformers import (
    PROVIDER,
    V1_TOKEN_WORDS,
    error_from_response,
    unreadable,
    v1_error_from_response,
    v1_error_in_answer,
)
from cauri.kit.auth import OAuth2ClientCredentials
from cauri.kit.errors import AuthError
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


# -- the current API (``api_version: v1``) -------------------------------------------------------------------------
# CinetPay's current SDKs (cinetpay-python 0.1 on PyPI, cinetpay-js) call ``https://api.cinetpay.net`` (sandbox,
# keys ``sk_test_…``) or ``https://api.cinetpay.co`` (live, ``sk_live_…``), log in with ``POST /v1/oauth/login
# {api_key, api_password}`` -> ``{access_token}`` and send ``Authorization: Bearer <jwt>``.
V1_SANDBOX_URL = "https://api.cinetpay.net"
V1_LIVE_URL = "https://api.cinetpay.co"
V1_SENSITIVE_FIELDS = ("api_key", "api_password", "access_token", "notify_token", "otp_code")
# The SDKs keep the JWT 23 hours; without ``expires_in`` in the login answer we renew sooner, and an expired token
# (HTTP 401, code 1003 EXPIRED_TOKEN) is renewed and the call replayed once by the HTTP layer.
V1_TOKEN_LIFETIME = 3600.0


def v1_base_url(api_key: str, base_url: str | None = None) -> str:
    """The configured URL, else the host the key's prefix names (as the SDKs detect it)."""
    if base_url:
        return base_url.rstrip("/")
    return V1_LIVE_URL if api_key.startswith("sk_live_") else V1_SANDBOX_URL


class CinetPayV1Http:
    def __init__(
        self, *, base_url: str, api_key: SecretStr, api_password: SecretStr, policy: HttpPolicy | None = None
    ) -> None:
        root = base_url.rstrip("/")
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=root,
            auth=OAuth2ClientCredentials(
                token_url=f"{root}/v1/oauth/login",
                client_id=api_key.get_secret_value(),
                client_secret=api_password,
                send_credentials="body",
                body_format="json",
                grant_type=None,
                client_id_field="api_key",
                client_secret_field="api_password",  # noqa: S106 - a field name
                default_lifetime=V1_TOKEN_LIFETIME,
            ),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=V1_SENSITIVE_FIELDS,
            error_mapper=v1_error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(
        self, method: str, path: str, *, operation: str, json: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One call, and its answer read as the SDK reads it: an error may also come with HTTP 200 (a ``code``
        other than 200/100/2001/2002 *and* a ``description``). A token refused that way (1002, 1003) is dropped and
        the call replayed once with a new one, as a 401 is by the HTTP layer; refused, nothing was processed."""
        for attempt in (1, 2):
            response = await self.http.request(method, path, operation=operation, json=json, idempotent=True)
            body = CinetPayHttp._json(response.json())
            error = v1_error_in_answer(body)
            if error is None:
                return body
            if attempt == 1 and isinstance(error, AuthError) and error.provider_code in V1_TOKEN_WORDS:
                self.http.auth.invalidate()
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def payment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/payment``. ``merchant_transaction_id`` is ours and unique (a reuse answers 1200
        TRANSACTION_EXIST), so a resend cannot pay twice."""
        return await self._call("POST", "/v1/payment", operation="payment", json=body)

    async def payment_status(self, identifier: str) -> dict[str, Any]:
        """``GET /v1/payment/{payment_token | transaction_id | merchant_transaction_id}``."""
        return await self._call("GET", f"/v1/payment/{quote(identifier, safe='')}", operation="payment_status")

    async def transfer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/transfer``: idempotent by ``merchant_transaction_id`` as the payment is."""
        return await self._call("POST", "/v1/transfer", operation="transfer", json=body)

    async def transfer_status(self, identifier: str) -> dict[str, Any]:
        """``GET /v1/transfer/{transaction_id}`` (the SDK names CinetPay's id; our ``merchant_transaction_id`` is
        tried when we have no other, as the payment status accepts it)."""
        return await self._call("GET", f"/v1/transfer/{quote(identifier, safe='')}", operation="transfer_status")

    async def balances(self) -> dict[str, Any]:
        """``GET /v1/balances`` -> ``{code, status, available_balance, currency}``."""
        return await self._call("GET", "/v1/balances", operation="balances")
