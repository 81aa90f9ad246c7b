"""OpenTable as a :class:`ReservationConnector`.

Public (second-hand; access is partner-only, rate limits per agreement): client credentials with HTTP Basic
``POST https://oauth.opentable.com/api/v2/oauth/token?grant_type=client_credentials`` (QA ``oauth-pp.opentable.com``),
API hosts ``https://platform.opentable.com`` (QA ``platform.otqa.com``). Configurable (:class:`OpenTablePaths`),
because OpenTable publishes neither: the seed's paths ``/api/v3/restaurant/{rid}/reservations`` (list, ``PUT``
update) and ``/availability``, the detail path, offset paging, the reservation's fields and state words, and the
notification signature — Cauri's timestamped HMAC (``common.SIGNATURE_HEADER``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from cauri.kit.errors import InvalidRequest, unreadable_answer
from cauri.kit.http import HttpPolicy, ProviderHttpClient

PROVIDER = "opentable"
API_URL = "https://platform.opentable.com"
OAUTH_URL = "https://oauth.opentable.com"
STATES = {
    "Pending": ReservationStatus.REQUESTED,
    "Booked": ReservationStatus.CONFIRMED,
    "Confirmed": ReservationStatus.CONFIRMED,
    "Seated": ReservationStatus.SEATED,
    "PartiallySeated": ReservationStatus.SEATED,
    "Done": ReservationStatus.COMPLETED,
    "Cancelled": ReservationStatus.CANCELLED,
    "NoShow": ReservationStatus.NO_SHOW,
}
UPDATES = {
    ReservationStatus.CONFIRMED: "Confirmed",
    ReservationStatus.SEATED: "Seated",
    ReservationStatus.COMPLETED: "Done",
    ReservationStatus.CANCELLED: "Cancelled",
    ReservationStatus.NO_SHOW: "NoShow",
}


@dataclass(frozen=True)
class OpenTablePaths:
    reservations: str = "/api/v3/restaurant/{rid}/reservations"
    reservation: str = "/api/v3/restaurant/{rid}/reservations/{id}"
    availability: str = "/api/v3/restaurant/{rid}/availability"
    page_size: int = 100


def opentable_auth(*, client_id: str, client_secret: SecretStr, oauth_url: str = OAUTH_URL) -> OAuth2ClientCredentials:
    """Basic credentials; ``grant_type`` travels in the query, as OpenTable's token URL takes it."""
    return OAuth2ClientCredentials(
        token_url=f"{oauth_url.rstrip('/')}/api/v2/oauth/token?grant_type=client_credentials",
        client_id=client_id,
        client_secret=client_secret,
        send_credentials="basic",
        grant_type=None,
    )


def reservation(raw: Mapping[str, Any]) -> Reservation:
    if not isinstance(raw, Mapping):
        raise unreadable_answer(PROVIDER, "reservation")
    guest = common.mapping(raw, "guest")
    names = (str(guest.get("first_name") or ""), str(guest.get("last_name") or ""))
    return Reservation(
        id=str(common.field(raw, "confirmation_number", PROVIDER)),
        party_size=int(common.field(raw, "party_size", PROVIDER)),
        starts_at=common.parse_time(common.field(raw, "date_time", PROVIDER), PROVIDER),
        status=STATES.get(str(raw.get("state")), ReservationStatus.REQUESTED),
        updated_at=common.parse_time(common.field(raw, "updated_at", PROVIDER), PROVIDER),
        guest_name=" ".join(n for n in names if n),
        email=guest.get("email") or None,
        phone=guest.get("phone") or None,
        notes=str(raw.get("notes") or ""),
        marketing_consent=guest.get("marketing_opt_in") is True,
    )


class OpenTableConnector(ReservationConnector):
    provider = PROVIDER

    def __init__(
        self,
        *,
        auth: AuthStrategy,
        rid: str,
        base_url: str = API_URL,
        signature_secrets: Sequence[SecretStr] = (),
        paths: OpenTablePaths | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.rid = rid
        self.paths = paths or OpenTablePaths()
        self.signature_secrets = [s.get_secret_value() for s in signature_secrets]
        self.http = ProviderHttpClient(provider=PROVIDER, base_url=base_url, auth=auth, policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def list_reservations(
        self, *, updated_since: datetime | None, cursor: str | None = None
    ) -> Page[Reservation]:
        offset = int(cursor or 0)
        params = {"offset": str(offset), "limit": str(self.paths.page_size), "sort": "updated_at"}
        if updated_since is not None:
            params["updated_after"] = common.iso(updated_since)
        path = self.paths.reservations.format(rid=self.rid)
        response = await self.http.request("GET", path, operation="list_reservations", params=params)
        answer = common.json_answer(response, PROVIDER)
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
            raise unreadable_answer(PROVIDER, "a page without items")
        found = [reservation(item) for item in answer["items"]]
        following = offset + len(found)
        more = found and following < int(answer.get("total") or 0)
        return Page(found, str(following) if more else None)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        path = self.paths.reservation.format(rid=self.rid, id=reservation_id)
        response = await self.http.request("GET", path, operation="get_reservation")
        return reservation(common.json_answer(response, PROVIDER))

    async def update_reservation(self, reservation_id: str, *, status: ReservationStatus) -> Reservation:
        state = UPDATES.get(status)
        if state is None:
            raise InvalidRequest(
                f"OpenTable n'accepte pas le statut « {status.value} ».",
                f"OpenTable does not take the status '{status.value}'.",
                provider=PROVIDER,
                code="reservation_status_unsupported",
            )
        path = self.paths.reservation.format(rid=self.rid, id=reservation_id)
        response = await self.http.request(
            "PUT", path, operation="update_reservation", json={"state": state}, idempotent=True
        )
        return reservation(common.json_answer(response, PROVIDER))

    async def push_availability(self, slots: Sequence[AvailabilitySlot]) -> None:
        body = {"slots": [{"date_time": common.iso(s.starts_at), "covers": s.covers} for s in slots]}
        path = self.paths.availability.format(rid=self.rid)
        await self.http.request("PUT", path, operation="push_availability", json=body, idempotent=True)

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        common.verify(secrets=self.signature_secrets, headers=headers, body=body, provider=PROVIDER)
        raw = common.json_answer_bytes(body, PROVIDER)
        if not isinstance(raw, dict) or not raw.get("id") or not raw.get("reservation_id"):
            raise unreadable_answer(PROVIDER, "notification")
        return WebhookEvent(
            event_id=str(raw["id"]),
            type=str(raw.get("type") or ""),
            kind="reservations",
            object_ids=(str(raw["reservation_id"]),),
            merchant_id=str(raw.get("rid") or "") or None,
            raw=raw,
        )
