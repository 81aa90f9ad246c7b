"""Blocking use of the async connectors, for scripts and standalone clients without asyncio.

Choice: one private event loop in a daemon thread runs the *same* async code (retries, breaker, OAuth cache,
logging) instead of a second implementation over ``httpx.Client``. A blocking call submits the coroutine to that
loop and waits for its result. Everything an object touches (its ``httpx.AsyncClient``) is created lazily on
that loop, so an object used through this facade must only be used through it.

    from cauri.connectors.sync import SyncConnector
    connector = SyncConnector(build_sandbox(...))
    payment = connector.collect(CollectRequest(...))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

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

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="cauri-connectors-sync", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread


_RUNNER = _LoopThread()


def run_sync(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on the private connector loop and wait for its result (exceptions propagate)."""
    if _RUNNER.in_loop_thread():
        coroutine.close()
        raise RuntimeError("run_sync() called from the connector loop itself: await the coroutine instead")
    future = asyncio.run_coroutine_threadsafe(coroutine, _RUNNER.loop())
    return future.result(timeout)


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
