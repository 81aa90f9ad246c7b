"""What every provider simulator shares: its knobs, its accounts, its callback sender, its test interface and
:class:`SimulatorBase`, the preamble each one would otherwise repeat (counting and pausing requests, opening
balances, the outcome table's fault injection, settling later, delivering callbacks).

A simulator is an ASGI app speaking one provider's wire format, with its own accounts so a test can check what
the "provider" actually moved. The contract suite (``connectors/contract.py``) drives it through
:class:`SimulatedProvider`; ``cauri simulate <provider>`` serves it for integrators.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, ClassVar, Final, Generic, Literal, Protocol, TypeVar, runtime_checkable

import httpx
import structlog
from starlette.types import ASGIApp

from cauri.kit.outcomes import Outcome, outcome_for

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


def json_object(raw: bytes) -> dict[str, Any] | None:
    """A request body that is a JSON object, or None (not JSON, or another JSON value)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def basic_credentials(header: str) -> tuple[str, str]:
    """``Authorization: Basic …`` -> (user, password); ("", "") for anything else, so a comparison fails."""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def fingerprint(*parts: bytes | str) -> str:
    """What an idempotency key is bound to: a digest of the request's parts (its kind, its body…)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")  # so ("ab", "c") and ("a", "bc") differ
    return digest.hexdigest()


class _KeyReused(Enum):
    REUSED = "reused"


KEY_REUSED: Final = _KeyReused.REUSED
"""What :meth:`IdempotentReplay.recall` returns for a key sent again with another request."""

Answer = TypeVar("Answer")


class IdempotentReplay(Generic[Answer]):
    """Idempotency keys as providers honour them: the first request under a key is remembered with its answer
    (a payment, a response body…); the same key with the same request gets that answer again, the same key with
    another request is refused. Each simulator answers the refusal in its provider's words (409, Mojaloop's
    3106…), so :meth:`recall` only says which case it is."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, Answer]] = {}

    def recall(self, key: str | None, request_fingerprint: str) -> Answer | Literal[_KeyReused.REUSED] | None:
        """The first answer under ``key``; :data:`KEY_REUSED` if it came with another request; None if new."""
        if key is None or key not in self._seen:
            return None
        known_fingerprint, answer = self._seen[key]
        return answer if known_fingerprint == request_fingerprint else KEY_REUSED

    def remember(self, key: str | None, request_fingerprint: str, answer: Answer) -> None:
        """Bind ``key`` (when the request carried one) to this request and its answer; the first binding stays."""
        if key is not None:
            self._seen.setdefault(key, (request_fingerprint, answer))

    def __contains__(self, key: object) -> bool:
        return key in self._seen


class Fault(StrEnum):
    """A failure the outcome table injects into a create request; each simulator answers it in its provider's
    words (status code, error body)."""

    RATE_LIMITED = "rate_limited"  # 429 with Retry-After, first attempt only
    UNAVAILABLE = "unavailable"  # 503 before processing, ``failing_attempts`` times
    ERROR_AFTER_PROCESSING = "error_after_processing"  # 500 although the payment was created, first attempt only


class SimulatorBase:
    """The parts of a provider simulator that do not depend on the provider.

    A subclass builds its Starlette app into ``self._app``, keeps its own payments, and calls these steps from its
    endpoints, in the order its provider does them:

    * :meth:`_enter` counts a request under its label and adds the configured latency (then the subclass
      authorises it, its own way);
    * :meth:`_attempt` counts a create for our reference (what :meth:`attempts` reports);
    * :meth:`_refusal`, :meth:`_take_time` and :meth:`_after_accepting` inject the outcome table's faults;
    * :meth:`_settle_later` settles (or expires) a payment in the background, :meth:`_deliver` sends its callback
      as the outcome says (never, late, twice).

    Opening balances: a house account (:meth:`_house_balance`) opens with what the subclass says, every phone
    number with ``subscriber_float``, except the numbers whose outcome is insufficient funds, which open empty.
    """

    subscriber_float: ClassVar[int] = 100_000_000
    _app: ASGIApp

    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        self.settings = settings or SimulatorSettings()
        self.accounts = SimulatedAccounts(self._opening_balance)
        self.create_attempts: Counter[str] = Counter()  # our reference -> create requests received
        self.requests: Counter[str] = Counter()  # "METHOD /path" -> requests received
        self.tasks = BackgroundTasks()
        self.callbacks = CallbackSender(self.settings)

    # -- test interface (SimulatedProvider) ----------------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        return self._app

    def attempts(self, reference: str) -> int:
        return self.create_attempts[reference]

    async def aclose(self) -> None:
        await self.tasks.aclose()
        await self.callbacks.aclose()

    # -- balances ------------------------------------------------------------------------------------------------

    def _house_balance(self, owner: str) -> int | None:
        """The opening balance of the provider's own accounts (the merchant's…); None for a phone number."""
        return None

    def _opening_balance(self, owner: str, currency: str) -> int:
        house = self._house_balance(owner)
        if house is not None:
            return house
        return 0 if outcome_for(owner) is Outcome.INSUFFICIENT_FUNDS else self.subscriber_float

    # -- the steps of a request ----------------------------------------------------------------------------------

    async def _pause(self) -> None:
        if self.settings.latency_seconds > 0:
            await asyncio.sleep(self.settings.latency_seconds)

    async def _enter(self, label: str) -> None:
        self.requests[label] += 1
        await self._pause()

    def _attempt(self, reference: str) -> int:
        """Count one create request for ``reference``; the attempt's number (1 for the first)."""
        self.create_attempts[reference] += 1
        return self.create_attempts[reference]

    def _refusal(self, outcome: Outcome, attempt: int) -> Fault | None:
        """The fault that refuses this create before the provider does anything, if the outcome asks for one."""
        if outcome is Outcome.RATE_LIMITED and attempt == 1:
            return Fault.RATE_LIMITED
        if outcome is Outcome.UNAVAILABLE and attempt <= self.settings.failing_attempts:
            return Fault.UNAVAILABLE
        return None

    def _retry_after(self) -> dict[str, str]:
        return {"Retry-After": str(self.settings.retry_after_seconds)}

    async def _take_time(self, outcome: Outcome) -> None:
        if outcome is Outcome.SLOW:
            await asyncio.sleep(self.settings.slow_seconds)

    async def _after_accepting(self, outcome: Outcome, attempt: int) -> Fault | None:
        """Once the payment exists: hang past the client's timeout, or fail the first answer, as the outcome says."""
        if outcome is Outcome.TIMEOUT_AFTER_ACCEPT:
            await asyncio.sleep(self.settings.hang_seconds)
        if outcome is Outcome.ERROR_AFTER_PROCESSING and attempt == 1:
            return Fault.ERROR_AFTER_PROCESSING
        return None

    # -- after the answer ----------------------------------------------------------------------------------------

    async def _settle_later(self, outcome: Outcome, *, settle: Callable[[], None], expire: Callable[[], None]) -> None:
        """The payer confirms after ``settle_seconds`` (``settle``), or never and it expires (``expire``)."""
        if outcome is Outcome.EXPIRES:
            await asyncio.sleep(self.settings.expiry_seconds)
            expire()
        else:
            await asyncio.sleep(self.settings.settle_seconds)
            settle()

    async def _deliver(
        self,
        outcome: Outcome,
        url: str | None,
        body: bytes,
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]],
        *,
        method: str = "POST",
    ) -> None:
        """Send a callback as the outcome says: not at all, late, or twice (the receiver must deduplicate).
        ``headers`` may be a function, called when the callback leaves: a timestamped signature is made then."""
        if url is None or outcome is Outcome.NO_CALLBACK:
            return
        if outcome is Outcome.LATE_CALLBACK:
            await asyncio.sleep(self.settings.late_callback_seconds)
        for _ in range(2 if outcome is Outcome.DUPLICATED_CALLBACK else 1):
            await self.callbacks.send(url, body, headers() if callable(headers) else headers, method=method)
