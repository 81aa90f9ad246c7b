"""Zoho CRM as a :class:`CrmConnector`: contacts search and upsert, the loyalty ``Rewards`` module, deals,
regional accounts servers, the ``Zoho-oauthtoken`` header, notification tokens.

Real (Zoho's public reference): the accounts server of the account's data centre (:data:`ACCOUNTS_SERVERS`; the
redirect's ``accounts-server`` is the one to use), ``POST {accounts}/oauth/v2/token`` with the refresh token →
``{access_token, api_domain, expires_in: 3600}``; API calls on ``api_domain`` with ``Authorization:
Zoho-oauthtoken <token>`` (not Bearer); ``GET /crm/{v}/Contacts/search?email=`` (or ``phone=``) answering **204 with
no body** when nothing matches; ``POST /crm/{v}/{module}/upsert`` with ``duplicate_check_fields`` — the only
idempotent write, answering per record ``action: insert|update``; ``DELETE /crm/{v}/Contacts?ids=``; notifications
carry the ``token`` given when watching, checked here. Configurable: the API version (``v8``; the seed's ``v2``), the
``Rewards`` module's and the contact's field names (a custom module: each account names its own fields,
:class:`ZohoFields`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from cauri.connectors.restaurant.base import Contact, CrmConnector, WebhookEvent
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.auth import OAuth2ClientCredentials, TokenRequester
from cauri.kit.errors import InvalidSignature, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "zoho"
ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
API_DOMAINS = {"us": "https://www.zohoapis.com", "eu": "https://www.zohoapis.eu"}


@dataclass(frozen=True)
class ZohoFields:
    version: str = "v8"
    rewards_module: str = "Rewards"
    points: str = "Loyalty_Points"
    consent: str = "Email_Opt_In"
    reward_reference: str = "Reference"
    deal_reference: str = "Reference"


class ZohoAuth(OAuth2ClientCredentials):
    """A refresh token exchanged at the region's accounts server; sent as ``Zoho-oauthtoken``."""

    def __init__(self, *, accounts_url: str, client_id: str, client_secret: SecretStr, refresh_token: SecretStr):
        super().__init__(
            token_url=f"{accounts_url.rstrip('/')}/oauth/v2/token",
            client_id=client_id,
            client_secret=client_secret,
            send_credentials="body",
            grant_type="refresh_token",
            default_lifetime=3600,
        )
        self.refresh_token = refresh_token

    @classmethod
    def for_region(cls, region: str, **kw: Any) -> ZohoAuth:
        if region not in ACCOUNTS_SERVERS:
            raise ValueError(f"unknown Zoho region {region!r} (known: {', '.join(ACCOUNTS_SERVERS)})")
        return cls(accounts_url=ACCOUNTS_SERVERS[region], **kw)

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        fields, headers = super()._token_request()
        return {**fields, "refresh_token": self.refresh_token.get_secret_value()}, headers

    def secret_values(self) -> list[str]:
        return [*super().secret_values(), self.refresh_token.get_secret_value()]

    async def headers(self, requester: TokenRequester) -> dict[str, str]:
        return {"Authorization": f"Zoho-oauthtoken {await self.token(requester)}"}


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(PROVIDER, exc) from None


def _records(answer: Any) -> list[Mapping[str, Any]]:
    if answer is None:
        return []
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        raise unreadable_answer(PROVIDER, "an answer without data")
    records: list[Mapping[str, Any]] = answer["data"]
    return records


class ZohoCrmConnector(CrmConnector):
    provider = PROVIDER

    def __init__(
        self,
        *,
        auth: ZohoAuth | OAuth2ClientCredentials,
        api_domain: str = API_DOMAINS["eu"],
        notification_token: str = "",
        fields: ZohoFields | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.fields = fields or ZohoFields()
        self.notification_token = notification_token
        self.base = f"/crm/{self.fields.version}"
        self.http = ProviderHttpClient(provider=PROVIDER, base_url=api_domain, auth=auth, policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _contact(self, raw: Mapping[str, Any]) -> Contact:
        if not raw.get("id"):
            raise unreadable_answer(PROVIDER, "a contact without id")
        return Contact(
            id=str(raw["id"]),
            email=raw.get("Email") or None,
            phone=raw.get("Phone") or None,
            first_name=str(raw.get("First_Name") or ""),
            last_name=str(raw.get("Last_Name") or ""),
            loyalty_points=int(raw.get(self.fields.points) or 0),
            marketing_consent=raw.get(self.fields.consent) is True,
        )

    async def find_contact(self, *, email: str | None = None, phone: str | None = None) -> Contact | None:
        params = {"email": email} if email else {"phone": phone} if phone else None
        if params is None:
            return None
        response = await self.http.request(
            "GET", f"{self.base}/Contacts/search", operation="search_contacts", params=params
        )
        found = _records(_json(response))
        return self._contact(found[0]) if found else None

    async def _upsert(self, module: str, record: Mapping[str, Any], check: str, operation: str) -> Mapping[str, Any]:
        body = {"data": [dict(record)], "duplicate_check_fields": [check]}
        response = await self.http.request(
            "POST", f"{self.base}/{module}/upsert", operation=operation, json=body, idempotent=True
        )
        (result,) = _records(_json(response)) or [{}]
        if str(result.get("status")) != "success" or not isinstance(result.get("details"), Mapping):
            raise unreadable_answer(PROVIDER, f"{module} upsert: {str(result.get('code'))[:40]}")
        return result

    async def _get(self, contact_id: str) -> Contact:
        response = await self.http.request("GET", f"{self.base}/Contacts/{contact_id}", operation="get_contact")
        found = _records(_json(response))
        if not found:
            raise unreadable_answer(PROVIDER, "no such contact")
        return self._contact(found[0])

    async def upsert_contact(self, contact: Contact) -> Contact:
        record: dict[str, Any] = {
            "Email": contact.email,
            "Phone": contact.phone,
            "First_Name": contact.first_name,
            "Last_Name": contact.last_name or contact.email or "-",  # Last_Name is mandatory in Zoho
            self.fields.consent: contact.marketing_consent,
        }
        if contact.id:
            record["id"] = contact.id
        check = "Email" if contact.email else "Phone"
        result = await self._upsert(
            "Contacts", {k: v for k, v in record.items() if v is not None}, check, "upsert_contact"
        )
        return await self._get(str(result["details"]["id"]))

    async def add_loyalty_points(self, contact_id: str, points: int, *, reason: str, idempotency_key: str) -> int:
        """One ``Rewards`` record per award, upserted on our key: ``insert`` the first time, ``update`` on a retry,
        and only an insert moves the contact's balance."""
        reward = {
            "Name": reason[:120],
            "Contact": {"id": contact_id},
            "Points": points,
            self.fields.reward_reference: idempotency_key,
        }
        result = await self._upsert(self.fields.rewards_module, reward, self.fields.reward_reference, "award_points")
        contact = await self._get(contact_id)
        if result.get("action") != "insert":
            return contact.loyalty_points
        balance = contact.loyalty_points + points
        body = {"data": [{"id": contact_id, self.fields.points: balance}]}
        await self.http.request("PUT", f"{self.base}/Contacts", operation="update_points", json=body)
        return balance

    async def record_sale(self, contact_id: str, *, amount: int, currency: str, reference: str, name: str) -> str:
        exponent = CURRENCY_EXPONENTS.get(currency, 2)
        deal = {
            "Deal_Name": name[:120],
            "Amount": round(amount / 10**exponent, exponent),
            "Currency": currency,
            "Stage": "Closed Won",
            "Contact_Name": {"id": contact_id},
            self.fields.deal_reference: reference,
        }
        result = await self._upsert("Deals", deal, self.fields.deal_reference, "record_deal")
        return str(result["details"]["id"])

    async def erase_contact(self, contact_id: str) -> None:
        await self.http.request(
            "DELETE",
            f"{self.base}/Contacts",
            operation="delete_contact",
            params={"ids": contact_id},
            allow_status=(404,),
        )

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str, method: str = "POST") -> WebhookEvent:
        """Zoho signs nothing: the notification echoes the ``token`` we gave when watching; it is compared in
        constant time before the event is used."""
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidSignature(provider=PROVIDER, provider_code="unreadable") from None
        token = str(raw.get("token") or "") if isinstance(raw, dict) else ""
        if (
            not token
            or not self.notification_token
            or not hmac.compare_digest(token.encode(), self.notification_token.encode())
        ):
            raise InvalidSignature(provider=PROVIDER, provider_code="bad_token" if token else "missing_token")
        ids = tuple(str(i) for i in raw.get("ids") or [])
        return WebhookEvent(
            event_id=f"{raw.get('channel_id')}:{raw.get('server_time')}:{','.join(ids)}"[:120],
            type=f"{raw.get('module', '')}.{raw.get('operation', '')}".lower(),
            kind="contacts",
            object_ids=ids,
            raw=raw,
        )
