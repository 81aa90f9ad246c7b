"""Rate limits and circuit breakers: in this process by default, shared by every process through Redis.

Two facilities behind one store (:class:`LimitStore`):

* a **moving-window rate limit**: at most ``amount`` calls in any ``window`` seconds under a key;
  :meth:`LimitStore.reserve` counts the call and answers 0, or answers how long to wait before asking again;
* a **circuit breaker** per key (closed → open after ``threshold`` consecutive failures → half-open after
  ``reset_seconds``, letting one probe through; a success closes it, a failure re-opens it).

:class:`MemoryLimits` keeps both in this process (thread-safe: the blocking facade runs connectors on an event loop
of its own, so nothing here may be bound to one loop). :class:`RedisLimits` keeps them in Redis
(``CAURI_REDIS_URL``, see :attr:`Settings.shared_redis_url`), so four API processes and three workers sharing one
credential never exceed its limit together, and all refuse calls the moment one of them opens the breaker:

* the rate limit is the `limits` library's moving window on its Redis storage (one Lua script per hit, atomic;
  timed by the callers' clocks, which NTP keeps within milliseconds of each other);
* the breaker is a Redis hash changed only by the Lua scripts below (atomic across processes), timed by the
  Redis server's clock (``TIME``), so an open-until time means the same for every process.

Which store the connectors use is a process-wide choice: :func:`install_limits` (called by the app's lifespan
and by ``cauri worker``/``scheduler``) sets it, :func:`limit_store` reads it. The kit reads the registry at call
time, so HTTP clients built before start-up follow it; a client may also be given a store explicitly.

A Redis outage must not stop payments: a Redis store that cannot reach Redis falls back to its own in-process
store (limits then hold per process only) and logs ``limits_redis_unavailable``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from cauri.core.config import Settings

log = structlog.get_logger(__name__)

# A breaker's counters are kept this long after their last change (Redis), then forgotten: a credential nobody
# has used for a day starts closed.
BREAKER_MEMORY_MS = 86_400_000
# The least a refused caller waits before asking again (another process may take a slot that just freed).
MIN_WAIT_SECONDS = 0.005


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class LimitStore(Protocol):
    """Where rate-limit windows and breaker states live. Keys are opaque strings chosen by the caller."""

    shared: bool  # True when every process sees the same counters

    async def reserve(self, key: str, amount: int, window: float) -> float:
        """0 when a call may go now (and counts it); otherwise the seconds to wait before asking again."""
        ...

    async def breaker_before_call(self, key: str, reset_seconds: float) -> float | None:
        """None when a call may go (closed, or this caller is the half-open probe); else seconds until a probe."""
        ...

    async def breaker_failure(self, key: str, threshold: int, reset_seconds: float) -> bool:
        """Count a failure; True when the circuit is open after it."""
        ...

    async def breaker_success(self, key: str) -> None:
        """Close the circuit and clear its failures."""
        ...

    async def breaker_state(self, key: str) -> BreakerState: ...

    async def forget(self, prefix: str) -> None:
        """Drop every window and breaker whose key starts with ``prefix``."""
        ...

    async def close(self) -> None: ...


@dataclass
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probe_at: float | None = None  # when the half-open probe was let through; None: no probe out


@dataclass
class MemoryLimits:
    """This process's windows and breakers (the default). Thread-safe: connectors may run in several threads."""

    shared: bool = False
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve_now(self, key: str, amount: int, window: float) -> float:
        with self._lock:
            calls = self._windows.setdefault(key, deque())
            now = time.monotonic()
            while calls and now - calls[0] >= window:
                calls.popleft()
            if len(calls) < amount:
                calls.append(now)
                return 0.0
            return calls[0] + window - now

    async def reserve(self, key: str, amount: int, window: float) -> float:
        return self.reserve_now(key, amount, window)

    async def breaker_before_call(self, key: str, reset_seconds: float) -> float | None:
        with self._lock:
            breaker = self._breakers.setdefault(key, _Breaker())
            if breaker.state is BreakerState.CLOSED:
                return None
            now = time.monotonic()
            if breaker.state is BreakerState.OPEN and now - breaker.opened_at >= reset_seconds:
                breaker.state = BreakerState.HALF_OPEN
                breaker.probe_at = None
            # A probe that never reported (its caller vanished) must not keep the circuit open for ever.
            probe_free = breaker.probe_at is None or now - breaker.probe_at >= reset_seconds
            if breaker.state is BreakerState.HALF_OPEN and probe_free:
                breaker.probe_at = now
                return None
            return max(reset_seconds - (now - breaker.opened_at), 0.0)

    async def breaker_failure(self, key: str, threshold: int, reset_seconds: float) -> bool:
        with self._lock:
            breaker = self._breakers.setdefault(key, _Breaker())
            breaker.failures += 1
            if breaker.state is BreakerState.HALF_OPEN or breaker.failures >= threshold:
                breaker.state = BreakerState.OPEN
                breaker.opened_at = time.monotonic()
                breaker.probe_at = None
            return breaker.state is BreakerState.OPEN

    async def breaker_success(self, key: str) -> None:
        with self._lock:
            self._breakers[key] = _Breaker()

    async def breaker_state(self, key: str) -> BreakerState:
        with self._lock:
            breaker = self._breakers.get(key)
            return breaker.state if breaker is not None else BreakerState.CLOSED

    async def forget(self, prefix: str) -> None:
        with self._lock:
            for table in (self._windows, self._breakers):
                for key in [key for key in table if key.startswith(prefix)]:
                    del table[key]

    async def close(self) -> None:
        """Nothing to release: the counters stay for the process's lifetime."""


# KEYS[1] the breaker (a hash: state, failures, opened_at, probe_at in ms); ARGV reset in ms.
# Answers -1 (go) or the ms until a probe may go.
_BEFORE_CALL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reset = tonumber(ARGV[1])
local row = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probe_at')
local state = row[1] or 'closed'
if state == 'closed' then return -1 end
local opened = tonumber(row[2]) or 0
local probe = tonumber(row[3]) or 0
if state == 'open' and now - opened >= reset then
  state = 'half_open'
  probe = 0
  redis.call('HSET', KEYS[1], 'state', state, 'probe_at', 0)
end
if state == 'half_open' and (probe == 0 or now - probe >= reset) then
  redis.call('HSET', KEYS[1], 'probe_at', now)
  return -1
end
return math.max(reset - (now - opened), 0)
"""

# KEYS[1] the breaker; ARGV threshold, how long to remember it (ms). Answers 1 when open after the failure.
_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state')
local opened = 0
if state == 'half_open' or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probe_at', 0)
  opened = 1
elseif state == 'open' then
  opened = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return opened
"""


class RedisLimits:
    """Windows under ``<namespace>:limits:rate:<key>``, breakers under ``<namespace>:limits:breaker:<key>``."""

    shared = True

    def __init__(self, url: str, namespace: str = "cauri") -> None:
        self.url = url
        self._rate_prefix = f"{namespace}:limits:rate"  # the `limits` storage adds ":LIMITER/<key>/…"
        self._breaker_prefix = f"{namespace}:limits:breaker:"
        self.fallback = MemoryLimits()
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._windows: MovingWindowRateLimiter
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> dict[str, Any]:
        # A redis.asyncio connection belongs to the event loop that opened it: a new loop gets a new client.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as redis

            self._client = redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)
            # The windows' storage shares this client's connections: closing the client releases both.
            pool = self._client.connection_pool
            storage = limits_storage(self.url, key_prefix=self._rate_prefix, connection_pool=pool)
            self._windows = MovingWindowRateLimiter(storage)
            self._loop = loop
            self._scripts = {
                name: self._client.register_script(text)
                for name, text in (("before", _BEFORE_CALL), ("failure", _FAILURE))
            }
        return self._scripts

    async def _run(self, script: str, key: str, *args: Any) -> int | None:
        """The script's answer, or None when Redis cannot be reached (the caller then uses the fallback)."""
        from redis.exceptions import RedisError

        try:
            return int(await self._redis()[script](keys=[key], args=list(args)))
        except (RedisError, OSError) as exc:
            log.warning("limits_redis_unavailable", error=type(exc).__name__)
            return None

    async def reserve(self, key: str, amount: int, window: float) -> float:
        self._redis()
        item = RateLimitItemPerSecond(amount, max(1, round(window)))
        try:
            if await self._windows.hit(item, key):
                return 0.0
            stats = await self._windows.get_window_stats(item, key)
        except StorageError as exc:
            log.warning("limits_redis_unavailable", error=type(exc.storage_error).__name__)
            return await self.fallback.reserve(key, amount, window)
        # The oldest call in the window leaves it at reset_time; a hair later if another process just took the slot.
        return max(stats.reset_time - time.time(), MIN_WAIT_SECONDS)

    async def breaker_before_call(self, key: str, reset_seconds: float) -> float | None:
        answer = await self._run("before", self._breaker_prefix + key, int(reset_seconds * 1000))
        if answer is None:
            return await self.fallback.breaker_before_call(key, reset_seconds)
        return None if answer < 0 else answer / 1000

    async def breaker_failure(self, key: str, threshold: int, reset_seconds: float) -> bool:
        answer = await self._run("failure", self._breaker_prefix + key, threshold, BREAKER_MEMORY_MS)
        if answer is None:
            return await self.fallback.breaker_failure(key, threshold, reset_seconds)
        return answer == 1

    async def breaker_success(self, key: str) -> None:
        from redis.exceptions import RedisError

        self._redis()
        try:
            await self._client.delete(self._breaker_prefix + key)
        except (RedisError, OSError) as exc:
            log.warning("limits_redis_unavailable", error=type(exc).__name__)
            await self.fallback.breaker_success(key)

    async def breaker_state(self, key: str) -> BreakerState:
        self._redis()
        state = await self._client.hget(self._breaker_prefix + key, "state")
        return BreakerState(state.decode()) if state else BreakerState.CLOSED

    async def forget(self, prefix: str) -> None:
        self._redis()
        for start in (f"{self._rate_prefix}:LIMITER/", self._breaker_prefix):
            # Keys are "<provider>:<fingerprint>"-like: escape glob characters a caller's prefix may hold.
            pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in start + prefix) + "*"
            async for name in self._client.scan_iter(match=pattern, count=500):
                await self._client.delete(name)
        await self.fallback.forget(prefix)

    async def close(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None


def limits_storage(url: str | None, *, key_prefix: str | None = None, **options: Any) -> Storage:
    """A `limits` storage: in memory when ``url`` is empty, else Redis (or any URL `limits` knows).

    ``wrap_exceptions``: an outage surfaces as limits' ``StorageError``, which each caller answers its own way.
    """
    if key_prefix:
        options["key_prefix"] = key_prefix
    if not url:
        storage = storage_from_string("async+memory://")
    elif url.startswith(("redis://", "rediss://")):
        storage = storage_from_string(f"async+{url}", implementation="redispy", wrap_exceptions=True, **options)
    else:
        storage = storage_from_string(url, wrap_exceptions=True, **options)
    assert isinstance(storage, Storage)
    return storage


def make_limit_store(settings: Settings) -> LimitStore:
    """Redis when one is shared by the processes, memory otherwise."""
    url = settings.shared_redis_url
    if url:
        return RedisLimits(url, settings.redis_namespace)
    return MemoryLimits()


_PROCESS_STORE: list[LimitStore] = [MemoryLimits()]


def limit_store() -> LimitStore:
    """The store this process's connectors use now."""
    return _PROCESS_STORE[-1]


def use_limit_store(store: LimitStore) -> LimitStore:
    """Make ``store`` the process's store; returns the one it replaces (to restore it later)."""
    previous = _PROCESS_STORE[-1]
    _PROCESS_STORE[-1] = store
    return previous


@dataclass(frozen=True)
class InstalledLimits:
    store: LimitStore
    previous: LimitStore


def install_limits(settings: Settings) -> InstalledLimits | None:
    """At start-up: share limits through Redis when configured. None when nothing was installed.

    Without Redis nothing changes: the process keeps its memory store (and the breakers it already knows).
    """
    store = make_limit_store(settings)
    if not store.shared:
        return None
    return InstalledLimits(store, use_limit_store(store))


async def uninstall_limits(installed: InstalledLimits | None) -> None:
    """At shutdown: close what :func:`install_limits` installed, and put the previous store back if it is still
    the process's (two apps in one process, as tests run them, may stop in any order)."""
    if installed is None:
        return
    if limit_store() is installed.store:
        use_limit_store(installed.previous)
    await installed.store.close()
