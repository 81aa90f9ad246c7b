"""Rate limits and circuit breakers that hold across processes (Redis), and the same rules in one process (memory).

The multi-process tests start real Python processes (``tests/connectors/limits_process.py``), each with its own
HTTP client and the same credential, calling one provider double served by this test on 127.0.0.1; the double
records when each call arrived. Each test uses a Redis namespace of its own, so parallel workers never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from cauri.app import create_app
from cauri.core.limits import BreakerState, LimitStore, MemoryLimits, RedisLimits, limit_store
from cauri.kit.auth import ApiKeyHeader
from cauri.kit.errors import Unavailable
from cauri.kit.http import CircuitBreaker, RateLimit
from cauri.kit.testing import free_port, serve_app
from tests.conftest import make_settings, service_url
from tests.connectors.provider_double import ProviderDouble
from tests.support.waiting import until

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # four interpreters importing the kit on a busy two-core machine
ANSWER_TIMEOUT = 30.0


def _namespace() -> str:
    return f"test-limits-{uuid.uuid4().hex[:10]}"


class Caller:
    """One real process making calls through its own ``ProviderHttpClient`` (see limits_process.py)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def _line(self, within: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        assert line, f"the caller process {self.process.pid} ended (exit {self.process.returncode})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ready(self) -> dict[str, Any]:
        return await self._line(START_TIMEOUT)

    def send(self, path: str, count: int = 1) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"path": path, "count": count}) + "\n").encode())

    async def answer(self) -> dict[str, Any]:
        return await self._line(ANSWER_TIMEOUT)

    async def call(self, path: str, count: int = 1) -> dict[str, Any]:
        self.send(path, count)
        return await self.answer()


@dataclass
class Group:
    """Processes sharing one credential; where their breaker lives in Redis (when they use Redis)."""

    callers: list[Caller]
    breaker_key: str


@contextlib.asynccontextmanager
async def callers(count: int, base_url: str, *, redis_url: str | None, policy: dict[str, Any]) -> AsyncIterator[Group]:
    """``count`` processes sharing one credential, started and ready; stopped (by their own handles) at the end."""
    provider, api_key, namespace = f"double-{uuid.uuid4().hex[:8]}", "key-" + uuid.uuid4().hex, _namespace()
    config = {"provider": provider, "base_url": base_url, "api_key": api_key, "policy": policy}
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("CAURI_") or key.startswith("CAURI_TEST")
    }
    environment.update(PYTHONPATH=os.pathsep.join(sys.path), CAURI_ENV="test", CAURI_LOG_LEVEL="WARNING")
    if redis_url:
        environment.update(CAURI_REDIS_URL=redis_url, CAURI_REDIS_NAMESPACE=namespace)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.connectors.limits_process",
            json.dumps(config),
            cwd=REPO,
            env=environment,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(count)
    ]
    started = [Caller(process) for process in processes]
    credential = ApiKeyHeader("X-API-Key", SecretStr(api_key)).cache_key()
    try:
        for caller in started:
            assert (await caller.ready())["shared"] is bool(redis_url)
        yield Group(started, f"{namespace}:limits:breaker:{provider}:{credential}")
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


def busiest(times: list[float], window: float) -> int:
    """The most calls that arrived within any ``window`` seconds."""
    ordered = sorted(times)
    return max((sum(1 for t in ordered[i:] if t - start < window) for i, start in enumerate(ordered)), default=0)


@pytest.fixture
async def double() -> AsyncIterator[tuple[ProviderDouble, str]]:
    provider = ProviderDouble()
    # Connections outlive the tests' pauses (a warm-up of four cold processes takes seconds on a loaded machine):
    # a keep-alive closed under a reused connection would count as a provider error.
    async with serve_app(provider.app, keep_alive=60) as url:
        yield provider, url


LIMIT, WINDOW, PROCESSES, CALLS = 5, 1.0, 4, 5
# The limit is counted when a call is let through; the double sees it a loopback trip later, and those trips vary
# on a loaded machine. A window 20 % shorter than the limit's absorbs that jitter and still catches 4 × 5 at once.
SEEN_WINDOW = WINDOW * 0.8


async def _burst(double: tuple[ProviderDouble, str], redis_url: str | None) -> list[float]:
    provider, url = double
    async with callers(PROCESSES, url, redis_url=redis_url, policy={"rate_limit": f"{LIMIT} per second"}) as group:
        procs = group.callers
        # A process's first call also builds its HTTP client and connection (slow on a cold interpreter), after
        # the limit counted it: warm up first, so the double's clock measures the limit, not start-up time.
        assert [await caller.call("/fail/0/warm-up") for caller in procs] == [{"ok": 1, "errors": []}] * PROCESSES
        for caller in procs:  # every process gets its command before any answers: they all start together
            caller.send("/echo", CALLS)
        answers = [await caller.answer() for caller in procs]
    assert all(answer == {"ok": CALLS, "errors": []} for answer in answers), answers
    return [seen.at for seen in provider.seen if seen.path == "/echo"]


async def test_processes_sharing_a_credential_never_exceed_its_limit_together(
    double: tuple[ProviderDouble, str],
) -> None:
    arrivals = await _burst(double, service_url("redis"))
    assert len(arrivals) == PROCESSES * CALLS
    assert busiest(arrivals, SEEN_WINDOW) <= LIMIT, " ".join(f"{t - min(arrivals):.3f}" for t in sorted(arrivals))
    # 20 calls at 5 a second: the last ones waited for three windows to pass.
    assert max(arrivals) - min(arrivals) >= (PROCESSES * CALLS / LIMIT - 1) * WINDOW * 0.8


async def test_without_redis_each_process_keeps_its_own_limit(double: tuple[ProviderDouble, str]) -> None:
    """The control: the same burst with per-process limits does exceed the credential's limit at the provider."""
    arrivals = await _burst(double, None)
    assert busiest(arrivals, SEEN_WINDOW) > LIMIT


async def test_a_breaker_opened_in_one_process_refuses_calls_in_the_others_and_one_probe_closes_it_for_all(
    double: tuple[ProviderDouble, str],
) -> None:
    provider, url = double
    redis_url = service_url("redis")
    # The pause must outlast the steps that expect the circuit open (a call from each other process): on a loaded
    # machine a second was not enough, and the first of those calls was let through as the probe.
    reset = 4.0
    policy = {"breaker_failures": 3, "breaker_reset_seconds": reset}
    async with callers(3, url, redis_url=redis_url, policy=policy) as group:
        first, second, third = group.callers
        failing = await first.call("/toggle", 3)
        assert failing == {"ok": 0, "errors": ["provider_unavailable"] * 3}, failing
        assert provider.hits["toggle"] == 3

        # At once, in the other processes: refused without reaching the provider.
        for caller in (second, third):
            assert await caller.call("/toggle", 2) == {"ok": 0, "errors": ["provider_circuit_open"] * 2}
        assert provider.hits["toggle"] == 3

        # After the pause, still failing: of three processes asking together, exactly one probe goes through,
        # and its failure re-opens the circuit for all.
        await _probe_due(redis_url, group.breaker_key, reset)
        for caller in (first, second, third):
            caller.send("/toggle")
        answers = [await caller.answer() for caller in (first, second, third)]
        errors = sorted(code for answer in answers for code in answer["errors"])
        assert errors == ["provider_circuit_open", "provider_circuit_open", "provider_unavailable"], answers
        assert provider.hits["toggle"] == 4
        assert await first.call("/toggle") == {"ok": 0, "errors": ["provider_circuit_open"]}

        # Once the provider heals, one probe (from any process) closes the circuit for everyone.
        provider.healthy = True
        await _probe_due(redis_url, group.breaker_key, reset)
        assert await third.call("/toggle") == {"ok": 1, "errors": []}
        for caller in (first, second):
            assert await caller.call("/toggle") == {"ok": 1, "errors": []}
        assert provider.hits["toggle"] == 7


async def _probe_due(redis_url: str, key: str, reset: float) -> None:
    """Wait, without calling (a call would be the probe), until Redis's clock says the open circuit may probe."""
    client = redis.from_url(redis_url)

    async def due() -> bool:
        opened_at = await client.hget(key, "opened_at")
        assert opened_at is not None, "the circuit is open in Redis"
        seconds, microseconds = await client.time()
        return seconds * 1000 + microseconds // 1000 - int(opened_at) >= reset * 1000

    try:
        await until(due, "the open circuit's pause to end", within=reset + 10)
    finally:
        await client.aclose()


# -- the stores themselves, in one process: the same rules in memory and in Redis ------------------------------


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    made: LimitStore = MemoryLimits() if request.param == "memory" else RedisLimits(service_url("redis"), _namespace())
    yield made
    await made.close()


async def test_a_probe_that_never_reports_does_not_keep_the_circuit_open(store: LimitStore) -> None:
    breaker = CircuitBreaker("double", failures=2, reset_seconds=0.2, credential=uuid.uuid4().hex, store=store)
    await breaker.record_failure()
    assert await breaker.state() is BreakerState.CLOSED
    await breaker.record_failure()
    assert await breaker.state() is BreakerState.OPEN
    with pytest.raises(Unavailable) as refused:
        await breaker.before_call()
    assert refused.value.code == "provider_circuit_open"
    await until(_lets_through(breaker), "the half-open probe")
    assert await breaker.state() is BreakerState.HALF_OPEN
    with pytest.raises(Unavailable):
        await breaker.before_call()  # one probe at a time…
    await until(_lets_through(breaker), "a stale probe freeing its slot")  # …until it is stale
    await breaker.record_success()
    assert await breaker.state() is BreakerState.CLOSED
    await breaker.before_call()
    await breaker.before_call()


def _lets_through(breaker: CircuitBreaker) -> Callable[[], Any]:
    async def lets_through() -> bool:
        try:
            await breaker.before_call()
        except Unavailable:
            return False
        return True

    return lets_through


async def test_a_failed_probe_reopens_the_circuit(store: LimitStore) -> None:
    breaker = CircuitBreaker("double", failures=5, reset_seconds=0.2, credential=uuid.uuid4().hex, store=store)
    for _ in range(5):
        await breaker.record_failure()
    await until(_lets_through(breaker), "the half-open probe")
    await breaker.record_failure()  # one failure is enough in half-open
    assert await breaker.state() is BreakerState.OPEN
    with pytest.raises(Unavailable):
        await breaker.before_call()


async def test_the_window_moves_and_answers_how_long_to_wait(store: LimitStore) -> None:
    limit = RateLimit("double", uuid.uuid4().hex, "2 per second", store=store)
    assert await limit.reserve() == 0
    assert await limit.reserve() == 0
    wait = await limit.reserve()
    assert 0 < wait <= 1.0
    other = RateLimit("double", uuid.uuid4().hex, "2 per second", store=store)
    assert await other.reserve() == 0, "another credential has a window of its own"

    async def freed() -> bool:
        return await limit.reserve() == 0

    await until(freed, "the oldest call leaving the window", within=3)


async def test_forgetting_a_provider_closes_its_breakers_and_empties_its_windows(store: LimitStore) -> None:
    provider = f"double-{uuid.uuid4().hex[:8]}"
    breaker = CircuitBreaker(provider, failures=1, reset_seconds=60, credential="c1", store=store)
    limit = RateLimit(provider, "c1", "1/minute", store=store)
    kept = CircuitBreaker(f"{provider}x", failures=1, reset_seconds=60, credential="c1", store=store)
    await breaker.record_failure()
    await kept.record_failure()
    await limit.reserve()
    assert await limit.reserve() > 0
    await store.forget(f"{provider}:")
    assert await breaker.state() is BreakerState.CLOSED
    assert await limit.reserve() == 0
    assert await kept.state() is BreakerState.OPEN, "another provider whose name starts the same is untouched"


async def test_without_redis_the_limits_fall_back_to_this_process() -> None:
    store = RedisLimits(f"redis://127.0.0.1:{free_port()}/0", _namespace())
    limit = RateLimit("double", uuid.uuid4().hex, "1/minute", store=store)
    assert await limit.reserve() == 0
    assert await limit.reserve() > 0, "still limited, in this process"
    breaker = CircuitBreaker("double", failures=1, reset_seconds=60, store=store)
    await breaker.record_failure()
    with pytest.raises(Unavailable):
        await breaker.before_call()
    await store.close()


async def test_the_app_shares_its_connectors_limits_through_redis_only_while_it_runs(
    database_url: str, tmp_path: Path
) -> None:
    before = limit_store()
    namespace = _namespace()
    app = create_app(make_settings(database_url, tmp_path, redis_url=service_url("redis"), redis_namespace=namespace))
    async with LifespanManager(app, startup_timeout=60):
        store = limit_store()
        assert isinstance(store, RedisLimits) and store.shared
        breaker = CircuitBreaker("double", failures=1, reset_seconds=60, credential=uuid.uuid4().hex)
        await breaker.record_failure()  # no store given: the process's, i.e. the app's Redis
        reader = RedisLimits(service_url("redis"), namespace)  # as another process would see it
        assert await reader.breaker_state(breaker.key) is BreakerState.OPEN
        await reader.close()
    assert limit_store() is before, "the process's own store is back after shutdown"


async def test_without_redis_the_app_keeps_the_process_store(database_url: str, tmp_path: Path) -> None:
    before = limit_store()
    app = create_app(make_settings(database_url, tmp_path, redis_url=None, rate_limit_storage_url=None))
    async with LifespanManager(app, startup_timeout=60):
        assert limit_store() is before and not before.shared
