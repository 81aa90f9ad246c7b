"""TheFork (B2B "manager" API) as a :class:`ReservationConnector`.

Public (docs.thefork.io, second-hand for details; credentials go to accepted partners only): Auth0 client
credentials ``POST https://auth.thefork.io/oauth/token {grant_type, client_id, client_secret, audience}`` →
``{access_token, expires_in}``; base ``https://api.thefork.io/manager``; ``GET /v1/reservations?restaurantId&page
&limit`` → ``{data: [uuid…], totalCount, page, limit}`` (ids only: each is read with ``GET /v1/reservations/{uuid}``);
statuses ``RECORDED`` (confirmed), ``REQUESTED``, ``CANCELED``, ``NO_SHOW``, ``REFUSED`` and ``mealStatus``
``ARRIVED``/``SEATED``/``BILL``/``LEFT``; ``PUT /v1/restaurants/{id}/availabilities/override``; webhooks
``{entityType, eventType, uuid}`` authenticated by a **token in the webhook URL** chosen by the partner.
Configurable (our reading, not published): the list's change filter name, the update call and the bodies of the
update and of the availability override (:class:`TheForkPaths`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from cauri.connectors.restaurant.base import (
    AvailabilitySlot,
    Page,
    Reservation,
    ReservationConnector,
    ReservationStatus,
    WebhookEvent,
)
from cauri.connectors.restaurant.reservations import common
from cauri.kit.auth import AuthStrategy, OAuth2ClientCredentials
from cauri.kit.errors import InvalidRequest, InvalidSignature, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "thefork"
API_URL = "https://api.thefork.io/manager"
AUTH_URL = "https://auth.thefork.io/oauth/token"
AUDIENCE = "https://api.thefork.io"
STATUSES = {
    "RECORDED": ReservationStatus.CONFIRMED,
    "REQUESTED": ReservationStatus.REQUESTED,
    "CANCELED": ReservationStatus.CANCELLED,
    "REFUSED": ReservationStatus.CANCELLED,
    "NO_SHOW": ReservationStatus.NO_SHOW,
}
MEAL_STATUSES = {
    "ARRIVED": ReservationStatus.SEATED,
    "SEATED": ReservationStatus.SEATED,
    "BILL": ReservationStatus.SEATED,
    "LEFT": ReservationStatus.COMPLETED,
}
#: What an update sends for each unified status: (field, TheFork word).
UPDATES = {
    ReservationStatus.CONFIRMED: ("status", "RECORDED"),
    ReservationStatus.CANCELLED: ("status", "CANCELED"),
    ReservationStatus.NO_SHOW: ("status", "NO_SHOW"),
    ReservationStatus.SEATED: ("mealStatus", "SEATED"),
    ReservationStatus.COMPLETED: ("mealStatus", "LEFT"),
}
DETAIL_CONCURRENCY = 8


@dataclass(frozen=True)
class TheForkPaths:
    reservations: str = "/v1/reservations"
    reservation: str = "/v1/reservations/{id}"
    availability: str = "/v1/restaurants/{restaurant}/availabilities/override"
    updated_after_param: str = "updatedAfter"
    page_size: int = 100


class TheForkAuth(OAuth2ClientCredentials):
    """Auth0 client credentials: JSON body with the API's ``audience``."""

    def __init__(
        self, *, client_id: str, client_secret: SecretStr, token_url: str = AUTH_URL, audience: str = AUDIENCE
    ):
        super().__init__(
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            send_credentials="body",
            body_format="json",
        )
        self.audience = audience

    def _token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        fields, headers = super()._token_request()
        return {**fields, "audience": self.audience}, headers


def reservation(raw: Mapping[str, Any]) -> Reservation:
    if not isinstance(raw, Mapping):
        raise unreadable_answer(PROVIDER, "reservation")
    customer = common.mapping(raw, "customer")
    optins = common.mapping(customer, "optins")
    status = STATUSES.get(str(raw.get("status")), ReservationStatus.REQUESTED)  # unknown: only requested
    meal = MEAL_STATUSES.get(str(raw.get("mealStatus") or ""))
    if meal is not None and status is ReservationStatus.CONFIRMED:
        status = meal
    meal_date = common.parse_time(common.field(raw, "mealDate", PROVIDER), PROVIDER)
    names = (str(customer.get("firstName") or ""), str(customer.get("lastName") or ""))
    return Reservation(
        id=str(common.field(raw, "reservationUuid", PROVIDER)),
        party_size=int(common.field(raw, "partySize", PROVIDER)),
        starts_at=meal_date,
        status=status,
        updated_at=common.parse_time(raw.get("updatedAt") or raw.get("createdAt") or meal_date.isoformat(), PROVIDER),
        guest_name=" ".join(n for n in names if n),
        email=customer.get("email") or None,
        phone=customer.get("phone") or None,
        notes=str(raw.get("comment") or ""),
        marketing_consent=optins.get("restaurantNewsletter") is True,
    )


class TheForkConnector(ReservationConnector):
    provider = PROVIDER

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        restaurant_id: str,
        base_url: str = API_URL,
        webhook_tokens: Sequence[SecretStr] = (),
        paths: TheForkPaths | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.restaurant_id = restaurant_id
        self.paths = paths or TheForkPaths()
        self.webhook_tokens = [t.get_secret_value() for t in webhook_tokens]
        self.http = ProviderHttpClient(provider=PROVIDER, base_url=base_url, auth=auth, policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def list_reservations(
        self, *, updated_since: datetime | None, cursor: str | None = None
    ) -> Page[Reservation]:
        page = int(cursor or 1)
        params = {"restaurantId": self.restaurant_id, "page": str(page), "limit": str(self.paths.page_size)}
        if updated_since is not None:
            params[self.paths.updated_after_param] = common.iso(updated_since)
        response = await self.http.request("GET", self.paths.reservations, operation="list_reservations", params=params)
        answer = common.json_answer(response, PROVIDER)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise unreadable_answer(PROVIDER, "a page without data")
        ids = [str(i) for i in answer["data"]]
        gate = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def detail(reservation_id: str) -> Reservation:
            async with gate:
                return await self.get_reservation(reservation_id)

        found = await asyncio.gather(*(detail(i) for i in ids))
        total = int(answer.get("totalCount") or 0)
        more = ids and page * int(answer.get("limit") or self.paths.page_size) < total
        return Page(sorted(found, key=lambda r: (r.updated_at, r.id)), str(page + 1) if more else None)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        path = self.paths.reservation.format(id=reservation_id)
        response = await self.http.request("GET", path, operation="get_reservation")
        return reservation(common.json_answer(response, PROVIDER))

    async def update_reservation(self, reservation_id: str, *, status: ReservationStatus) -> Reservation:
        change = UPDATES.get(status)
        if change is None:
            raise InvalidRequest(
                f"TheFork n'accepte pas le statut « {status.value} ».",
                f"TheFork does not take the status '{status.value}'.",
                provider=PROVIDER,
                code="reservation_status_unsupported",
            )
        path = self.paths.reservation.format(id=reservation_id)
        response = await self.http.request(
            "PUT", path, operation="update_reservation", json={change[0]: change[1]}, idempotent=True
        )
        return reservation(common.json_answer(response, PROVIDER))

    async def push_availability(self, slots: Sequence[AvailabilitySlot]) -> None:
        body = {
            "overrides": [
                {"startDateTime": common.iso(s.starts_at), "isOpen": s.covers > 0, "remainingCovers": s.covers}
                for s in slots
            ]
        }
        path = self.paths.availability.format(restaurant=self.restaurant_id)
        await self.http.request("PUT", path, operation="push_availability", json=body, idempotent=True)

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        """TheFork authenticates a notification by the token we put in its URL (``?token=…``), not by a body
        signature: the token is checked in constant time, then the body is read."""
        received = (parse_qs(urlsplit(url).query).get("token") or [""])[0]
        if not received or not any(hmac.compare_digest(received.encode(), t.encode()) for t in self.webhook_tokens):
            raise InvalidSignature(provider=PROVIDER, provider_code="bad_token" if received else "missing_token")
        raw = common.json_answer_bytes(body, PROVIDER)
        if not isinstance(raw, dict) or not raw.get("uuid"):
            raise unreadable_answer(PROVIDER, "notification")
        event_id = str(raw.get("eventId") or hashlib.sha256(body).hexdigest()[:32])
        return WebhookEvent(
            event_id=event_id,
            type=f"{raw.get('entityType', '')}.{raw.get('eventType', '')}".lower(),
            kind="reservations",
            object_ids=(str(raw["uuid"]),),
            merchant_id=str(raw.get("restaurantUuid") or "") or None,
            raw=raw,
        )
