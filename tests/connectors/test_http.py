"""The shared HTTP layer over real loopback HTTP: safe retries, Retry-After, breaker, rate limit, error mapping."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from cauri.connectors.mobile_money.sandbox import SandboxConnector, SandboxSimulator
from cauri.connectors.mobile_money.sandbox.client import DEFAULT_POLICY as SANDBOX_POLICY
from cauri.connectors.registry import registry
from cauri.core.config import Environment, Settings
from cauri.kit.auth import ApiKeyHeader, BasicAuth
from cauri.kit.errors import (
    AuthError,
    InvalidRequest,
    PaymentNotFound,
    RateLimited,
    Timeout,
    Unavailable,
)
from cauri.kit.http import CircuitBreaker, HttpPolicy, ProviderHttpClient, parse_retry_after
from cauri.kit.testing import free_port, serve_app
from tests.connectors.provider_double import ProviderDouble

FAST = HttpPolicy(
    connect_timeout=1.0,
    read_timeout=2.0,
    max_attempts=3,
    backoff_base=0.01,
    backoff_cap=0.05,
    max_retry_after=3.0,
    breaker_failures=100,
)


@pytest.fixture
async def double() -> AsyncIterator[tuple[ProviderDouble, str]]:
    provider = ProviderDouble()
    async with serve_app(provider.app) as url:
        yield provider, url


def client(url: str, **policy: Any) -> ProviderHttpClient:
    # A provider name per test: breakers and limiters are shared per (provider, credential) process-wide.
    return ProviderHttpClient(
        provider=f"double-{uuid.uuid4().hex[:8]}",
        base_url=url,
        auth=ApiKeyHeader("X-API-Key", SecretStr("key-" + uuid.uuid4().hex)),
        policy=FAST.with_overrides(**policy),
    )


async def test_a_connect_error_is_retried_then_reported_as_unavailable() -> None:
    http = client(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        await http.request("POST", "/payments", operation="create", json={"amount": "100"})
    assert raised.value.code == "provider_unreachable"
    assert raised.value.retryable
    assert not raised.value.outcome_unknown, "the request never left: nothing can have happened"
    assert time.monotonic() - started < 2


async def test_5xx_on_a_read_is_retried(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    response = await client(url).request("GET", "/fail/2/read", operation="status")
    assert response.json() == {"ok": True, "attempt": 3}
    assert provider.hits["read"] == 3


async def test_5xx_on_a_create_without_idempotency_is_never_resent(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    with pytest.raises(Unavailable) as raised:
        await client(url).request("POST", "/fail/2/create", operation="create", json={"amount": "100"})
    assert provider.hits["create"] == 1
    assert raised.value.outcome_unknown, "a 5xx after sending may hide a payment: settle by status"
    assert raised.value.status_code == 503
    assert raised.value.provider_code == "DOWN"


async def test_5xx_on_a_create_with_an_idempotency_key_is_retried_with_the_same_key_and_body(
    double: tuple[ProviderDouble, str],
) -> None:
    provider, url = double
    key = uuid.uuid4().hex
    response = await client(url).request(
        "POST", "/fail/2/keyed", operation="create", json={"amount": "100"}, idempotency_key=key
    )
    assert response.json()["attempt"] == 3
    attempts = [s for s in provider.seen if s.path == "/fail/2/keyed"]
    assert len(attempts) == 3
    assert {s.headers["idempotency-key"] for s in attempts} == {key}
    assert len({s.body for s in attempts}) == 1


async def test_retries_stop_after_max_attempts(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    with pytest.raises(Unavailable):
        await client(url, max_attempts=2).request("GET", "/fail/5/capped", operation="status")
    assert provider.hits["capped"] == 2


async def test_429_is_retried_after_retry_after(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    started = time.monotonic()
    response = await client(url).request("POST", "/rate/1/limited", operation="create", json={})
    assert response.json()["attempt"] == 2
    assert time.monotonic() - started >= 0.95
    assert provider.hits["limited"] == 2


async def test_a_retry_after_longer_than_allowed_is_handed_to_the_caller(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    with pytest.raises(RateLimited) as raised:
        await client(url, max_retry_after=2.0).request("GET", "/rate/120/long", operation="status")
    assert raised.value.retry_after == 120
    assert provider.hits["long"] == 1
    assert raised.value.to_app_error().headers["Retry-After"] == "120"


async def test_a_read_timeout_on_a_create_is_an_unknown_outcome_not_resent(
    double: tuple[ProviderDouble, str],
) -> None:
    provider, url = double
    with pytest.raises(Timeout) as raised:
        await client(url, read_timeout=0.2).request("POST", "/slow/1/create", operation="create", json={})
    assert raised.value.outcome_unknown and raised.value.retryable
    assert provider.hits["create"] == 1


async def test_a_read_timeout_on_a_read_is_retried(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    with pytest.raises(Timeout) as raised:
        await client(url, read_timeout=0.2).request("GET", "/slow/1/read", operation="status")
    assert provider.hits["read"] == 3
    assert not raised.value.outcome_unknown


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, InvalidRequest), (401, AuthError), (403, AuthError), (404, PaymentNotFound), (422, InvalidRequest)],
)
async def test_error_answers_map_to_the_error_tree(
    double: tuple[ProviderDouble, str], status: int, error: type[Exception]
) -> None:
    provider, url = double
    with pytest.raises(error) as raised:
        await client(url).request("GET", f"/status/{status}", operation="status")
    mapped = raised.value
    assert getattr(mapped, "provider_code", None) == f"E{status}"
    assert getattr(mapped, "request_id", None) == "req-123"
    assert getattr(mapped, "status_code", None) == status
    assert provider.hits[f"status-{status}"] == 1, "client errors are never retried"


async def test_allowed_statuses_are_returned_not_raised(double: tuple[ProviderDouble, str]) -> None:
    _provider, url = double
    response = await client(url).request("GET", "/status/404", operation="lookup", allow_status=(404,))
    assert response.status_code == 404


async def test_the_circuit_breaker_opens_then_lets_one_probe_through(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    http = client(url, max_attempts=1, breaker_failures=2, breaker_reset_seconds=0.3)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await http.request("GET", "/toggle", operation="status")
    assert provider.hits["toggle"] == 2
    with pytest.raises(Unavailable) as raised:
        await http.request("GET", "/toggle", operation="status")
    assert raised.value.code == "provider_circuit_open"
    assert provider.hits["toggle"] == 2, "an open circuit does not call the provider"

    await asyncio.sleep(0.35)
    with pytest.raises(Unavailable):  # the probe goes through, fails, and re-opens the circuit
        await http.request("GET", "/toggle", operation="status")
    assert provider.hits["toggle"] == 3
    with pytest.raises(Unavailable) as raised:
        await http.request("GET", "/toggle", operation="status")
    assert raised.value.code == "provider_circuit_open"

    provider.healthy = True
    await asyncio.sleep(0.35)
    assert (await http.request("GET", "/toggle", operation="status")).status_code == 200
    assert (await http.request("GET", "/toggle", operation="status")).status_code == 200
    assert provider.hits["toggle"] == 5


async def test_the_breaker_is_shared_by_clients_of_one_credential_only(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    name = f"double-{uuid.uuid4().hex[:8]}"
    policy = FAST.with_overrides(max_attempts=1, breaker_failures=1, breaker_reset_seconds=30)
    first = ProviderHttpClient(provider=name, base_url=url, auth=BasicAuth("a", SecretStr("secret-a")), policy=policy)
    with pytest.raises(Unavailable):
        await first.request("GET", "/toggle", operation="status")
    same_credential = ProviderHttpClient(
        provider=name, base_url=url, auth=BasicAuth("a", SecretStr("secret-a")), policy=policy
    )
    with pytest.raises(Unavailable) as raised:
        await same_credential.request("GET", "/toggle", operation="status")
    assert raised.value.code == "provider_circuit_open"
    other_credential = ProviderHttpClient(
        provider=name, base_url=url, auth=BasicAuth("b", SecretStr("secret-b")), policy=policy
    )
    provider.healthy = True
    assert (await other_credential.request("GET", "/toggle", operation="status")).status_code == 200


async def test_the_rate_limit_spaces_calls_per_credential(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    name = f"double-{uuid.uuid4().hex[:8]}"
    # A two-second window: wide enough that a loaded machine's slowness cannot pass for a wait, or hide one.
    policy = FAST.with_overrides(rate_limit="3 per 2 seconds", max_rate_wait=5.0)
    limited = ProviderHttpClient(provider=name, base_url=url, auth=BasicAuth("a", SecretStr("s-a")), policy=policy)
    started = time.monotonic()
    await asyncio.gather(*(limited.request("GET", "/echo", operation="status") for _ in range(4)))
    assert time.monotonic() - started >= 1.9, "the fourth call waits for the window to move"
    assert provider.hits["echo"] == 4

    other = ProviderHttpClient(provider=name, base_url=url, auth=BasicAuth("b", SecretStr("s-b")), policy=policy)
    started = time.monotonic()
    await asyncio.gather(*(other.request("GET", "/echo", operation="status") for _ in range(3)))
    assert time.monotonic() - started < 1.5, "another credential has its own budget"


async def test_a_rate_limit_wait_longer_than_allowed_is_refused_locally(double: tuple[ProviderDouble, str]) -> None:
    provider, url = double
    http = client(url, rate_limit="1/minute", max_rate_wait=0.5)
    await http.request("GET", "/echo", operation="status")
    with pytest.raises(RateLimited) as raised:
        await http.request("GET", "/echo", operation="status")
    assert raised.value.code == "provider_rate_limited_locally"
    assert raised.value.retry_after is not None and raised.value.retry_after > 50
    assert provider.hits["echo"] == 1


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_a_minute = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    parsed = parse_retry_after(in_a_minute)
    assert parsed is not None and 55 <= parsed <= 61


async def test_a_probe_that_never_reports_does_not_keep_the_circuit_open() -> None:
    breaker = CircuitBreaker(f"double-{uuid.uuid4().hex[:8]}", failures=1, reset_seconds=0.2)
    await breaker.record_failure()
    with pytest.raises(Unavailable):
        await breaker.before_call()
    await asyncio.sleep(0.25)
    await breaker.before_call()  # the probe is let through… and its caller vanishes without reporting
    with pytest.raises(Unavailable):
        await breaker.before_call()  # one probe at a time
    await asyncio.sleep(0.25)
    await breaker.before_call()  # a stale probe frees its slot
    await breaker.record_success()
    await breaker.before_call()
    await breaker.before_call()


async def test_oauth_token_calls_pass_a_half_open_circuit() -> None:
    simulator = SandboxSimulator(
        api_key="", webhook_secret="whsec", client_id="merchant", client_secret="cs_" + uuid.uuid4().hex
    )
    async with serve_app(simulator.app) as url:
        connector = SandboxConnector(
            base_url=url,
            client_id="merchant",
            client_secret=SecretStr(simulator.client_secret or ""),
            webhook_secrets=[SecretStr("whsec")],
            policy=FAST.with_overrides(breaker_failures=1, breaker_reset_seconds=0.1),
        )
        breaker = connector.client.http.breaker
        await breaker.record_failure()  # the provider was failing: the circuit is open, no token cached yet
        await asyncio.sleep(0.15)
        balance = await connector.balance("XAF")  # the probe needs a token: the token call must not be refused
        assert balance.available == simulator.merchant_balance("XAF")
        assert simulator.token_requests == 1
        await connector.aclose()
    await simulator.aclose()


async def test_metrics_count_latency_errors_and_retries_per_provider(double: tuple[ProviderDouble, str]) -> None:
    _provider, url = double
    http = client(url)
    with pytest.raises(Unavailable):
        await http.request("POST", "/fail/1/metered", operation="create", json={})
    await http.request("GET", "/fail/1/metered-read", operation="status")
    labels = {"provider": http.provider}
    assert (
        REGISTRY.get_sample_value(
            "cauri_connector_errors_total", {**labels, "operation": "create", "kind": "Unavailable"}
        )
        == 1
    )
    assert (
        REGISTRY.get_sample_value(
            "cauri_connector_retries_total", {**labels, "operation": "status", "cause": "server_error"}
        )
        == 1
    )
    latency = {**labels, "operation": "status"}
    assert (
        REGISTRY.get_sample_value("cauri_connector_request_duration_seconds_count", {**latency, "outcome": "5xx"}) == 1
    )
    assert (
        REGISTRY.get_sample_value("cauri_connector_request_duration_seconds_count", {**latency, "outcome": "2xx"}) == 1
    )


def test_policy_overrides_keep_the_providers_own_limits() -> None:
    settings = Settings(env=Environment.TEST)
    config = registry.config_for(
        "sandbox", app_settings=settings, credentials=None, policy_overrides={"read_timeout": 7.5}
    )
    connector = registry.build(config)
    assert isinstance(connector, SandboxConnector)
    policy = connector.client.http.policy
    assert policy.read_timeout == 7.5
    assert policy.rate_limit == SANDBOX_POLICY.rate_limit and policy.rate_limit is not None
