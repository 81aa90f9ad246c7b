"""Blocking use of the async connectors, for scripts and standalone clients without asyncio.

The private event loop and ``run_sync`` are the kit's (``cauri.kit.standalone``); this module offers the
:class:`PaymentConnector` interface over them.

    from cauri.connectors.sync import SyncConnector
    connector = SyncConnector(build_sandbox(...))
    payment = connector.collect(CollectRequest(...))
"""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import (
    AccountHolder,
    Balance,
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.kit.standalone import run_sync

__all__ = ["SyncConnector", "run_sync"]


class SyncConnector:
    """The :class:`PaymentConnector` interface, blocking."""

    def __init__(self, connector: PaymentConnector) -> None:
        self.connector = connector

    @property
    def name(self) -> str:
        return self.connector.name

    def supports(self, capability: Capability) -> bool:
        return self.connector.supports(capability)

    def collect(self, request: CollectRequest) -> ProviderPayment:
        return run_sync(self.connector.collect(request))

    def payout(self, request: PayoutRequest) -> ProviderPayment:
        return run_sync(self.connector.payout(request))

    def collect_status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        return run_sync(self.connector.collect_status(reference, provider_reference))

    def payout_status(self, reference: str, provider_reference: str | None = None) -> ProviderPayment:
        return run_sync(self.connector.payout_status(reference, provider_reference))

    def balance(self, currency: str) -> Balance:
        return run_sync(self.connector.balance(currency))

    def account_holder(self, phone: str) -> AccountHolder:
        return run_sync(self.connector.account_holder(phone))

    def refund(self, request: RefundRequest) -> ProviderPayment:
        return run_sync(self.connector.refund(request))

    def verify_callback(self, headers: Mapping[str, str], raw_body: bytes, now: float | None = None) -> None:
        self.connector.verify_callback(headers, raw_body, now)

    def parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
        return self.connector.parse_callback(headers, raw_body)

    def close(self) -> None:
        run_sync(self.connector.aclose())

    def __enter__(self) -> SyncConnector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
