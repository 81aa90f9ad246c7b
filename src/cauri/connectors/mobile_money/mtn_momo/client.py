"""MTN MoMo Open API HTTP calls, and nothing else: one HTTP client per product, wire dicts in and out.

Each product (collection, disbursement) has its own subscription key (``Ocp-Apim-Subscription-Key``) and its own
token (``POST /{product}/token/``, Basic ``apiUser:apiKey``, no body), cached until ``expires_in`` minus a skew and
refreshed single-flight. Every call names its ``X-Target-Environment``; creates carry ``X-Reference-Id`` (our
derived id, so retries are safe: MTN deduplicates them) and optionally ``X-Callback-Url``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from cauri.connectors.mobile_money.mtn_momo.schemas import AccountHolderIdType, PayoutOperation, Product
from cauri.connectors.mobile_money.mtn_momo.transformers import PROVIDER, error_from_response
from cauri.kit.auth import NoAuth, OAuth2ClientCredentials
from cauri.kit.errors import AuthError
from cauri.kit.http import HttpPolicy, ProviderHttpClient

SANDBOX_URL = "https://sandbox.momodeveloper.mtn.com"
PRODUCTION_URL = "https://proxy.momoapi.mtn.com"  # "?" in providers.md: configurable (setting base_url)
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
DEFAULT_POLICY = HttpPolicy(connect_timeout=5.0, read_timeout=30.0, max_attempts=3)
SENSITIVE_FIELDS = ("apiKey", SUBSCRIPTION_HEADER)
REFUND_PATH = "/disbursement/v1_0/refund"  # v2_0 takes the same body; v1_0 is what the docs show first
CREATE_PATHS = {
    Product.COLLECTION: "/collection/v1_0/requesttopay",
    Product.DISBURSEMENT: "/disbursement/v1_0/transfer",
}
# Payouts: where each disbursement operation is created and where its status is read (a deposit of either
# version is read at v1_0, as MTN's specification and SDKs show).
PAYOUT_PATHS: dict[PayoutOperation, tuple[str, str]] = {
    PayoutOperation.TRANSFER: ("/disbursement/v1_0/transfer", "/disbursement/v1_0/transfer"),
    PayoutOperation.DEPOSIT_V1: ("/disbursement/v1_0/deposit", "/disbursement/v1_0/deposit"),
    PayoutOperation.DEPOSIT_V2: ("/disbursement/v2_0/deposit", "/disbursement/v1_0/deposit"),
}
WITHDRAW_STATUS_PATH = "/collection/v1_0/requesttowithdraw"


def product_auth(
    base_url: str, product: Product, api_user: str, api_key: SecretStr, key: SecretStr
) -> OAuth2ClientCredentials:
    """The product's token (Basic apiUser:apiKey + its subscription key), sent with its subscription key."""
    return OAuth2ClientCredentials(
        token_url=f"{base_url.rstrip('/')}/{product.value}/token/",
        client_id=api_user,
        client_secret=api_key,
        send_credentials="basic",
        grant_type=None,
        extra_headers={SUBSCRIPTION_HEADER: key},
        default_lifetime=3600,
    )


class MtnMomoHttp:
    """The two products' HTTP clients; a product without a subscription key is absent (calls raise AuthError)."""

    def __init__(
        self,
        *,
        base_url: str,
        api_user: str,
        api_key: SecretStr,
        subscription_keys: dict[Product, SecretStr],
        policy: HttpPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.products: dict[Product, ProviderHttpClient] = {
            product: ProviderHttpClient(
                provider=PROVIDER,
                base_url=self.base_url,
                auth=product_auth(self.base_url, product, api_user, api_key, key),
                policy=policy or DEFAULT_POLICY,
                sensitive_fields=SENSITIVE_FIELDS,
                error_mapper=error_from_response,
            )
            for product, key in subscription_keys.items()
        }

    def has(self, product: Product) -> bool:
        return product in self.products

    def _http(self, product: Product) -> ProviderHttpClient:
        client = self.products.get(product)
        if client is None:
            raise AuthError(
                f"Clé d'abonnement MTN manquante pour le produit « {product.value} ».",
                f"Missing MTN subscription key for the '{product.value}' product.",
                provider=PROVIDER,
                code="connector_credentials_missing",
            )
        return client

    async def aclose(self) -> None:
        for client in self.products.values():
            await client.aclose()

    async def create(
        self,
        product: Product,
        body: dict[str, Any],
        *,
        reference_id: str,
        environment: str,
        callback_url: str | None,
        path: str | None = None,
    ) -> httpx.Response:
        """``POST requesttopay|transfer`` (or ``path``: a deposit, a request to withdraw): 202 (accepted) or 409
        ``RESOURCE_ALREADY_EXIST`` (already have it)."""
        headers = {"X-Target-Environment": environment}
        if callback_url:
            headers["X-Callback-Url"] = callback_url
        return await self._http(product).request(
            "POST",
            path or CREATE_PATHS[product],
            operation="collect" if product is Product.COLLECTION else "payout",
            json=body,
            headers=headers,
            idempotency_key=reference_id,
            idempotency_header="X-Reference-Id",
            allow_status=(409,),
        )

    async def status(
        self, product: Product, reference_id: str, *, environment: str, path: str | None = None
    ) -> dict[str, Any]:
        """``GET {path}/{X-Reference-Id}`` (``path``: the request to pay's or transfer's by default)."""
        response = await self._http(product).request(
            "GET",
            f"{path or CREATE_PATHS[product]}/{quote(reference_id, safe='')}",
            operation="status",
            headers={"X-Target-Environment": environment},
        )
        return _json(response)

    async def refund(self, body: dict[str, Any], *, reference_id: str, environment: str) -> httpx.Response:
        """``POST /disbursement/v1_0/refund``: 202 (accepted) or 409 ``RESOURCE_ALREADY_EXIST`` (already have it)."""
        return await self._http(Product.DISBURSEMENT).request(
            "POST",
            REFUND_PATH,
            operation="refund",
            json=body,
            headers={"X-Target-Environment": environment},
            idempotency_key=reference_id,
            idempotency_header="X-Reference-Id",
            allow_status=(409,),
        )

    async def refund_status(self, reference_id: str, *, environment: str) -> dict[str, Any]:
        response = await self._http(Product.DISBURSEMENT).request(
            "GET",
            f"{REFUND_PATH}/{quote(reference_id, safe='')}",
            operation="refund_status",
            headers={"X-Target-Environment": environment},
        )
        return _json(response)

    async def balance(self, product: Product, *, environment: str, currency: str | None = None) -> dict[str, Any]:
        """``GET /{product}/v1_0/account/balance``, or ``…/account/balance/{currency}`` when a currency is named."""
        path = f"/{product.value}/v1_0/account/balance"
        response = await self._http(product).request(
            "GET",
            f"{path}/{quote(currency, safe='')}" if currency else path,
            operation="balance",
            headers={"X-Target-Environment": environment},
        )
        return _json(response)

    async def delivery_notification(
        self, reference_id: str, message: str, *, environment: str, language: str | None = None
    ) -> None:
        """``POST /collection/v1_0/requesttopay/{id}/deliverynotification``: a note to the payer (≤ 160 characters).

        Sent as MTN's SDKs send it: the ``notificationMessage`` header *and* the JSON body, ``Language`` optional --
        except that a message HTTP cannot carry in a header (French accents: headers are ASCII) goes in the body
        only. Not retried on a timeout: a second attempt would show the payer the note twice.
        """
        headers = {"X-Target-Environment": environment}
        if message.isascii():
            headers["notificationMessage"] = message
        if language:
            headers["Language"] = language
        await self._http(Product.COLLECTION).request(
            "POST",
            f"{CREATE_PATHS[Product.COLLECTION]}/{quote(reference_id, safe='')}/deliverynotification",
            operation="delivery_notification",
            json={"notificationMessage": message},
            headers=headers,
            idempotent=False,
        )

    async def account_active(
        self,
        product: Product,
        holder_id: str,
        *,
        environment: str,
        id_type: AccountHolderIdType = AccountHolderIdType.MSISDN,
    ) -> dict[str, Any] | None:
        """``{result: bool}`` for a number, an e-mail or a party code; None when MTN answers 404 for it."""
        response = await self._http(product).request(
            "GET",
            f"/{product.value}/v1_0/accountholder/{id_type.value}/{quote(holder_id, safe='')}/active",
            operation="account_holder",
            headers={"X-Target-Environment": environment},
            allow_status=(404,),
        )
        return None if response.status_code == 404 else _json(response)

    async def basic_user_info(self, product: Product, msisdn: str, *, environment: str) -> dict[str, Any] | None:
        """The holder's name where the country offers it; None when MTN does not (404, 400 or 403)."""
        response = await self._http(product).request(
            "GET",
            f"/{product.value}/v1_0/accountholder/msisdn/{quote(msisdn, safe='')}/basicuserinfo",
            operation="account_holder_info",
            headers={"X-Target-Environment": environment},
            allow_status=(400, 403, 404),
        )
        return None if response.status_code >= 400 else _json(response)


class MtnProvisioning:
    """Sandbox provisioning: ``POST /v1_0/apiuser`` then ``POST /v1_0/apiuser/{id}/apikey`` (a product's key)."""

    def __init__(self, *, base_url: str, subscription_key: SecretStr, policy: HttpPolicy | None = None) -> None:
        self.key = subscription_key
        self.http = ProviderHttpClient(
            provider=PROVIDER,
            base_url=base_url,
            auth=NoAuth(),
            policy=policy or DEFAULT_POLICY,
            sensitive_fields=SENSITIVE_FIELDS,
            error_mapper=error_from_response,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create_user(self, user_id: str, callback_host: str) -> None:
        await self.http.request(
            "POST",
            "/v1_0/apiuser",
            operation="provision_user",
            json={"providerCallbackHost": callback_host},
            headers={SUBSCRIPTION_HEADER: self.key.get_secret_value()},
            idempotency_key=user_id,
            idempotency_header="X-Reference-Id",
            allow_status=(409,),
        )

    async def get_user(self, user_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "GET",
            f"/v1_0/apiuser/{quote(user_id, safe='')}",
            operation="provision_user",
            headers={SUBSCRIPTION_HEADER: self.key.get_secret_value()},
        )
        return _json(response)

    async def create_key(self, user_id: str) -> dict[str, Any]:
        response = await self.http.request(
            "POST",
            f"/v1_0/apiuser/{quote(user_id, safe='')}/apikey",
            operation="provision_key",
            headers={SUBSCRIPTION_HEADER: self.key.get_secret_value()},
            idempotent=False,
        )
        return _json(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}
