"""The sandbox connector beyond the contract: OAuth token caching, secrets kept out of logs, sync use, CLI."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import structlog
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentStatus
from cauri.connectors.mobile_money.sandbox import SandboxConnector, SandboxSimulator
from cauri.connectors.mobile_money.sandbox import webhooks as sandbox_webhooks
from cauri.connectors.registry import registry
from cauri.connectors.sync import SyncConnector
from cauri.core.config import Environment, Settings
from cauri.core.logging import configure_logging
from cauri.kit.errors import AuthError
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, free_port, serve_app, serve_app_in_thread

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100)


@dataclass
class OAuthSandbox:
    simulator: SandboxSimulator
    url: str
    client_id: str
    client_secret: str

    def connector(self, secret: str | None = None) -> SandboxConnector:
        return SandboxConnector(
            base_url=self.url,
            client_id=self.client_id,
            client_secret=SecretStr(secret or self.client_secret),
            webhook_secrets=[SecretStr(self.simulator.webhook_secret)],
            policy=POLICY,
        )


async def oauth_sandbox(**timings: float) -> AsyncIterator[OAuthSandbox]:
    client_secret = "cs_" + uuid.uuid4().hex  # unique: the token cache is process-wide
    simulator = SandboxSimulator(
        api_key="",
        webhook_secret="whsec_" + uuid.uuid4().hex,
        client_id="merchant-" + uuid.uuid4().hex[:6],
        client_secret=client_secret,
        settings=SimulatorSettings(settle_seconds=0.05, **timings),  # type: ignore[arg-type]
    )
    async with serve_app(simulator.app) as url:
        yield OAuthSandbox(simulator, url, simulator.client_id or "", client_secret)
    await simulator.aclose()


@pytest.fixture
async def sandbox() -> AsyncIterator[OAuthSandbox]:
    async for world in oauth_sandbox(token_latency_seconds=0.2):
        yield world


@pytest.fixture
async def short_lived_tokens() -> AsyncIterator[OAuthSandbox]:
    # 61 s tokens minus the 60 s skew: reused for one second, then refreshed.
    async for world in oauth_sandbox(token_lifetime_seconds=61):
        yield world


async def test_oauth_tokens_are_fetched_once_for_concurrent_calls(sandbox: OAuthSandbox) -> None:
    async with sandbox.connector() as connector:
        balances = await asyncio.gather(*(connector.balance("XAF") for _ in range(10)))
        assert {b.available for b in balances} == {sandbox.simulator.merchant_balance("XAF")}
        assert sandbox.simulator.token_requests == 1
    async with sandbox.connector() as another_instance:  # connectors are built per call: the cache outlives them
        await another_instance.balance("XOF")
    assert sandbox.simulator.token_requests == 1


async def test_oauth_tokens_are_refreshed_before_they_expire(short_lived_tokens: OAuthSandbox) -> None:
    async with short_lived_tokens.connector() as connector:
        await connector.balance("XAF")
        await connector.balance("XAF")
        assert short_lived_tokens.simulator.token_requests == 1
        await asyncio.sleep(1.1)
        await connector.balance("XAF")
        assert short_lived_tokens.simulator.token_requests == 2


async def test_a_revoked_token_is_replaced_once(sandbox: OAuthSandbox) -> None:
    async with sandbox.connector() as connector:
        await connector.balance("XAF")
        sandbox.simulator.revoke_tokens()
        await connector.balance("XAF")
        assert sandbox.simulator.token_requests == 2


async def test_wrong_client_credentials_are_an_auth_error(sandbox: OAuthSandbox) -> None:
    async with sandbox.connector(secret="wrong-secret") as connector:
        with pytest.raises(AuthError) as raised:
            await connector.balance("XAF")
    assert not raised.value.retryable
    assert sandbox.simulator.token_requests == 1, "a refused credential is not retried"


async def test_a_wrong_api_key_is_an_auth_error_without_retry() -> None:
    simulator = SandboxSimulator(api_key="sk_right", webhook_secret="whsec_x")
    async with serve_app(simulator.app) as url:
        connector = SandboxConnector(
            base_url=url, api_key=SecretStr("sk_wrong"), webhook_secrets=[SecretStr("whsec_x")], policy=POLICY
        )
        reference = f"ref-{uuid.uuid4().hex[:8]}"
        request = CollectRequest(reference, 1000, "XAF", magic_phone(Outcome.SUCCESS))
        with pytest.raises(AuthError):
            await connector.collect(request)
        await connector.aclose()
    assert simulator.attempts(reference) == 0
    assert simulator.requests["POST /v1/collections"] == 1


async def test_an_idempotency_key_replays_its_first_answer_and_refuses_another_body() -> None:
    simulator = SandboxSimulator(api_key="sk_replay", webhook_secret="whsec_x")
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    body = {"reference": reference, "amount": "1000", "currency": "XAF", "msisdn": magic_phone(Outcome.PENDING_FOREVER)}
    headers = {"Authorization": "Bearer sk_replay", "Idempotency-Key": f"key-{reference}"}
    async with serve_app(simulator.app) as url, httpx.AsyncClient(base_url=url) as http:
        first = await http.post("/v1/collections", json=body, headers=headers)
        again = await http.post("/v1/collections", json=body, headers=headers)
        other = await http.post("/v1/collections", json=body | {"amount": "2000"}, headers=headers)
        as_payout = await http.post("/v1/payouts", json=body, headers=headers)  # the key binds the kind too
    await simulator.aclose()
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert [other.status_code, as_payout.status_code] == [409, 409]
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert simulator.created(reference) == 1


async def test_logs_of_connector_calls_never_contain_a_secret(sandbox: OAuthSandbox) -> None:
    saved = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("DEBUG", json=True)  # the production processors, masking included
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    try:
        sink = CallbackSink()
        async with serve_app(sink) as sink_url, sandbox.connector() as connector:
            reference = f"ref-{uuid.uuid4().hex[:8]}"
            phone = magic_phone(Outcome.SUCCESS)
            request = CollectRequest(reference, 1500, "XAF", phone, callback_url=f"{sink_url}/cb")
            payment = await connector.collect(request)
            await connector.collect_status(reference, payment.provider_reference)
            await connector.account_holder(phone)
    finally:
        structlog.configure(**saved)
    output = buffer.getvalue()
    assert "connector_request" in output and "connector_exchange" in output, "the calls must be logged"
    assert "Bearer ***" in output or '"***"' in output
    tokens = list(sandbox.simulator.tokens)
    assert tokens, "a token was issued, so it could have leaked"
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    for secret in (sandbox.client_secret, basic, *tokens, sandbox.simulator.webhook_secret, phone.lstrip("+")):
        assert secret not in output


def test_the_sync_facade_runs_without_asyncio_in_the_caller() -> None:
    simulator = SandboxSimulator(
        api_key="sk_sync", webhook_secret="whsec_sync", settings=SimulatorSettings(settle_seconds=0.05)
    )
    with serve_app_in_thread(simulator.app) as url:
        connector = SyncConnector(
            SandboxConnector(
                base_url=url, api_key=SecretStr("sk_sync"), webhook_secrets=[SecretStr("whsec_sync")], policy=POLICY
            )
        )
        with connector:
            reference = f"sync-{uuid.uuid4().hex[:8]}"
            payment = connector.collect(CollectRequest(reference, 700, "XOF", magic_phone(Outcome.SUCCESS, "SN")))
            deadline = time.monotonic() + 5
            while payment.status is PaymentStatus.PENDING and time.monotonic() < deadline:
                time.sleep(0.05)
                payment = connector.collect_status(reference)
            assert payment.status is PaymentStatus.SUCCEEDED
            assert connector.balance("XOF").available == simulator.merchant_balance("XOF")
    assert simulator.collected(reference) == 700


async def test_cauri_simulate_serves_the_sandbox_with_the_development_credentials(tmp_path: object) -> None:
    port = free_port()
    settings = Settings(env=Environment.TEST, sandbox_url=f"http://127.0.0.1:{port}")
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: ASYNC220 - a real `cauri` process, polled below
        [sys.executable, "-m", "cauri.cli", "simulate", "sandbox", "--port", str(port), "--settle", "0.05"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await http.get(f"http://127.0.0.1:{port}/_sim/state")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "cauri simulate did not start"
                    await asyncio.sleep(0.1)
        config = registry.config_for("sandbox", app_settings=settings, credentials=None)
        async with registry.build(config) as connector:
            reference = f"cli-{uuid.uuid4().hex[:8]}"
            first = await connector.collect(CollectRequest(reference, 1000, "XAF", magic_phone(Outcome.SUCCESS)))
            assert first.status is PaymentStatus.PENDING
            deadline = time.monotonic() + 5
            status = first
            while status.status is PaymentStatus.PENDING and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                status = await connector.collect_status(reference)
            assert status.status is PaymentStatus.SUCCEEDED
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_callback_signed_with_the_previous_secret_still_verifies_during_rotation() -> None:
    connector = SandboxConnector(
        base_url="http://127.0.0.1:9",
        api_key=SecretStr("sk"),
        webhook_secrets=[SecretStr("whsec_new"), SecretStr("whsec_old")],
    )
    body = b'{"id": "evt_1"}'
    now = int(time.time())
    connector.verify_callback(sandbox_webhooks.sign("whsec_old", body, now), body)
    connector.verify_callback(sandbox_webhooks.sign("whsec_new", body, now), body)
    both = {
        "Sandbox-Signature": f"t={now},v1={'0' * 64},v1="
        + sandbox_webhooks.sign("whsec_new", body, now)["Sandbox-Signature"].split("v1=")[1]
    }
    connector.verify_callback(both, body)
