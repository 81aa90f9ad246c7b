"""What every provider simulator shares: its knobs, its accounts, its callback sender and its test interface.

A simulator is an ASGI app speaking one provider's wire format, with its own accounts so a test can check what
the "provider" actually moved. The contract suite (``connectors/contract.py``) drives it through
:class:`SimulatedProvider`; ``cauri simulate <provider>`` serves it for integrators.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx
import structlog
from starlette.types import ASGIApp

log = structlog.get_logger("cauri.kit.simulation")


@dataclass(frozen=True)
class SimulatorSettings:
    """Timings of the simulated outcomes (seconds). Tests shorten them; ``cauri simulate`` takes flags."""

    latency_seconds: float = 0.0  # added to every answer
    slow_seconds: float = 3.0  # the "slow" outcome answers after this
    hang_seconds: float = 35.0  # the "timeout after accepting" outcome answers after this (beyond a client timeout)
    settle_seconds: float = 0.2  # how long the payer takes to confirm
    expiry_seconds: float = 2.0  # the "expires" outcome expires after this
    late_callback_seconds: float = 5.0  # the "late callback" outcome sends it after this
    retry_after_seconds: int = 1  # the 429 outcome's Retry-After
    failing_attempts: int = 2  # the 503 outcome fails this many attempts before serving
    callback_attempts: int = 3  # deliveries tried while the receiver answers non-2xx
    token_lifetime_seconds: int = 3600  # OAuth modes
    token_latency_seconds: float = 0.0  # OAuth modes: delay of the token endpoint


@runtime_checkable
class SimulatedProvider(Protocol):
    """The test interface of a simulator: what the contract suite checks on the provider's side."""

    settings: SimulatorSettings

    @property
    def app(self) -> ASGIApp: ...

    def created(self, reference: str) -> int:
        """How many payments the provider created for our reference (1 at most, whatever the retries)."""

    def attempts(self, reference: str) -> int:
        """How many create requests reached the provider for our reference."""

    def collected(self, reference: str) -> int:
        """Minor units that left the payer for this collection (0 unless it succeeded)."""

    def paid_out(self, reference: str) -> int:
        """Minor units the payee received for this payout (0 unless it succeeded)."""

    def merchant_balance(self, currency: str) -> int:
        """The merchant's available balance at the provider."""

    async def aclose(self) -> None:
        """Stop background settlement and callback tasks."""


class SimulatedAccounts:
    """A tiny double-entry book: every movement debits one wallet and credits another."""

    def __init__(self, opening: Callable[[str, str], int]) -> None:
        self._opening = opening
        self._balances: dict[tuple[str, str], int] = {}
        self.movements: list[tuple[str, str, str, int, str]] = []  # (debit, credit, currency, amount, memo)

    def balance(self, owner: str, currency: str) -> int:
        key = (owner, currency)
        if key not in self._balances:
            self._balances[key] = self._opening(owner, currency)
        return self._balances[key]

    def can_pay(self, owner: str, currency: str, amount: int) -> bool:
        return self.balance(owner, currency) >= amount

    def move(self, debit: str, credit: str, currency: str, amount: int, memo: str) -> None:
        if amount <= 0:
            return
        self._balances[(debit, currency)] = self.balance(debit, currency) - amount
        self._balances[(credit, currency)] = self.balance(credit, currency) + amount
        self.movements.append((debit, credit, currency, amount, memo))

    def moved(self, memo: str, *, credit: str | None = None, debit: str | None = None) -> int:
        return sum(
            amount
            for d, c, _currency, amount, m in self.movements
            if m == memo and (credit is None or c == credit) and (debit is None or d == debit)
        )

    def snapshot(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (owner, currency), amount in self._balances.items():
            out[owner][currency] = amount
        return dict(out)


@dataclass
class BackgroundTasks:
    """Tasks a simulator starts (settlements, callbacks); all cancelled by :meth:`aclose`."""

    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def start(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


class CallbackSender:
    """POSTs (or PUTs) callbacks like a provider: retried a few times while the receiver does not answer 2xx."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.delivered: list[tuple[str, bytes]] = []
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        return self._client

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], *, method: str = "POST") -> bool:
        for attempt in range(1, self.settings.callback_attempts + 1):
            try:
                response = await self._http().request(method, url, content=body, headers=dict(headers))
            except httpx.HTTPError as exc:
                log.info("simulator_callback_failed", url=url, attempt=attempt, error=type(exc).__name__)
            else:
                if response.is_success:
                    self.delivered.append((url, body))
                    return True
                log.info("simulator_callback_refused", url=url, attempt=attempt, status=response.status_code)
            await asyncio.sleep(0.2 * attempt)
        return False

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
