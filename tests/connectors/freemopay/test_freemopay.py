"""FreeMoPay beyond the contract: both auth modes, the 100 requests/min limit, unsigned callbacks, standalone use."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentKind, PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.freemopay import (
    PROVIDER,
    AuthMode,
    FreeMoPayClient,
    FreeMoPayConnector,
    FreeMoPaySimulator,
)
from cauri.connectors.mobile_money.freemopay import transformers as fmp
from cauri.connectors.registry import ConnectorConfig, registry
from cauri.core.errors import ValidationFailed
from cauri.kit.errors import AuthError, Declined, FailureReason, InvalidRequest, InvalidSignature, RateLimited
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, free_port, serve_app, serve_app_in_thread

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000, rate_limit=None)
DOCS = Path(__file__).resolve().parents[3] / "docs" / "providers" / "freemopay.md"


@dataclass
class World:
    simulator: FreeMoPaySimulator
    url: str
    app_key: str
    secret_key: str

    def connector(
        self, mode: AuthMode, *, secret: str | None = None, policy: HttpPolicy = POLICY
    ) -> FreeMoPayConnector:
        return FreeMoPayConnector(
            app_key=self.app_key,
            secret_key=SecretStr(secret or self.secret_key),
            base_url=self.url,
            auth_mode=mode,
            policy=policy,
        )


async def _world(**options: object) -> AsyncIterator[World]:
    # Unique credentials: token caches, breakers and limiters are process-wide per credential.
    app_key, secret_key = f"app-{uuid.uuid4().hex[:8]}", f"sk-{uuid.uuid4().hex}"
    timings = options.pop("timings", SimulatorSettings(settle_seconds=0.05))
    simulator = FreeMoPaySimulator(app_key=app_key, secret_key=secret_key, settings=timings, **options)  # type: ignore[arg-type]
    async with serve_app(simulator.app) as url:
        yield World(simulator, url, app_key, secret_key)
    await simulator.aclose()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for item in _world():
        yield item


def _reference() -> str:
    return f"fmp-{uuid.uuid4().hex[:12]}"


async def _settle(connector: FreeMoPayConnector, reference: str, provider_reference: str) -> PaymentStatus:
    deadline = time.monotonic() + 5
    while True:
        payment = await connector.collect_status(reference, provider_reference)
        if payment.status.is_final or time.monotonic() > deadline:
            return payment.status
        await asyncio.sleep(0.05)


# -- auth modes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("first_status", ["SUCCESS", "INITIALIZATION_SUCCESS", "CREATED"])
async def test_basic_mode_reads_every_first_status_as_accepted_not_paid(first_status: str) -> None:
    async for world in _world(timings=SimulatorSettings(settle_seconds=0.5), initial_statuses={"basic": first_status}):
        async with world.connector(AuthMode.BASIC) as connector:
            reference = _reference()
            first = await connector.collect(CollectRequest(reference, 1500, "XAF", magic_phone(Outcome.SUCCESS)))
            assert first.status is PaymentStatus.PENDING, "a first SUCCESS only means the request was accepted"
            assert first.provider_status == first_status
            assert world.simulator.collected(reference) == 0
            assert await _settle(connector, reference, first.provider_reference) is PaymentStatus.SUCCEEDED
        assert world.simulator.collected(reference) == 1500
        assert world.simulator.token_requests == 0, "Basic mode sends the keys on every call, no token"


async def test_token_mode_fetches_one_token_and_reuses_it(world: World) -> None:
    async with world.connector(AuthMode.TOKEN) as connector:
        reference = _reference()
        first = await connector.collect(CollectRequest(reference, 1000, "XAF", magic_phone(Outcome.SUCCESS)))
        assert first.provider_status == "CREATED"
        await _settle(connector, reference, first.provider_reference)
        await connector.payout(PayoutRequest(_reference(), 1000, "XAF", magic_phone(Outcome.SUCCESS)))
    assert world.simulator.token_requests == 1


async def test_token_mode_refreshes_the_token_before_it_expires() -> None:
    # 61 s tokens minus the 60 s skew: reused for one second, then refreshed.
    async for world in _world(timings=SimulatorSettings(settle_seconds=0.05, token_lifetime_seconds=61)):
        async with world.connector(AuthMode.TOKEN) as connector:
            first = await connector.collect(CollectRequest(_reference(), 1000, "XAF", magic_phone(Outcome.SUCCESS)))
            await connector.collect_status(first.reference, first.provider_reference)
            assert world.simulator.token_requests == 1
            await asyncio.sleep(1.1)
            await connector.collect_status(first.reference, first.provider_reference)
            assert world.simulator.token_requests == 2


async def test_a_revoked_token_is_replaced_once(world: World) -> None:
    async with world.connector(AuthMode.TOKEN) as connector:
        first = await connector.collect(CollectRequest(_reference(), 1000, "XAF", magic_phone(Outcome.SUCCESS)))
        world.simulator.revoke_tokens()
        await connector.collect_status(first.reference, first.provider_reference)
    assert world.simulator.token_requests == 2


@pytest.mark.parametrize("mode", [AuthMode.BASIC, AuthMode.TOKEN])
async def test_bad_api_credentials_are_an_auth_error_in_both_languages(world: World, mode: AuthMode) -> None:
    async with world.connector(mode, secret="not-the-secret") as connector:
        reference = _reference()
        with pytest.raises(AuthError) as raised:
            await connector.collect(CollectRequest(reference, 1000, "XAF", magic_phone(Outcome.SUCCESS)))
    assert raised.value.provider_code == "BAD_API_CREDENTIALS"
    assert "Identifiants API invalides" in raised.value.message_fr
    assert "Bad API credentials" in raised.value.message_en
    assert not raised.value.retryable
    assert world.simulator.attempts(reference) == 0


# -- the 100 requests/min limit -----------------------------------------------------------------------------------


async def test_freemopay_answers_429_with_retry_after_beyond_100_requests_a_minute(world: World) -> None:
    no_local_limit = POLICY.with_overrides(max_retry_after=5.0)
    async with world.connector(AuthMode.BASIC, policy=no_local_limit) as connector:
        first = await connector.collect(CollectRequest(_reference(), 1000, "XAF", magic_phone(Outcome.SUCCESS)))
        await asyncio.gather(*(connector.collect_status(first.reference, first.provider_reference) for _ in range(99)))
        with pytest.raises(RateLimited) as raised:
            await connector.collect_status(first.reference, first.provider_reference)
    assert raised.value.retry_after is not None and raised.value.retry_after > 5.0, "Retry-After until the window frees"
    assert world.simulator.rate_limited == 1
    assert sum(world.simulator.requests.values()) == 101


async def test_the_connector_keeps_itself_under_100_requests_a_minute(world: World) -> None:
    """The default policy carries FreeMoPay's limit: the 101st call is refused here, never sent."""
    policy = POLICY.with_overrides(rate_limit=fmp_rate_limit(), max_rate_wait=0.5)
    async with world.connector(AuthMode.BASIC, policy=policy) as connector:
        first = await connector.collect(CollectRequest(_reference(), 1000, "XAF", magic_phone(Outcome.SUCCESS)))
        await asyncio.gather(*(connector.collect_status(first.reference, first.provider_reference) for _ in range(99)))
        with pytest.raises(RateLimited) as raised:
            await connector.collect_status(first.reference, first.provider_reference)
    assert raised.value.code == "provider_rate_limited_locally"
    assert sum(world.simulator.requests.values()) == 100
    assert world.simulator.rate_limited == 0


def fmp_rate_limit() -> str:
    from cauri.connectors.mobile_money.freemopay.client import DEFAULT_POLICY

    assert DEFAULT_POLICY.rate_limit is not None
    return DEFAULT_POLICY.rate_limit


def test_the_registry_keeps_the_limit_under_policy_overrides() -> None:
    config = ConnectorConfig(
        provider="freemopay",
        credentials={"app_key": SecretStr("a"), "secret_key": SecretStr("s")},
        policy_overrides={"read_timeout": 3.0},
    )
    connector = registry.build(config)
    assert isinstance(connector, FreeMoPayConnector)
    assert connector.client.http.policy.rate_limit == "100/minute"
    assert connector.client.http.policy.read_timeout == 3.0


# -- callbacks: unsigned, confirmed by a status query --------------------------------------------------------------


async def test_a_forged_success_callback_is_contradicted_by_the_status_query(world: World) -> None:
    async with world.connector(AuthMode.TOKEN) as connector:
        reference = _reference()
        first = await connector.collect(
            CollectRequest(reference, 2000, "XAF", magic_phone(Outcome.PENDING_FOREVER), callback_url="http://x/cb")
        )
        forged = json.dumps(
            {
                "status": "SUCCESS",
                "reference": first.provider_reference,
                "amount": "2000",
                "transactionType": "DEPOSIT",
                "externalId": reference,
                "message": "ok",
            }
        ).encode()
        connector.verify_callback({}, forged)  # nothing to verify on an unsigned callback…
        event = connector.parse_callback({}, forged)
        assert event.signed is False and event.status is PaymentStatus.SUCCEEDED
        confirmed = await connector.collect_status(reference, event.provider_reference)
    assert confirmed.status is PaymentStatus.PENDING, "…so the provider's own answer decides"
    assert world.simulator.collected(reference) == 0


async def test_a_callback_naming_another_payment_is_caught_by_the_status_query(world: World) -> None:
    async with world.connector(AuthMode.TOKEN) as connector:
        paid = await connector.collect(CollectRequest(_reference(), 2000, "XAF", magic_phone(Outcome.SUCCESS)))
        with pytest.raises(InvalidRequest) as raised:
            await connector.collect_status("my-pending-payment", paid.provider_reference)
    assert raised.value.code == "provider_reference_mismatch"


@pytest.mark.parametrize("body", [b"", b"[]", b'{"status": "SUCCESS"}', b'{"reference": "", "status": "SUCCESS"}'])
def test_a_callback_that_names_no_payment_is_refused(body: bytes) -> None:
    connector = FreeMoPayConnector(app_key="a", secret_key=SecretStr("s"), base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidSignature) as raised:
        connector.verify_callback({}, body)
    assert raised.value.code == "callback_unconfirmable"


def test_withdrawal_callbacks_parse_as_payouts_and_expiry_as_expired() -> None:
    connector = FreeMoPayConnector(app_key="a", secret_key=SecretStr("s"), base_url="http://127.0.0.1:9")
    body = {"status": "FAILED", "reference": "r-1", "amount": "500", "transactionType": "WITHDRAW", "externalId": "x"}
    event = connector.parse_callback({}, json.dumps({**body, "message": "Solde insuffisant"}).encode())
    assert (event.kind, event.status, event.failure) == (
        PaymentKind.PAYOUT,
        PaymentStatus.FAILED,
        FailureReason.INSUFFICIENT_FUNDS,
    )
    deposit = {**body, "transactionType": "DEPOSIT", "message": "Transaction expirée"}
    expired = connector.parse_callback({}, json.dumps(deposit).encode())
    assert (expired.kind, expired.status, expired.failure) == (
        PaymentKind.COLLECTION,
        PaymentStatus.EXPIRED,
        FailureReason.EXPIRED,
    )


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        ("Solde insuffisant", PaymentKind.COLLECTION, FailureReason.INSUFFICIENT_FUNDS),
        ("INSUFFICIENT_BALANCE", PaymentKind.COLLECTION, FailureReason.INSUFFICIENT_FUNDS),
        ("Transaction annulée par le client", PaymentKind.COLLECTION, FailureReason.REJECTED_BY_PAYER),
        ("Plafond atteint", PaymentKind.PAYOUT, FailureReason.LIMIT_REACHED),
        ("Numéro introuvable", PaymentKind.COLLECTION, FailureReason.PAYER_NOT_FOUND),
        ("Numéro introuvable", PaymentKind.PAYOUT, FailureReason.PAYEE_NOT_FOUND),
        ("Compte bloqué", PaymentKind.PAYOUT, FailureReason.ACCOUNT_INACTIVE),
        ("Something nobody documented", PaymentKind.COLLECTION, FailureReason.PROVIDER_ERROR),
        ("", PaymentKind.COLLECTION, None),
    ],
)
def test_free_text_reasons_map_to_stable_reasons(text: str, kind: PaymentKind, reason: FailureReason | None) -> None:
    assert fmp.failure_from_text(text, kind) is reason


def test_unknown_words_are_pending_never_success() -> None:
    assert fmp.status_from_wire("PROCESSING") is PaymentStatus.PENDING
    assert fmp.status_from_wire(None) is PaymentStatus.PENDING
    assert fmp.status_from_wire("SUCCESS") is PaymentStatus.SUCCEEDED


async def test_an_immediate_refusal_is_declined_with_its_reason(world: World) -> None:
    async with world.connector(AuthMode.TOKEN) as connector:
        with pytest.raises(Declined) as raised:
            await connector.payout(PayoutRequest(_reference(), 1000, "XAF", magic_phone(Outcome.NOT_FOUND)))
    assert raised.value.reason is FailureReason.PAYEE_NOT_FOUND


def test_credentials_are_checked_against_the_provider_spec() -> None:
    PROVIDER.validate({"app_key": "a", "secret_key": "s"}, {"auth_mode": "basic", "base_url": "https://x"})
    with pytest.raises(ValidationFailed):
        PROVIDER.validate({"app_key": "a"}, {})
    with pytest.raises(ValidationFailed):
        PROVIDER.validate({"app_key": "a", "secret_key": "s"}, {"webhook_secret": "x"})


# -- standalone client ------------------------------------------------------------------------------------------


async def test_the_async_client_deposits_withdraws_and_confirms_a_callback(world: World) -> None:
    sink = CallbackSink()
    async with (
        serve_app(sink) as sink_url,
        FreeMoPayClient(
            app_key=world.app_key, secret_key=world.secret_key, base_url=world.url, policy=POLICY
        ) as freemopay,
    ):
        deposit = await freemopay.deposit(
            payer="+237670000100", amount=2500, external_id="order-1", callback=f"{sink_url}/cb"
        )
        assert deposit.status == "CREATED"
        done = await freemopay.wait(deposit.reference, within=5, interval=0.05)
        assert (done.status, done.merchant_reference, done.amount) == ("SUCCESS", "order-1", "2500")
        received = await sink.wait_for(1, path="/cb")
        confirmed = await freemopay.confirm_callback(received[0].body)
        assert confirmed.status == "SUCCESS" and confirmed.reference == deposit.reference
        withdrawal = await freemopay.withdraw(receiver="237670000100", amount=700, external_id="payout-1")
        assert (await freemopay.wait(withdrawal.reference, within=5, interval=0.05)).status == "SUCCESS"
        with pytest.raises(Declined):
            await freemopay.deposit(payer=magic_phone(Outcome.NOT_FOUND), amount=100, external_id="order-2")
        with pytest.raises(InvalidRequest):
            await freemopay.deposit(payer="not a number", amount=100, external_id="order-3")
    assert world.simulator.collected("order-1") == 2500
    assert world.simulator.paid_out("payout-1") == 700


def test_the_blocking_client_runs_without_asyncio() -> None:
    simulator = FreeMoPaySimulator(settings=SimulatorSettings(settle_seconds=0.05))
    with (
        serve_app_in_thread(simulator.app) as url,
        FreeMoPayClient.blocking(
            app_key="fmp_app_demo", secret_key="fmp_secret_demo", base_url=url, auth_mode="basic", policy=POLICY
        ) as freemopay,
    ):
        deposit = freemopay.deposit(payer="+237670000100", amount=900, external_id="sync-1")
        assert deposit.status == "SUCCESS"  # Basic mode's first word: accepted, not paid
        assert freemopay.wait(deposit.reference, within=5, interval=0.05).status == "SUCCESS"
        failed = freemopay.withdraw(receiver=magic_phone(Outcome.LIMIT_REACHED), amount=900, external_id="sync-2")
        details = freemopay.wait(failed.reference, within=5, interval=0.05)
        assert details.status == "FAILED"
        assert fmp.failure_from_text(details.reason, PaymentKind.PAYOUT) is FailureReason.LIMIT_REACHED
    assert simulator.collected("sync-1") == 900
    assert simulator.paid_out("sync-2") == 0


# -- cauri simulate freemopay, and the documented example ------------------------------------------------------------


def _documented_example() -> str:
    text = DOCS.read_text()
    match = re.search(r"<!-- example: deposit-withdraw -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/providers/freemopay.md lost its end-to-end example"
    return match.group(1)


async def test_the_documented_example_runs_against_cauri_simulate() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "freemopay", "--port", str(port), "--settle", "0.2"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await http.get(f"http://127.0.0.1:{port}/_sim/state")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "cauri simulate freemopay did not start"
                    await asyncio.sleep(0.1)
        script = _documented_example().replace("8091", str(port))
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=environment
        )
        assert result.returncode == 0, result.stderr
        assert "deposit SUCCESS" in result.stdout and "withdrawal SUCCESS" in result.stdout, result.stdout
        async with httpx.AsyncClient(auth=("fmp_app_demo", "fmp_secret_demo")) as http:
            state = (await http.get(f"http://127.0.0.1:{port}/_sim/state")).json()
        assert [p["status"] for p in state["payments"]] == ["SUCCESS", "SUCCESS"]
    finally:
        process.terminate()
        process.wait(timeout=10)
