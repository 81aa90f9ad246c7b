"""The contract every CRM connector passes against its own simulator over loopback HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import pytest
from starlette.types import ASGIApp

from cauri.connectors.restaurant.base import Contact, CrmConnector
from cauri.connectors.restaurant.contract import CONTRACT_POLICY, SimulatedFaults
from cauri.kit.errors import AuthError, ConnectorError, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.testing import serve_app


class SimulatedCrm(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def faults(self) -> SimulatedFaults: ...

    @property
    def requests(self) -> Counter[str]: ...

    def contacts_with(self, email: str) -> int: ...

    def points(self, contact_id: str) -> int: ...

    def deals_with(self, reference: str) -> list[str]: ...

    def exists(self, contact_id: str) -> bool: ...

    def notification(self, url: str, contact_id: str) -> tuple[dict[str, str], bytes, str]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class CrmUnderTest:
    simulator: Callable[[], SimulatedCrm]
    connector: Callable[[str, HttpPolicy], CrmConnector]
    bad_connector: Callable[[str], CrmConnector]
    search_path: str  # the path the fault injection targets
    body_signed: bool  # False: the CRM echoes a token instead of signing (Zoho)


@dataclass
class CrmWorld:
    simulator: SimulatedCrm
    connector: CrmConnector
    base_url: str


GUEST = Contact(
    email="awa@example.sn", phone="+221770000001", first_name="Awa", last_name="Ndiaye", marketing_consent=True
)


class CrmConnectorContract:
    subject: ClassVar[CrmUnderTest]

    @pytest.fixture
    async def world(self) -> AsyncIterator[CrmWorld]:
        simulator = self.subject.simulator()
        async with serve_app(simulator.app) as base_url:
            connector = self.subject.connector(base_url, CONTRACT_POLICY)
            try:
                yield CrmWorld(simulator, connector, base_url)
            finally:
                await connector.aclose()
                await simulator.aclose()

    async def test_contacts_are_matched_and_upserted_once(self, world: CrmWorld) -> None:
        assert await world.connector.find_contact(email=GUEST.email) is None
        created = await world.connector.upsert_contact(GUEST)
        assert created.id and created.marketing_consent
        renamed = Contact(email=GUEST.email, first_name="Awa", last_name="Diallo", marketing_consent=True)
        again = await world.connector.upsert_contact(renamed)  # no id given: matched by e-mail
        assert again.id == created.id and again.last_name == "Diallo"
        assert world.simulator.contacts_with("awa@example.sn") == 1
        by_phone = await world.connector.find_contact(phone=GUEST.phone)
        assert by_phone is not None and by_phone.id == created.id

    async def test_loyalty_points_apply_once_per_key(self, world: CrmWorld) -> None:
        contact = await world.connector.upsert_contact(GUEST)
        assert contact.id is not None
        assert (
            await world.connector.add_loyalty_points(contact.id, 10, reason="Dîner", idempotency_key="lvm-pts-1") == 10
        )
        assert (
            await world.connector.add_loyalty_points(contact.id, 10, reason="Dîner", idempotency_key="lvm-pts-1") == 10
        )
        assert await world.connector.add_loyalty_points(contact.id, 5, reason="Café", idempotency_key="lvm-pts-2") == 15
        assert world.simulator.points(contact.id) == 15

    async def test_a_sale_is_one_won_deal(self, world: CrmWorld) -> None:
        contact = await world.connector.upsert_contact(GUEST)
        assert contact.id is not None
        first = await world.connector.record_sale(
            contact.id, amount=2450, currency="EUR", reference="sale-1", name="Dîner"
        )
        again = await world.connector.record_sale(
            contact.id, amount=2450, currency="EUR", reference="sale-1", name="Dîner"
        )
        assert first == again
        assert world.simulator.deals_with("sale-1") == ["24.50"]

    async def test_erasure(self, world: CrmWorld) -> None:
        contact = await world.connector.upsert_contact(GUEST)
        assert contact.id is not None
        await world.connector.erase_contact(contact.id)
        assert not world.simulator.exists(contact.id)
        assert await world.connector.find_contact(email=GUEST.email) is None
        await world.connector.erase_contact(contact.id)  # already gone: not an error

    async def test_reads_are_retried_and_an_odd_answer_is_an_error(self, world: CrmWorld) -> None:
        await world.connector.upsert_contact(GUEST)
        world.simulator.faults.rate_limited[self.subject.search_path] = 1
        world.simulator.faults.server_errors[self.subject.search_path] = 1
        assert await world.connector.find_contact(email=GUEST.email) is not None
        world.simulator.faults.malformed[self.subject.search_path] = 1
        with pytest.raises(ConnectorError) as caught:
            await world.connector.find_contact(email=GUEST.email)
        assert caught.value.code == "provider_unreadable_answer"

    async def test_wrong_credentials(self, world: CrmWorld) -> None:
        connector = self.subject.bad_connector(world.base_url)
        try:
            with pytest.raises(AuthError):
                await connector.find_contact(email=GUEST.email)
        finally:
            await connector.aclose()

    async def test_webhooks_are_verified(self, world: CrmWorld) -> None:
        contact = await world.connector.upsert_contact(GUEST)
        assert contact.id is not None
        url = "https://cauri.example/api/v1/restaurant/webhooks/crm"
        headers, body, signed_url = world.simulator.notification(url, contact.id)
        event = world.connector.parse_webhook(headers=headers, body=body, url=signed_url)
        assert (event.kind, event.object_ids) == ("contacts", (contact.id,))
        forged = [({"content-type": "application/json"}, body.replace(b"token", b"tokeN"), url)]
        if self.subject.body_signed:
            forged += [
                ({}, body, url),
                (headers, body.replace(contact.id.encode(), b"999"), url),
                (headers, body, url + "?x=1"),
            ]
        for forged_headers, forged_body, forged_url in forged:
            with pytest.raises(InvalidSignature):
                world.connector.parse_webhook(headers=forged_headers, body=forged_body, url=forged_url)
