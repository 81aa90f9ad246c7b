"""HubSpot as a :class:`CrmConnector`: CRM v3 contacts and deals, GDPR delete, webhook v3 signatures.

Real (HubSpot's public reference): ``POST /crm/v3/objects/contacts/search`` (``filterGroups``), ``POST
/crm/v3/objects/contacts`` (a duplicate e-mail is a 409 ``CONFLICT`` naming the existing id), ``PATCH
/crm/v3/objects/contacts/{id}``, ``POST /crm/v3/objects/contacts/gdpr-delete`` ``{objectId}``, ``POST
/crm/v3/objects/deals`` with an association to the contact (``HUBSPOT_DEFINED`` type 3), ``POST
/crm/v3/objects/deals/search``; ``Authorization: Bearer`` (a private app's token or an OAuth access token); rate
limit 429 with ``Retry-After`` honoured by the kit; webhook v3: ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(
client secret, method + URI + body + timestamp)), ``X-HubSpot-Request-Timestamp`` in ms, older than 5 minutes
refused. Configurable (HubSpot has no idempotency key nor a loyalty object): the contact properties holding the
points balance and the last award's key, the deal property holding our reference (:class:`HubSpotProperties`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import orjson

from cauri.connectors.restaurant.base import Contact, CrmConnector, WebhookEvent
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.auth import AuthStrategy
from cauri.kit.errors import InvalidSignature, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "hubspot"
API_URL = "https://api.hubapi.com"
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
MAX_AGE_MS = 300_000
CONTACT_TO_DEAL = 3  # HubSpot-defined association type: deal -> contact
EXISTING_ID = re.compile(r"Existing ID: (\d+)")


@dataclass(frozen=True)
class HubSpotProperties:
    points: str = "loyalty_points"
    last_award: str = "cauri_last_loyalty_award"
    consent: str = "cauri_marketing_consent"
    deal_reference: str = "cauri_reference"


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(PROVIDER, exc) from None


class HubSpotConnector(CrmConnector):
    provider = PROVIDER

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        base_url: str = API_URL,
        client_secret: str = "",
        properties: HubSpotProperties | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.client_secret = client_secret
        self.props = properties or HubSpotProperties()
        self.http = ProviderHttpClient(provider=PROVIDER, base_url=base_url, auth=auth, policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _contact(self, raw: Mapping[str, Any]) -> Contact:
        props = raw.get("properties")
        if not isinstance(props, Mapping) or not raw.get("id"):
            raise unreadable_answer(PROVIDER, "a contact without id or properties")
        return Contact(
            id=str(raw["id"]),
            email=props.get("email") or None,
            phone=props.get("phone") or None,
            first_name=str(props.get("firstname") or ""),
            last_name=str(props.get("lastname") or ""),
            loyalty_points=int(props.get(self.props.points) or 0),
            marketing_consent=str(props.get(self.props.consent) or "").lower() == "true",
        )

    async def _search(self, object_type: str, prop: str, value: str, properties: list[str]) -> list[Mapping[str, Any]]:
        body = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}],
            "properties": properties,
            "limit": 1,
        }
        response = await self.http.request(
            "POST",
            f"/crm/v3/objects/{object_type}/search",
            operation=f"search_{object_type}",
            json=body,
            idempotent=True,
        )
        answer = _json(response)
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise unreadable_answer(PROVIDER, "a search answer without results")
        results: list[Mapping[str, Any]] = answer["results"]
        return results

    def _contact_properties(self) -> list[str]:
        return ["email", "phone", "firstname", "lastname", self.props.points, self.props.last_award, self.props.consent]

    async def find_contact(self, *, email: str | None = None, phone: str | None = None) -> Contact | None:
        prop, value = ("email", email) if email else ("phone", phone)
        if not value:
            return None
        found = await self._search("contacts", prop, value, self._contact_properties())
        return self._contact(found[0]) if found else None

    async def _get(self, contact_id: str) -> Mapping[str, Any]:
        params = {"properties": ",".join(self._contact_properties())}
        response = await self.http.request(
            "GET", f"/crm/v3/objects/contacts/{contact_id}", operation="get_contact", params=params
        )
        answer: Mapping[str, Any] = _json(response)
        return answer

    async def upsert_contact(self, contact: Contact) -> Contact:
        props = {
            "email": contact.email,
            "phone": contact.phone,
            "firstname": contact.first_name,
            "lastname": contact.last_name,
            self.props.consent: "true" if contact.marketing_consent else "false",
        }
        props = {k: v for k, v in props.items() if v is not None}
        contact_id = contact.id
        if contact_id is None:
            existing = await self.find_contact(email=contact.email, phone=contact.phone)
            contact_id = existing.id if existing else None
        if contact_id is None:
            # Creating is not idempotent, but HubSpot refuses a second contact with the same e-mail (409 naming
            # it): a retried create finds the first one.
            response = await self.http.request(
                "POST",
                "/crm/v3/objects/contacts",
                operation="create_contact",
                json={"properties": props},
                idempotent=bool(contact.email),
                allow_status=(409,),
            )
            if response.status_code != 409:
                return self._contact(_json(response))
            match = EXISTING_ID.search(str(_json(response).get("message", "")))
            if match is None:
                raise unreadable_answer(PROVIDER, "a conflict without the existing id")
            contact_id = match.group(1)
        response = await self.http.request(
            "PATCH", f"/crm/v3/objects/contacts/{contact_id}", operation="update_contact", json={"properties": props}
        )
        return self._contact(_json(response))

    async def add_loyalty_points(self, contact_id: str, points: int, *, reason: str, idempotency_key: str) -> int:
        """The balance lives in a contact property; the last award's key beside it makes a retried award (the
        same key) a no-op. Awards to one CRM are serialised by the hub (one push at a time)."""
        raw = await self._get(contact_id)
        current = self._contact(raw)
        if raw["properties"].get(self.props.last_award) == idempotency_key:
            return current.loyalty_points
        balance = current.loyalty_points + points
        body = {"properties": {self.props.points: str(balance), self.props.last_award: idempotency_key}}
        await self.http.request("PATCH", f"/crm/v3/objects/contacts/{contact_id}", operation="award_points", json=body)
        return balance

    async def record_sale(self, contact_id: str, *, amount: int, currency: str, reference: str, name: str) -> str:
        found = await self._search("deals", self.props.deal_reference, reference, [self.props.deal_reference])
        if found:
            return str(found[0]["id"])
        exponent = CURRENCY_EXPONENTS.get(currency, 2)
        body = {
            "properties": {
                "dealname": name,
                "amount": f"{amount / 10**exponent:.{exponent}f}",
                "deal_currency_code": currency,
                "pipeline": "default",
                "dealstage": "closedwon",
                "closedate": datetime.now(UTC).isoformat(),
                self.props.deal_reference: reference,
            },
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CONTACT_TO_DEAL}],
                }
            ],
        }
        response = await self.http.request(
            "POST", "/crm/v3/objects/deals", operation="create_deal", json=body, idempotent=False
        )
        return str(_json(response)["id"])

    async def erase_contact(self, contact_id: str) -> None:
        await self.http.request(
            "POST",
            "/crm/v3/objects/contacts/gdpr-delete",
            operation="gdpr_delete",
            json={"objectId": contact_id},
            idempotent=True,
            allow_status=(404,),
        )

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str, method: str = "POST") -> WebhookEvent:
        lowered = {k.lower(): v for k, v in headers.items()}
        received, stamp = lowered.get(SIGNATURE_HEADER, ""), lowered.get(TIMESTAMP_HEADER, "")
        if not received or not stamp.isdigit():
            raise InvalidSignature(provider=PROVIDER, provider_code="missing_signature")
        if abs(time.time() * 1000 - int(stamp)) > MAX_AGE_MS:
            raise InvalidSignature(provider=PROVIDER, provider_code="stale_signature")
        if not hmac.compare_digest(sign(self.client_secret, method, url, body, stamp).encode(), received.encode()):
            raise InvalidSignature(provider=PROVIDER, provider_code="bad_signature")
        events = _json_body(body)
        ids = tuple(str(e.get("objectId")) for e in events if e.get("objectId") is not None)
        first = events[0]
        event_id = str(first.get("eventId")) if len(events) == 1 else hashlib.sha256(body).hexdigest()[:32]
        return WebhookEvent(
            event_id=event_id,
            type=str(first.get("subscriptionType") or ""),
            kind="contacts",
            object_ids=ids,
            merchant_id=str(first.get("portalId") or "") or None,
            raw={"events": events},
        )


def _json_body(body: bytes) -> list[Mapping[str, Any]]:
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise unreadable_answer(PROVIDER, "webhook body") from exc
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        raise unreadable_answer(PROVIDER, "webhook body")
    return events


def sign(client_secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    """Webhook v3: the URI URL-decoded, then method + URI + body + timestamp."""
    message = method.upper().encode() + unquote(url).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()
