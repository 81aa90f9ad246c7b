"""Orange Money HTTP calls, and nothing else: WebPay and the Cameroon USSD push, wire dicts in and out.

* WebPay: OAuth client credentials (``POST /oauth/v3/token``, Basic ``client_id:client_secret``, form
  ``grant_type=client_credentials``), then ``POST /orange-money-webpay/{cc}/v1/webpayment`` and
  ``…/transactionstatus``.
* USSD push ("omcoreapis"): a bearer token (``POST <token_url>``, same OAuth scheme) plus ``X-AUTH-TOKEN`` on every
  call; ``POST /omcoreapis/1.0.2/mp/init`` -> ``payToken``, ``POST …/mp/pay``, ``GET …/mp/paymentstatus/{payToken}``,
  ``GET …/mp/push/{payToken}`` (re-sends the prompt).

Neither create is idempotent (no key is documented): the HTTP layer never resends one that may have arrived.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from cauri.connectors.mobile_money.orange_money.transformers import PROVIDER, error_from_response
from cauri.kit.auth import ApiKeyHeader, CombinedAuth, OAuth2ClientCredentials
from cauri.kit.http import HttpPolicy, ProviderHttpClient

WEBPAY_BASE_URL = "https://api.orange.com"
USSD_BASE_URL = "https://api-s1.orange.cm"  # "?": Orange Cameroon's gateway; configurable (setting base_url)
USSD_PREFIX = "/omcoreapis/1.0.2"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3)
SENSITIVE_FIELDS = ("merchant_key", "pin", "notif_token", "X-AUTH-TOKEN")


def _oauth(token_url: str, client_id: str, client_secret: SecretStr) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        token_url=token_url, client_id=client_id, client_secret=client_secret, send_credentials="basic"
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


class WebPayHttp:
    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: SecretStr,
        country: str,
        token_url: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.country = country
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=_oauth(token_url or f"{base_url.rstrip('/')}/oauth/v3/token", client_id, client_secret),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=SENSITIVE_FIELDS,
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, action: str) -> str:
        return f"/orange-money-webpay/{quote(self.country, safe='')}/v1/{action}"

    async def webpayment(self, body: dict[str, Any]) -> dict[str, Any]:
        return _json(await self.http.request("POST", self._path("webpayment"), operation="collect", json=body))

    async def transaction_status(self, body: dict[str, Any]) -> dict[str, Any]:
        # Reading a status changes nothing: safe to retry although it is a POST.
        response = await self.http.request(
            "POST", self._path("transactionstatus"), operation="collect_status", json=body, idempotent=True
        )
        return _json(response)


class UssdPushHttp:
    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: str,
        consumer_secret: SecretStr,
        auth_token: SecretStr,
        token_url: str | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        auth = CombinedAuth(
            _oauth(token_url or f"{base_url.rstrip('/')}/token", consumer_key, consumer_secret),
            ApiKeyHeader("X-AUTH-TOKEN", auth_token),
        )
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

    async def init(self) -> dict[str, Any]:
        """``mp/init``: a fresh payToken. Nothing is paid yet, so it is safe to retry."""
        response = await self.http.request("POST", f"{USSD_PREFIX}/mp/init", operation="collect_init", idempotent=True)
        return _json(response)

    async def pay(self, body: dict[str, Any]) -> dict[str, Any]:
        return _json(await self.http.request("POST", f"{USSD_PREFIX}/mp/pay", operation="collect", json=body))

    async def payment_status(self, pay_token: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"{USSD_PREFIX}/mp/paymentstatus/{quote(pay_token, safe='')}", operation="collect_status"
        )
        return _json(response)

    async def push(self, pay_token: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET", f"{USSD_PREFIX}/mp/push/{quote(pay_token, safe='')}", operation="collect_push"
        )
        return _json(response)
