"""CRM simulators (``cauri simulate hubspot|zoho``): contacts, deals, loyalty, erasure, each CRM's wire shape and
authentication (HubSpot: Bearer, 409 on a duplicate e-mail, webhook v3 signatures; Zoho: the refresh-token grant at
the accounts server, ``Zoho-oauthtoken`` strictly, 204 for an empty search, upserts answering insert/update), and
the faults a test needs (429, 5xx, an answer of another shape)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.crm import hubspot
from cauri.connectors.restaurant.faults import Faults

DEMO_TOKEN = "cauri-demo-crm-token"  # noqa: S105 - the simulator's published demo value
DEMO_CLIENT_ID = "cauri-demo-crm-client"
DEMO_CLIENT_SECRET = "cauri-demo-crm-secret"  # noqa: S105 - published demo value
DEMO_REFRESH_TOKEN = "cauri-demo-crm-refresh"  # noqa: S105 - published demo value
DEMO_NOTIFICATION_TOKEN = "cauri-demo-crm-notify"  # noqa: S105 - published demo value


class CrmSimulator(ABC):
    """Contacts, deals and rewards as plain dicts of each CRM's own field names."""

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.deals: dict[str, dict[str, Any]] = {}
        self.rewards: dict[str, dict[str, Any]] = {}
        self.erased: list[str] = []
        self._seq = 1000
        self.app = Starlette(routes=self.routes())

    @abstractmethod
    def routes(self) -> list[Route]:
        """Each provider's own."""

    def new_id(self) -> str:
        self._seq += 1
        return str(self._seq)

    @abstractmethod
    def authorised(self, request: Request) -> bool:
        """Each provider's own."""

    def wrap(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if self.latency_seconds:
                await asyncio.sleep(self.latency_seconds)
            if self.faults.take(self.faults.rate_limited, path):
                return JSONResponse(
                    {"status": "error", "message": "rate limited"}, status_code=429, headers={"Retry-After": "0"}
                )
            if self.faults.take(self.faults.server_errors, path):
                return JSONResponse({"status": "error", "message": "internal error"}, status_code=502)
            if not self.authorised(request):
                return JSONResponse(
                    {"status": "error", "code": "INVALID_TOKEN", "message": "invalid oauth token"}, status_code=401
                )
            if self.faults.take(self.faults.malformed, path):
                return JSONResponse({"items": {"contacts": None}})
            return await handler(request)

        return endpoint

    async def aclose(self) -> None:
        return None


class HubSpotSimulator(CrmSimulator):
    def __init__(self, *, token: str = DEMO_TOKEN, client_secret: str = DEMO_CLIENT_SECRET, **kw: Any) -> None:
        self.token = token
        self.client_secret = client_secret
        super().__init__(**kw)

    def routes(self) -> list[Route]:
        base = "/crm/v3/objects"
        return [
            Route(f"{base}/contacts/search", self.wrap(self._search("contacts")), methods=["POST"]),
            Route(f"{base}/contacts/gdpr-delete", self.wrap(self._gdpr_delete), methods=["POST"]),
            Route(f"{base}/contacts", self.wrap(self._create_contact), methods=["POST"]),
            Route(f"{base}/contacts/{{id}}", self.wrap(self._contact), methods=["GET", "PATCH"]),
            Route(f"{base}/deals/search", self.wrap(self._search("deals")), methods=["POST"]),
            Route(f"{base}/deals", self.wrap(self._create_deal), methods=["POST"]),
        ]

    def authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    @staticmethod
    def _render(object_id: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"id": object_id, "properties": dict(props), "archived": False}

    def _search(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            body = await request.json()
            (flt,) = body["filterGroups"][0]["filters"]
            store = self.contacts if kind == "contacts" else self.deals
            found = [
                self._render(i, p) for i, p in store.items() if str(p.get(flt["propertyName"]) or "") == flt["value"]
            ]
            return JSONResponse({"total": len(found), "results": found[: body.get("limit", 10)]})

        return handler

    async def _create_contact(self, request: Request) -> Response:
        props = (await request.json())["properties"]
        email = props.get("email")
        for contact_id, existing in self.contacts.items():
            if email and existing.get("email") == email:
                message = f"Contact already exists. Existing ID: {contact_id}"
                return JSONResponse({"status": "error", "message": message, "category": "CONFLICT"}, status_code=409)
        contact_id = self.new_id()
        self.contacts[contact_id] = dict(props)
        return JSONResponse(self._render(contact_id, props), status_code=201)

    async def _contact(self, request: Request) -> Response:
        contact_id = request.path_params["id"]
        props = self.contacts.get(contact_id)
        if props is None:
            return JSONResponse(
                {"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"}, status_code=404
            )
        if request.method == "PATCH":
            props.update((await request.json())["properties"])
        return JSONResponse(self._render(contact_id, props))

    async def _gdpr_delete(self, request: Request) -> Response:
        contact_id = str((await request.json())["objectId"])
        if self.contacts.pop(contact_id, None) is None:
            return JSONResponse({"status": "error", "category": "OBJECT_NOT_FOUND"}, status_code=404)
        self.erased.append(contact_id)
        return Response(status_code=204)

    async def _create_deal(self, request: Request) -> Response:
        body = await request.json()
        deal_id = self.new_id()
        self.deals[deal_id] = {**body["properties"], "_contact": body["associations"][0]["to"]["id"]}
        return JSONResponse(self._render(deal_id, body["properties"]), status_code=201)

    # -- the contract's view ----------------------------------------------------------------------------------

    def contacts_with(self, email: str) -> int:
        return sum(1 for p in self.contacts.values() if p.get("email") == email)

    def points(self, contact_id: str) -> int:
        return int(self.contacts[contact_id].get("loyalty_points") or 0)

    def deals_with(self, reference: str) -> list[str]:
        return [str(d["amount"]) for d in self.deals.values() if d.get("cauri_reference") == reference]

    def exists(self, contact_id: str) -> bool:
        return contact_id in self.contacts

    def notification(self, url: str, contact_id: str) -> tuple[dict[str, str], bytes, str]:
        events = [
            {
                "eventId": secrets.randbelow(10**9),
                "subscriptionType": "contact.propertyChange",
                "portalId": 4242,
                "objectId": int(contact_id),
                "occurredAt": int(time.time() * 1000),
            }
        ]
        body = json.dumps(events).encode()
        stamp = str(int(time.time() * 1000))
        signature = hubspot.sign(self.client_secret, "POST", url, body, stamp)
        return {hubspot.SIGNATURE_HEADER: signature, hubspot.TIMESTAMP_HEADER: stamp}, body, url


class ZohoSimulator(CrmSimulator):
    def __init__(
        self,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        refresh_token: str = DEMO_REFRESH_TOKEN,
        notification_token: str = DEMO_NOTIFICATION_TOKEN,
        **kw: Any,
    ) -> None:
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.notification_token = notification_token
        self._tokens: set[str] = set()
        self.api_domain = ""  # set by whoever serves it (the token answer names it)
        super().__init__(**kw)

    def routes(self) -> list[Route]:
        base = "/crm/{version}"
        return [
            Route("/oauth/v2/token", self._token, methods=["POST"]),
            Route(f"{base}/Contacts/search", self.wrap(self._search), methods=["GET"]),
            Route(f"{base}/{{module}}/upsert", self.wrap(self._upsert), methods=["POST"]),
            Route(f"{base}/Contacts/{{id}}", self.wrap(self._get), methods=["GET"]),
            Route(f"{base}/Contacts", self.wrap(self._contacts), methods=["PUT", "DELETE"]),
        ]

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Zoho-oauthtoken ") and header.removeprefix("Zoho-oauthtoken ") in self._tokens

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        valid = (
            form.get("grant_type") == "refresh_token"
            and form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
            and form.get("refresh_token") == self.refresh_token
        )
        if not valid:
            return JSONResponse({"error": "invalid_code"})  # Zoho answers 200 with an error field
        token = secrets.token_hex(16)
        self._tokens.add(token)
        domain = self.api_domain or str(request.base_url).rstrip("/")
        return JSONResponse({"access_token": token, "api_domain": domain, "token_type": "Bearer", "expires_in": 3600})

    def _render(self, contact_id: str) -> dict[str, Any]:
        return {"id": contact_id, **self.contacts[contact_id]}

    async def _search(self, request: Request) -> Response:
        params = request.query_params
        key, value = ("Email", params["email"]) if "email" in params else ("Phone", params.get("phone"))
        found = [self._render(i) for i, c in self.contacts.items() if c.get(key) == value]
        if not found:
            return Response(status_code=204)
        return JSONResponse({"data": found, "info": {"count": len(found), "more_records": False}})

    async def _get(self, request: Request) -> Response:
        contact_id = request.path_params["id"]
        if contact_id not in self.contacts:
            return Response(status_code=204)
        return JSONResponse({"data": [self._render(contact_id)]})

    async def _upsert(self, request: Request) -> Response:
        module = request.path_params["module"]
        body = await request.json()
        (record,) = body["data"]
        (check,) = body["duplicate_check_fields"]
        store = {"Contacts": self.contacts, "Deals": self.deals, "Rewards": self.rewards}.get(module)
        if store is None:
            return JSONResponse({"code": "INVALID_MODULE", "status": "error"}, status_code=400)
        if module == "Contacts" and not record.get("Last_Name"):
            return JSONResponse({"data": [{"code": "MANDATORY_NOT_FOUND", "status": "error"}]}, status_code=400)
        found = next((i for i, r in store.items() if check in record and r.get(check) == record[check]), None)
        if found is None:
            found, action = self.new_id(), "insert"
            store[found] = {}
        else:
            action = "update"
        store[found].update({k: v for k, v in record.items() if k != "id"})
        answer = {"code": "SUCCESS", "details": {"id": found}, "message": f"record {action}d", "status": "success"}
        return JSONResponse(
            {"data": [{**answer, "action": action, "duplicate_field": check}]},
            status_code=201 if action == "insert" else 200,
        )

    async def _contacts(self, request: Request) -> Response:
        if request.method == "DELETE":
            results = []
            for contact_id in request.query_params.get("ids", "").split(","):
                if self.contacts.pop(contact_id, None) is not None:
                    self.erased.append(contact_id)
                results.append({"code": "SUCCESS", "details": {"id": contact_id}, "status": "success"})
            return JSONResponse({"data": results})
        for record in (await request.json())["data"]:
            self.contacts.get(str(record["id"]), {}).update({k: v for k, v in record.items() if k != "id"})
        return JSONResponse({"data": [{"code": "SUCCESS", "status": "success"}]})

    # -- the contract's view ----------------------------------------------------------------------------------

    def contacts_with(self, email: str) -> int:
        return sum(1 for c in self.contacts.values() if c.get("Email") == email)

    def points(self, contact_id: str) -> int:
        return int(self.contacts[contact_id].get("Loyalty_Points") or 0)

    def deals_with(self, reference: str) -> list[str]:
        return [f"{d['Amount']:.2f}" for d in self.deals.values() if d.get("Reference") == reference]

    def exists(self, contact_id: str) -> bool:
        return contact_id in self.contacts

    def notification(self, url: str, contact_id: str) -> tuple[dict[str, str], bytes, str]:
        body = {
            "server_time": int(time.time() * 1000),
            "module": "Contacts",
            "ids": [contact_id],
            "operation": "update",
            "channel_id": "1000000068001",
            "token": self.notification_token,
        }
        return {"content-type": "application/json"}, json.dumps(body).encode(), url
