"""Every supplier channel passes the supplier contract: the generic API profile (Metro's and Pomona's paths) against
its simulator over loopback HTTP, and the e-mail/EDI channel."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from pydantic import SecretStr

from cauri.connectors.restaurant.base import SupplierConnector, SupplierOrderRequest, SupplierProduct
from cauri.connectors.restaurant.contract import SupplierConnectorContract, SupplierHarness, SupplierUnderTest
from cauri.connectors.restaurant.suppliers.email import EmailSupplierConnector, edi_orders
from cauri.connectors.restaurant.suppliers.generic import GenericSupplierConnector
from cauri.connectors.restaurant.suppliers.simulator import SupplierSimulator
from cauri.kit.http import HttpPolicy
from cauri.kit.testing import serve_app

POLICY = HttpPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)


class ApiHarness:
    def __init__(self, simulator: SupplierSimulator, connector: GenericSupplierConnector) -> None:
        self.simulator = simulator
        self._connector = connector

    @property
    def connector(self) -> SupplierConnector:
        return self._connector

    def add_product(
        self, sku: str, name: str, unit: str, pack_size: str, price: int, *, available: bool = True
    ) -> None:
        self.simulator.add_product(sku, name, unit, pack_size, price, available=available)

    def orders_received(self, reference: str) -> int:
        return self.simulator.created(reference)

    def fail_after_next_order(self) -> bool:
        self.simulator.faults.error_after_order = 1
        return True


def api_harness(name: str) -> contextlib.AbstractAsyncContextManager[SupplierHarness]:
    @contextlib.asynccontextmanager
    async def served() -> AsyncIterator[SupplierHarness]:
        simulator = SupplierSimulator(name, api_key="sup-key")
        async with serve_app(simulator.app) as url:
            connector = GenericSupplierConnector(
                provider=name, base_url=url, api_key=SecretStr("sup-key"), policy=POLICY
            )
            try:
                yield ApiHarness(simulator, connector)
            finally:
                await connector.aclose()

    return served()


class EmailHarness:
    def __init__(self) -> None:
        self.products: list[SupplierProduct] = []
        self.sent: list[tuple[str, str, str]] = []

        async def send(order: SupplierOrderRequest, text: str, edi: str) -> None:
            if all(reference != order.reference for reference, _, _ in self.sent):  # notify() dedupes per order
                self.sent.append((order.reference, text, edi))

        self._connector = EmailSupplierConnector(provider="pomona", send=send, products=self.products)

    @property
    def connector(self) -> SupplierConnector:
        return self._connector

    def add_product(
        self, sku: str, name: str, unit: str, pack_size: str, price: int, *, available: bool = True
    ) -> None:
        self._connector._products.append(SupplierProduct(sku, name, unit, Decimal(pack_size), price, "EUR", available))

    def orders_received(self, reference: str) -> int:
        return sum(1 for sent, _, _ in self.sent if sent == reference)

    def fail_after_next_order(self) -> bool:
        return False


@contextlib.asynccontextmanager
async def email_harness() -> AsyncIterator[SupplierHarness]:
    yield EmailHarness()


class TestMetroProfileContract(SupplierConnectorContract):
    subject = SupplierUnderTest(harness=lambda: api_harness("metro"), catalogue_pages=True)


class TestPomonaProfileContract(SupplierConnectorContract):
    subject = SupplierUnderTest(harness=lambda: api_harness("pomona"), catalogue_pages=True)


class TestEmailChannelContract(SupplierConnectorContract):
    subject = SupplierUnderTest(harness=email_harness, catalogue_pages=False)


def test_edi_orders_message_carries_reference_lines_and_prices() -> None:
    from cauri.connectors.restaurant.base import SupplierOrderLine

    order = SupplierOrderRequest("LVM-E-1", (SupplierOrderLine("POM-TOM-5", 3, "Tomates 5 kg", 1250),), "EUR")
    message = edi_orders(order).splitlines()
    assert message[0] == "UNH+LVM-E-1+ORDERS:D:96A:UN:EAN008'"
    assert "LIN+1++POM-TOM-5:SA'" in message and "QTY+21:3'" in message and "PRI+AAA:12.50'" in message
    assert message[-1] == f"UNT+{len(message)}+LVM-E-1'"  # UNT counts every segment from UNH to UNT
