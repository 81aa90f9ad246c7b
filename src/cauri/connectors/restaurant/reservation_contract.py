"""The contract every booking-channel connector passes against its own simulator over loopback HTTP::

class TestTheFork(ReservationConnectorContract):
    subject = ReservationsUnderTest(simulator=…, connector=…, bad_connector=…, words=…, body_signed=False)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Protocol

import pytest
from starlette.types import ASGIApp

from cauri.connectors.restaurant.base import AvailabilitySlot, ReservationConnector, ReservationStatus
from cauri.connectors.restaurant.contract import CONTRACT_POLICY, SimulatedFaults
from cauri.kit.errors import AuthError, ConnectorError, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.testing import serve_app


class SimulatedChannel(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def faults(self) -> SimulatedFaults: ...

    @property
    def requests(self) -> Counter[str]: ...

    @property
    def pushed(self) -> list[tuple[datetime, int]]: ...

    def add_reservation(
        self,
        party_size: int,
        starts_at: datetime,
        *,
        status: str | None = ...,
        at: datetime | None = ...,
        name: str = ...,
        email: str | None = ...,
        phone: str | None = ...,
        consent: bool = ...,
    ) -> str: ...

    def change_reservation(
        self, reservation_id: str, *, status: str | None = ..., party_size: int | None = ...
    ) -> None: ...

    def status_word(self, reservation_id: str) -> str: ...

    def notification(self, url: str, reservation_id: str) -> tuple[dict[str, str], bytes, str]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ChannelWords:
    """The channel's words for a confirmed, a cancelled booking, and one the connector does not know."""

    confirmed: str
    cancelled: str
    unknown: str


@dataclass(frozen=True)
class ReservationsUnderTest:
    simulator: Callable[[], SimulatedChannel]
    connector: Callable[[str, HttpPolicy], ReservationConnector]  # pages of 10
    bad_connector: Callable[[str], ReservationConnector]
    words: ChannelWords
    list_path: str  # the path the fault injection targets
    body_signed: bool  # False: the channel authenticates the URL only (TheFork's token)


@dataclass
class ChannelWorld:
    simulator: SimulatedChannel
    connector: ReservationConnector
    base_url: str


class ReservationConnectorContract:
    subject: ClassVar[ReservationsUnderTest]

    @pytest.fixture
    async def world(self) -> AsyncIterator[ChannelWorld]:
        simulator = self.subject.simulator()
        async with serve_app(simulator.app) as base_url:
            connector = self.subject.connector(base_url, CONTRACT_POLICY)
            try:
                yield ChannelWorld(simulator, connector, base_url)
            finally:
                await connector.aclose()
                await simulator.aclose()

    async def test_pages_through_every_reservation_once_oldest_change_first(self, world: ChannelWorld) -> None:
        start = datetime.now(UTC) - timedelta(hours=1)
        dinner = datetime.now(UTC).replace(hour=19, minute=30, second=0, microsecond=0) + timedelta(days=1)
        ids = [world.simulator.add_reservation(2 + n % 4, dinner, at=start + timedelta(seconds=n)) for n in range(25)]
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await world.connector.list_reservations(updated_since=start, cursor=cursor)
            pages += 1
            seen += [r.id for r in page.items]
            if (cursor := page.cursor) is None:
                break
        assert seen == ids and pages >= 3
        first = await world.connector.get_reservation(ids[0])
        assert (first.party_size, first.starts_at, first.status) == (2, dinner, ReservationStatus.CONFIRMED)
        assert first.guest_name == "Camille Martin" and first.email == "camille@example.fr"

    async def test_changes_since_a_mark(self, world: ChannelWorld) -> None:
        dinner = datetime.now(UTC) + timedelta(days=2)
        kept = world.simulator.add_reservation(2, dinner, at=datetime.now(UTC) - timedelta(minutes=5))
        changed = world.simulator.add_reservation(4, dinner, at=datetime.now(UTC) - timedelta(minutes=5))
        mark = datetime.now(UTC)
        world.simulator.change_reservation(changed, status=self.subject.words.cancelled)
        page = await world.connector.list_reservations(updated_since=mark)
        assert [(r.id, r.status) for r in page.items] == [(changed, ReservationStatus.CANCELLED)]
        assert kept not in [r.id for r in page.items]

    async def test_unknown_status_and_consent(self, world: ChannelWorld) -> None:
        when = datetime.now(UTC) + timedelta(days=1)
        odd = world.simulator.add_reservation(3, when, status=self.subject.words.unknown, consent=True)
        reservation = await world.connector.get_reservation(odd)
        assert reservation.status is ReservationStatus.REQUESTED  # never taken for confirmed
        assert reservation.marketing_consent is True
        plain = world.simulator.add_reservation(3, when)
        assert (await world.connector.get_reservation(plain)).marketing_consent is False

    async def test_update_reaches_the_channel(self, world: ChannelWorld) -> None:
        booking = world.simulator.add_reservation(6, datetime.now(UTC) + timedelta(days=1))
        updated = await world.connector.update_reservation(booking, status=ReservationStatus.CANCELLED)
        assert updated.status is ReservationStatus.CANCELLED
        assert world.simulator.status_word(booking) == self.subject.words.cancelled
        again = await world.connector.update_reservation(booking, status=ReservationStatus.CANCELLED)
        assert again.status is ReservationStatus.CANCELLED  # a repeated update is harmless

    async def test_availability_push(self, world: ChannelWorld) -> None:
        lunch = datetime(2026, 12, 24, 11, 0, tzinfo=UTC)
        slots = [AvailabilitySlot(lunch, 12), AvailabilitySlot(lunch + timedelta(hours=7), 0)]
        await world.connector.push_availability(slots)
        assert world.simulator.pushed == [(s.starts_at, s.covers) for s in slots]

    async def test_reads_are_retried_and_an_odd_page_is_an_error(self, world: ChannelWorld) -> None:
        booking = world.simulator.add_reservation(2, datetime.now(UTC) + timedelta(days=1))
        world.simulator.faults.rate_limited[self.subject.list_path] = 1
        world.simulator.faults.server_errors[self.subject.list_path] = 1
        page = await world.connector.list_reservations(updated_since=None)
        assert [r.id for r in page.items] == [booking]
        world.simulator.faults.malformed[self.subject.list_path] = 1
        with pytest.raises(ConnectorError) as caught:
            await world.connector.list_reservations(updated_since=None)
        assert caught.value.code == "provider_unreadable_answer"

    async def test_wrong_credentials(self, world: ChannelWorld) -> None:
        connector = self.subject.bad_connector(world.base_url)
        try:
            with pytest.raises(AuthError):
                await connector.list_reservations(updated_since=None)
        finally:
            await connector.aclose()

    async def test_notifications_are_verified(self, world: ChannelWorld) -> None:
        booking = world.simulator.add_reservation(2, datetime.now(UTC) + timedelta(days=1))
        url = "https://cauri.example/api/v1/restaurant/webhooks/bookings/c-1"
        headers, body, signed_url = world.simulator.notification(url, booking)
        event = world.connector.parse_webhook(headers=headers, body=body, url=signed_url)
        assert (event.kind, event.object_ids) == ("reservations", (booking,))
        assert event.event_id
        forged: list[tuple[dict[str, str], bytes, str]] = [
            ({"content-type": "application/json"}, body, url),  # nothing that authenticates it
        ]
        if not self.subject.body_signed:
            forged.append((headers, body, signed_url.replace("token=", "token=x")))  # a URL token not ours
        else:
            forged.append((headers, body.replace(booking.encode(), b"999"), signed_url))
            stale = dict(headers)
            name = next(k for k in headers if k != "content-type")
            stale[name] = stale[name].replace("t=", "t=1", 1)
            forged.append((stale, body, signed_url))
        for forged_headers, forged_body, forged_url in forged:
            with pytest.raises(InvalidSignature):
                world.connector.parse_webhook(headers=forged_headers, body=forged_body, url=forged_url)
        assert json.loads(body)  # the notification itself is JSON
