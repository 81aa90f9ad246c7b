"""Simulators of the booking channels (``cauri simulate thefork|opentable``): one in-memory book of reservations
served in each channel's wire shape, client-credentials tokens, availability pushes recorded, notifications
delivered the channel's way (TheFork: a token in the URL; OpenTable: Cauri's timestamped HMAC), and the faults a
test needs (429, 5xx, a page of another shape)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cauri.connectors.restaurant.faults import Faults
from cauri.connectors.restaurant.reservations import common

DEMO_CLIENT_ID = "cauri-demo-bookings"
DEMO_CLIENT_SECRET = "cauri-demo-bookings-secret"  # noqa: S105 - the simulator's published demo value
DEMO_WEBHOOK_SECRET = "cauri-demo-bookings-webhook"  # noqa: S105 - published demo value
RESTAURANT_ID = "lvm-0001"
TOKEN_LIFETIME = 8600


@dataclass(slots=True)
class SimReservation:
    id: str
    party_size: int
    starts_at: datetime
    status: str  # the channel's word
    updated_at: datetime
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    consent: bool = False
    notes: str = ""
    meal_status: str | None = None  # TheFork only


class ReservationSimulator(ABC):
    """The book and the plumbing; subclasses render one channel's wire shape."""

    provider = ""
    confirmed_word = ""
    page_max = 100

    def __init__(
        self,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        webhook_secret: str = DEMO_WEBHOOK_SECRET,
        restaurant_id: str = RESTAURANT_ID,
        latency_seconds: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.restaurant_id = restaurant_id
        self.latency_seconds = latency_seconds
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.reservations: dict[str, SimReservation] = {}
        self.pushed: list[tuple[datetime, int]] = []  # the last availability pushed
        self.pushes = 0
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.app = Starlette(routes=self.routes())

    @abstractmethod
    def routes(self) -> list[Route]:
        """Each provider's own."""

    # -- the book -------------------------------------------------------------------------------------------

    def add_reservation(
        self,
        party_size: int,
        starts_at: datetime,
        *,
        status: str | None = None,
        at: datetime | None = None,
        name: str = "Camille Martin",
        email: str | None = "camille@example.fr",
        phone: str | None = "+33612345678",
        consent: bool = False,
    ) -> str:
        first, _, last = name.partition(" ")
        booking = SimReservation(
            self.new_id(),
            party_size,
            starts_at,
            status or self.confirmed_word,
            at or self.now(),
            first,
            last,
            email,
            phone,
            consent,
        )
        self.reservations[booking.id] = booking
        return booking.id

    def change_reservation(
        self, reservation_id: str, *, status: str | None = None, party_size: int | None = None
    ) -> None:
        booking = self.reservations[reservation_id]
        if status is not None:
            booking.status = status
        if party_size is not None:
            booking.party_size = party_size
        booking.updated_at = max(self.now(), booking.updated_at + timedelta(microseconds=1))

    def status_word(self, reservation_id: str) -> str:
        return self.reservations[reservation_id].status

    @abstractmethod
    def new_id(self) -> str:
        """Each provider's own."""

    def ordered(self, since: datetime | None) -> list[SimReservation]:
        found = [r for r in self.reservations.values() if since is None or r.updated_at >= since]
        return sorted(found, key=lambda r: (r.updated_at, r.id))

    @abstractmethod
    def notification(self, url: str, reservation_id: str) -> tuple[dict[str, str], bytes, str]:
        """A notification of a change to ``reservation_id``: (headers, body, the URL it is posted to)."""

    async def aclose(self) -> None:
        return None

    # -- plumbing -------------------------------------------------------------------------------------------

    def issue_token(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + TOKEN_LIFETIME
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}

    def error(self, status: int, message: str) -> JSONResponse:
        return JSONResponse({"status": status, "message": message}, status_code=status)

    def wrap(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests[path] += 1
            if self.latency_seconds:
                await asyncio.sleep(self.latency_seconds)
            if self.faults.take(self.faults.rate_limited, path):
                return JSONResponse({"message": "Too many requests"}, status_code=429, headers={"Retry-After": "0"})
            if self.faults.take(self.faults.server_errors, path):
                return self.error(503, "Service unavailable")
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if self._tokens.get(token, 0) < time.monotonic():
                return self.error(401, "Unauthorized")
            if self.faults.take(self.faults.malformed, path):
                return JSONResponse({"results": {"reservations": []}})
            return await handler(request)

        return endpoint


def _since(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    return common.parse_time(value, "simulator") if value else None


class TheForkSimulator(ReservationSimulator):
    provider = "thefork"
    confirmed_word = "RECORDED"

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/v1/reservations", self.wrap(self._list), methods=["GET"]),
            Route("/v1/reservations/{id}", self.wrap(self._one), methods=["GET", "PUT"]),
            Route(
                "/v1/restaurants/{restaurant}/availabilities/override", self.wrap(self._availability), methods=["PUT"]
            ),
        ]

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def render(self, r: SimReservation) -> dict[str, Any]:
        return {
            "reservationUuid": r.id,
            "restaurantUuid": self.restaurant_id,
            "mealDate": common.iso(r.starts_at),
            "partySize": r.party_size,
            "status": r.status,
            "mealStatus": r.meal_status,
            "createdAt": common.iso(r.updated_at),
            "updatedAt": common.iso(r.updated_at),
            "comment": r.notes,
            "customer": {
                "firstName": r.first_name,
                "lastName": r.last_name,
                "email": r.email,
                "phone": r.phone,
                "optins": {"restaurantNewsletter": r.consent},
            },
        }

    async def _token(self, request: Request) -> Response:
        body = await request.json()
        if body.get("grant_type") != "client_credentials" or body.get("audience") != "https://api.thefork.io":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "access_denied", "error_description": "Unauthorized"}, status_code=401)
        return JSONResponse(self.issue_token())

    async def _list(self, request: Request) -> Response:
        params = request.query_params
        if params.get("restaurantId") != self.restaurant_id:
            return self.error(403, "Forbidden restaurant")
        page, limit = int(params.get("page") or 1), int(params.get("limit") or 10)
        if not 1 <= limit <= self.page_max:
            return self.error(400, "limit")
        found = self.ordered(_since(request, "updatedAfter"))
        chunk = found[(page - 1) * limit : page * limit]
        return JSONResponse({"data": [r.id for r in chunk], "totalCount": len(found), "page": page, "limit": limit})

    async def _one(self, request: Request) -> Response:
        booking = self.reservations.get(request.path_params["id"])
        if booking is None:
            return self.error(404, "Reservation not found")
        if request.method == "PUT":
            body = await request.json()
            if "status" in body:
                booking.status = str(body["status"])
            if "mealStatus" in body:
                booking.meal_status = str(body["mealStatus"])
            booking.updated_at = max(self.now(), booking.updated_at + timedelta(microseconds=1))
        return JSONResponse(self.render(booking))

    async def _availability(self, request: Request) -> Response:
        if request.path_params["restaurant"] != self.restaurant_id:
            return self.error(403, "Forbidden restaurant")
        body = await request.json()
        self.pushed = [
            (common.parse_time(o["startDateTime"], "simulator"), int(o["remainingCovers"])) for o in body["overrides"]
        ]
        self.pushes += 1
        return Response(status_code=204)

    def notification(self, url: str, reservation_id: str) -> tuple[dict[str, str], bytes, str]:
        body = {"entityType": "RESERVATION", "eventType": "RESERVATION_UPDATED", "uuid": reservation_id}
        body["eventId"] = secrets.token_hex(12)
        separator = "&" if "?" in url else "?"
        signed_url = f"{url}{separator}{urlencode({'token': self.webhook_secret})}"
        return {"content-type": "application/json"}, json.dumps(body).encode(), signed_url


class OpenTableSimulator(ReservationSimulator):
    provider = "opentable"
    confirmed_word = "Booked"

    def routes(self) -> list[Route]:
        base = "/api/v3/restaurant/{rid}"
        return [
            Route("/api/v2/oauth/token", self._token, methods=["POST"]),
            Route(f"{base}/reservations", self.wrap(self._list), methods=["GET"]),
            Route(f"{base}/reservations/{{id}}", self.wrap(self._one), methods=["GET", "PUT"]),
            Route(f"{base}/availability", self.wrap(self._availability), methods=["PUT"]),
        ]

    def new_id(self) -> str:
        return str(100000 + len(self.reservations) + 1)

    def render(self, r: SimReservation) -> dict[str, Any]:
        return {
            "confirmation_number": r.id,
            "rid": self.restaurant_id,
            "date_time": common.iso(r.starts_at),
            "party_size": r.party_size,
            "state": r.status,
            "updated_at": common.iso(r.updated_at),
            "notes": r.notes,
            "guest": {
                "first_name": r.first_name,
                "last_name": r.last_name,
                "email": r.email,
                "phone": r.phone,
                "marketing_opt_in": r.consent,
            },
        }

    async def _token(self, request: Request) -> Response:
        if request.query_params.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(self.issue_token())

    def _rid_refused(self, request: Request) -> Response | None:
        return self.error(403, "Forbidden restaurant") if request.path_params["rid"] != self.restaurant_id else None

    async def _list(self, request: Request) -> Response:
        if (refused := self._rid_refused(request)) is not None:
            return refused
        offset, limit = int(request.query_params.get("offset") or 0), int(request.query_params.get("limit") or 50)
        if not 1 <= limit <= self.page_max:
            return self.error(400, "limit")
        found = self.ordered(_since(request, "updated_after"))
        items = [self.render(r) for r in found[offset : offset + limit]]
        return JSONResponse({"items": items, "total": len(found), "offset": offset, "limit": limit})

    async def _one(self, request: Request) -> Response:
        if (refused := self._rid_refused(request)) is not None:
            return refused
        booking = self.reservations.get(request.path_params["id"])
        if booking is None:
            return self.error(404, "Reservation not found")
        if request.method == "PUT":
            body = await request.json()
            booking.status = str(body.get("state") or booking.status)
            booking.updated_at = max(self.now(), booking.updated_at + timedelta(microseconds=1))
        return JSONResponse(self.render(booking))

    async def _availability(self, request: Request) -> Response:
        if (refused := self._rid_refused(request)) is not None:
            return refused
        body = await request.json()
        self.pushed = [(common.parse_time(s["date_time"], "simulator"), int(s["covers"])) for s in body["slots"]]
        self.pushes += 1
        return Response(status_code=204)

    def notification(self, url: str, reservation_id: str) -> tuple[dict[str, str], bytes, str]:
        body = {
            "id": f"evt_{secrets.token_hex(10)}",
            "type": "reservation.updated",
            "rid": self.restaurant_id,
            "reservation_id": reservation_id,
        }
        raw = json.dumps(body).encode()
        signature = common.sign(self.webhook_secret, raw, int(time.time()))
        return {"content-type": "application/json", common.SIGNATURE_HEADER: signature}, raw, url
