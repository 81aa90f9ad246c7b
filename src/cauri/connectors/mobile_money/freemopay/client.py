"""FreeMoPay v2 HTTP calls, and nothing else: paths, auth, wire dicts in and out.

Two auth modes, chosen per merchant: HTTP Basic ``appKey:secretKey`` on every call, or a bearer token from
``POST /api/v2/payment/token`` (JSON ``{appKey, secretKey}`` -> ``{access_token, expires_in}``), cached until it
expires. The merchant may send 100 requests a minute: the policy's rate limit keeps us under it, and a 429 from
FreeMoPay is retried after its ``Retry-After`` (a 429 was not processed, so retrying a create is safe).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from cauri.connectors.mobile_money.freemopay.transformers import PROVIDER, error_from_response
from cauri.kit.auth import AuthStrategy, BasicAuth, OAuth2ClientCredentials
from cauri.kit.http import HttpPolicy, ProviderHttpClient

DEFAULT_BASE_URL = "https://api-v2.freemopay.com"
TOKEN_PATH = "/api/v2/payment/token"  # noqa: S105 - a path
RATE_LIMIT = "100/minute"  # FreeMoPay's documented limit per merchant
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3, rate_limit=RATE_LIMIT)
SENSITIVE_FIELDS = ("secretKey", "appKey")


class AuthMode(StrEnum):
    BASIC = "basic"  # Basic appKey:secretKey on every call
    TOKEN = "token"  # noqa: S105 - a mode name: POST /api/v2/payment/token, then Bearer


def auth_for(base_url: str, app_key: str, secret_key: SecretStr, mode: AuthMode) -> AuthStrategy:
    if mode is AuthMode.BASIC:
        return BasicAuth(app_key, secret_key)
    return OAuth2ClientCredentials(
        token_url=f"{base_url.rstrip('/')}{TOKEN_PATH}",
        client_id=app_key,
        client_secret=secret_key,
        send_credentials="body",
        body_format="json",
        grant_type=None,
        client_id_field="appKey",
        client_secret_field="secretKey",  # noqa: S106 - a field name
        default_lifetime=3600,
    )


class FreeMoPayHttp:
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

    async def create_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/payment``. Not idempotent: never resent once it may have reached FreeMoPay."""
        response = await self.http.request("POST", "/api/v2/payment", operation="collect", json=body)
        return _json(response.json())

    async def direct_withdraw(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/payment/direct-withdraw``. Not idempotent either."""
        response = await self.http.request("POST", "/api/v2/payment/direct-withdraw", operation="payout", json=body)
        return _json(response.json())

    async def get_payment(self, reference: str) -> dict[str, Any]:
        """``GET /api/v2/payment/{reference}`` (FreeMoPay's reference, not our externalId)."""
        response = await self.http.request("GET", f"/api/v2/payment/{quote(reference, safe='')}", operation="status")
        return _json(response.json())


def _json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}
