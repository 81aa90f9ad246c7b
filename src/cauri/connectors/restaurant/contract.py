"""The contract every point-of-sale connector passes against its own simulator over loopback HTTP.

    class TestSquarePos(PosConnectorContract):
        subject = PosUnderTest(simulator=lambda: SquareSimulator(...), connector=lambda url, sim, policy: ...)

A POS simulator offers :class:`SimulatedPos` (seed items, orders and counts; inject 429, 5xx and a page of
another shape; sign webhooks). Every test starts a fresh simulator on a free port.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import pytest
from starlette.types import ASGIApp

from cauri.connectors.restaurant.base import (
    PosConnector,
    SaleState,
    StockChange,
    StockChangeKind,
    SupplierConnector,
    SupplierOrderLine,
    SupplierOrderRequest,
    SupplierOrderStatus,
    SupplierProduct,
)
from cauri.kit.errors import AuthError, ConnectorError, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.testing import serve_app

CONTRACT_POLICY = HttpPolicy(
    connect_timeout=2.0,
    read_timeout=5.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_cap=0.05,
    max_retry_after=2.0,
    breaker_failures=1000,
    rate_limit=None,
)


class SimulatedFaults(Protocol):
    @property
    def rate_limited(self) -> Counter[str]: ...

    @property
    def server_errors(self) -> Counter[str]: ...

    @property
    def malformed(self) -> Counter[str]: ...


class SimulatedPos(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def faults(self) -> SimulatedFaults: ...

    @property
    def requests(self) -> Counter[str]: ...

    def add_item(self, name: str, price: int) -> str: ...

    def update_item(self, variation_id: str, *, price: int | None = None, deleted: bool = False) -> None: ...

    def add_order(
        self, lines: Iterable[tuple[str, Decimal | int | str]], *, state: str = ..., at: datetime | None = None
    ) -> str: ...

    def update_order(self, order_id: str, *, state: str | None = None, at: datetime | None = None) -> None: ...

    def set_count(self, variation_id: str, quantity: Decimal | int) -> None: ...

    def count(self, variation_id: str) -> Decimal: ...

    def event_body(self, event_type: str, data: dict[str, Any]) -> bytes: ...

    def signed(self, notification_url: str, body: bytes) -> dict[str, str]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class PosUnderTest:
    simulator: Callable[[], SimulatedPos]
    connector: Callable[[str, SimulatedPos, HttpPolicy], PosConnector]
    bad_connector: Callable[[str], PosConnector]  # wrong credentials
    location_id: str
    currency: str
    sales_path: str  # the path the fault injection targets for sales searches
    order_event: str  # a webhook event type that names one sale
    unknown_sale_state: str  # a state word the connector does not know (must read as open)


@dataclass
class PosWorld:
    simulator: SimulatedPos
    connector: PosConnector
    base_url: str


class PosConnectorContract:
    subject: ClassVar[PosUnderTest]

    @pytest.fixture
    async def world(self) -> AsyncIterator[PosWorld]:
        simulator = self.subject.simulator()
        async with serve_app(simulator.app) as base_url:
            connector = self.subject.connector(base_url, simulator, CONTRACT_POLICY)
            try:
                yield PosWorld(simulator, connector, base_url)
            finally:
                await connector.aclose()
                await simulator.aclose()

    async def test_locations(self, world: PosWorld) -> None:
        locations = await world.connector.list_locations()
        assert self.subject.location_id in [loc.id for loc in locations]

    async def test_catalog_pages_through_every_item_once(self, world: PosWorld) -> None:
        ids = {world.simulator.add_item(f"Plat {n}", 1000 + n) for n in range(150)}
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await world.connector.list_catalog(cursor=cursor)
            pages += 1
            seen.extend(obj.id for obj in page.items if obj.type == "variation")
            cursor = page.cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids)
        assert pages >= 2
        priced = [o for o in page.items if o.type == "variation"]
        assert all(o.currency == self.subject.currency and isinstance(o.price, int) for o in priced)

    async def test_catalog_changes_since(self, world: PosWorld) -> None:
        past = datetime.now(UTC) - timedelta(seconds=5)
        kept = world.simulator.add_item("Tarte Tatin", 850)
        changed = world.simulator.add_item("Cassoulet", 1900)
        gone = world.simulator.add_item("Plat du jour", 1500)
        page = await world.connector.search_catalog(changed_since=past)
        assert {kept, changed, gone} <= {o.id for o in page.items}
        mark = datetime.now(UTC)
        world.simulator.update_item(changed, price=2100)
        world.simulator.update_item(gone, deleted=True)
        page = await world.connector.search_catalog(changed_since=mark)
        variations = {o.id: o for o in page.items if o.type == "variation"}
        assert set(variations) == {changed, gone}
        assert variations[changed].price == 2100
        assert variations[gone].deleted

    async def test_sales_incremental_with_cursor(self, world: PosWorld) -> None:
        dish = world.simulator.add_item("Bouillabaisse", 2400)
        start = datetime.now(UTC) - timedelta(hours=1)
        ids = [world.simulator.add_order([(dish, n % 3 + 1)], at=start + timedelta(seconds=n)) for n in range(25)]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await world.connector.search_sales(
                location_ids=[self.subject.location_id], updated_since=start, cursor=cursor, limit=10
            )
            seen.extend(s.id for s in page.items)
            times = [s.updated_at for s in page.items]
            assert times == sorted(times)
            cursor = page.cursor
            if cursor is None:
                break
        assert seen == ids
        mark = datetime.now(UTC)
        world.simulator.update_order(ids[3], state="CANCELED")
        page = await world.connector.search_sales(location_ids=[self.subject.location_id], updated_since=mark)
        assert [(s.id, s.state) for s in page.items] == [(ids[3], SaleState.CANCELLED)]

    async def test_sale_detail_and_unknown_state(self, world: PosWorld) -> None:
        dish = world.simulator.add_item("Magret", 2250)
        order = world.simulator.add_order([(dish, "1.5")], state=self.subject.unknown_sale_state)
        sale = await world.connector.get_sale(order)
        assert sale.state is SaleState.OPEN  # never counted as sold
        assert sale.lines[0].item_id == dish
        assert sale.lines[0].quantity == Decimal("1.5")
        assert sale.total == 3375 and sale.currency == self.subject.currency

    async def test_payments_since(self, world: PosWorld) -> None:
        dish = world.simulator.add_item("Café", 250)
        old = datetime.now(UTC) - timedelta(days=2)
        world.simulator.add_order([(dish, 1)], at=old)
        recent = [world.simulator.add_order([(dish, 2)]) for _ in range(3)]
        page = await world.connector.list_payments(begin_time=datetime.now(UTC) - timedelta(hours=1))
        assert sorted(p.order_id or "" for p in page.items) == sorted(recent)
        assert all(p.amount == 500 for p in page.items)

    async def test_stock_changes_apply_once_per_key(self, world: PosWorld) -> None:
        flour = world.simulator.add_item("Farine T55 (kg)", 0)
        world.simulator.set_count(flour, 20)
        change = StockChange(flour, self.subject.location_id, Decimal("2.5"), datetime.now(UTC))
        first = await world.connector.change_stock([change], idempotency_key="lvm-stock-1")
        again = await world.connector.change_stock([change], idempotency_key="lvm-stock-1")
        assert world.simulator.count(flour) == Decimal("17.5")
        assert [(c.item_id, c.quantity) for c in first if c.state == "in_stock"] == [(flour, Decimal("17.5"))]
        assert first == again
        count = StockChange(
            flour,
            self.subject.location_id,
            Decimal(12),
            datetime.now(UTC),
            kind=StockChangeKind.PHYSICAL_COUNT,
            to_state="in_stock",
        )
        await world.connector.change_stock([count], idempotency_key="lvm-stock-2")
        page = await world.connector.stock_counts(item_ids=[flour], location_ids=[self.subject.location_id])
        assert [(c.item_id, c.quantity) for c in page.items] == [(flour, Decimal(12))]

    async def test_rate_limit_and_server_error_are_retried_for_reads(self, world: PosWorld) -> None:
        world.simulator.faults.rate_limited[self.subject.sales_path] = 1
        world.simulator.faults.server_errors[self.subject.sales_path] = 1
        dish = world.simulator.add_item("Soupe", 900)
        order = world.simulator.add_order([(dish, 1)])
        page = await world.connector.search_sales(location_ids=[self.subject.location_id], updated_since=None)
        assert [s.id for s in page.items] == [order]
        assert world.simulator.requests[self.subject.sales_path] == 3

    async def test_page_of_another_shape_is_an_error_not_an_empty_page(self, world: PosWorld) -> None:
        world.simulator.add_order([(world.simulator.add_item("Soupe", 900), 1)])
        world.simulator.faults.malformed[self.subject.sales_path] = 1
        with pytest.raises(ConnectorError) as caught:
            await world.connector.search_sales(location_ids=[self.subject.location_id], updated_since=None)
        assert caught.value.code == "provider_unreadable_answer"

    async def test_wrong_credentials(self, world: PosWorld) -> None:
        connector = self.subject.bad_connector(world.base_url)
        try:
            with pytest.raises(AuthError):
                await connector.list_locations()
        finally:
            await connector.aclose()

    async def test_webhooks_verified_over_raw_bytes(self, world: PosWorld) -> None:
        url = "https://cauri.example/restaurant/webhooks/square"
        body = world.simulator.event_body(
            self.subject.order_event,
            {"type": "order", "id": "ORD1", "object": {"order_updated": {"order_id": "ORD1", "state": "OPEN"}}},
        )
        headers = world.simulator.signed(url, body)
        event = world.connector.parse_webhook(headers=headers, body=body, url=url)
        assert (event.kind, event.object_ids) == ("sales", ("ORD1",))
        assert event.event_id == json.loads(body)["event_id"]
        tampered = body.replace(b"ORD1", b"ORD2")
        forged: list[tuple[Mapping[str, str], bytes, str]] = [
            (headers, tampered, url),  # body changed
            (headers, body, url + "?x=1"),  # signed for another URL
            ({"content-type": "application/json"}, body, url),  # no signature
        ]
        for forged_headers, forged_body, forged_url in forged:
            with pytest.raises(InvalidSignature):
                world.connector.parse_webhook(headers=forged_headers, body=forged_body, url=forged_url)


# -- suppliers ----------------------------------------------------------------------------------------------------


class SupplierHarness(Protocol):
    """A supplier connector with the supplier's side behind it (a simulator, or the e-mails sent)."""

    @property
    def connector(self) -> SupplierConnector: ...

    def add_product(
        self, sku: str, name: str, unit: str, pack_size: str, price: int, *, available: bool = True
    ) -> None:
        """Make the supplier sell a product (in the restaurant's list of it, for a channel without catalogue)."""

    def orders_received(self, reference: str) -> int:
        """How many orders with our reference reached the supplier (1 at most, whatever the retries)."""

    def fail_after_next_order(self) -> bool:
        """Make the next order be taken, then its answer lost (a 500); False for a channel without answers."""


@dataclass(frozen=True)
class SupplierUnderTest:
    harness: Callable[[], contextlib.AbstractAsyncContextManager[SupplierHarness]]
    catalogue_pages: bool  # the supplier pages its catalogue (more than 50 products: two pages)


def _order(reference: str, sku: str, packs: int = 2, price: int = 690) -> SupplierOrderRequest:
    return SupplierOrderRequest(
        reference=reference,
        lines=(SupplierOrderLine(sku, packs, "Farine T55 10 kg", price),),
        currency="EUR",
        buyer_name="Le Vieux Moulin",
    )


class SupplierConnectorContract:
    subject: ClassVar[SupplierUnderTest]

    @pytest.fixture
    async def harness(self) -> AsyncIterator[SupplierHarness]:
        async with self.subject.harness() as harness:
            yield harness

    async def test_catalogue_search_and_availability(self, harness: SupplierHarness) -> None:
        count = 60 if self.subject.catalogue_pages else 3
        for n in range(count):
            harness.add_product(f"SKU-{n:03d}", f"Produit {n:03d}", "kg", "1", 100 + n)
        harness.add_product("TG-FAR-10", "Farine T55 10 kg", "kg", "10", 690)
        harness.add_product("TG-SAF-1", "Safran en filaments", "kg", "0.001", 1200, available=False)
        seen: list[SupplierProduct] = []
        cursor: str | None = None
        while True:
            page = await harness.connector.catalog(cursor=cursor)
            seen.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                break
        assert len({p.sku for p in seen}) == count + 2 == len(seen)
        flour = next(p for p in seen if p.sku == "TG-FAR-10")
        assert (flour.pack_size, flour.price, flour.currency, flour.unit) == (Decimal(10), 690, "EUR", "kg")
        assert [p.sku for p in await harness.connector.search("farine t55")] == ["TG-FAR-10"]
        assert await harness.connector.availability(["TG-FAR-10", "TG-SAF-1", "NOPE"]) == {
            "TG-FAR-10": True,
            "TG-SAF-1": False,
            "NOPE": False,  # a product the supplier does not name is not available
        }

    async def test_an_order_reaches_the_supplier_once(self, harness: SupplierHarness) -> None:
        harness.add_product("TG-FAR-10", "Farine T55 10 kg", "kg", "10", 690)
        placed = await harness.connector.place_order(_order("LVM-T-1", "TG-FAR-10"))
        assert placed.reference == "LVM-T-1"
        assert placed.status in (SupplierOrderStatus.SENT, SupplierOrderStatus.CONFIRMED)
        assert (placed.total, placed.currency) == (1380, "EUR")
        again = await harness.connector.place_order(_order("LVM-T-1", "TG-FAR-10"))
        assert again.reference == placed.reference
        assert harness.orders_received("LVM-T-1") == 1

    async def test_a_lost_answer_is_retried_without_a_second_order(self, harness: SupplierHarness) -> None:
        harness.add_product("TG-FAR-10", "Farine T55 10 kg", "kg", "10", 690)
        if not harness.fail_after_next_order():
            pytest.skip("this channel has no answer to lose")
        placed = await harness.connector.place_order(_order("LVM-T-2", "TG-FAR-10"))
        assert placed.reference == "LVM-T-2"
        assert harness.orders_received("LVM-T-2") == 1
