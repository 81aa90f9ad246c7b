"""Wave beyond the contract: signatures, failed attempts, refunds, idempotency keys, the launch page, clients."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import (
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    RefundRequest,
)
from cauri.connectors.mobile_money.wave import (
    CheckoutSessionCreate,
    PayoutCreate,
    WaveClient,
    WaveConnector,
    WaveSimulator,
)
from cauri.connectors.mobile_money.wave import transformers as wave
from cauri.connectors.mobile_money.wave import webhooks as wave_webhooks
from cauri.connectors.registry import registry
from cauri.core.config import Environment, Settings
from cauri.kit.errors import AuthError, FailureReason, InvalidRequest, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, free_port, serve_app, serve_app_in_thread

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)
SECRET = "wave_sn_WHS_tests"


@dataclass
class World:
    simulator: WaveSimulator
    url: str
    sink: CallbackSink
    sink_url: str

    def connector(self, **changes: object) -> WaveConnector:
        options: dict[str, object] = {
            "api_key": SecretStr(self.simulator.api_key),
            "webhook_secrets": [SecretStr(SECRET)],
            "success_url": "https://cauri.example/ok",
            "error_url": "https://cauri.example/ko",
            "base_url": self.url,
            "policy": POLICY,
        }
        options.update(changes)
        return WaveConnector(**options)  # type: ignore[arg-type]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    simulator = WaveSimulator(
        api_key=f"wave_sn_prod_{uuid.uuid4().hex}",
        webhook_secret=SECRET,
        settings=SimulatorSettings(settle_seconds=0.05),
    )
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        simulator.webhook_url = f"{sink_url}/wave"
        yield World(simulator, url, sink, sink_url)
    await simulator.aclose()


def _reference() -> str:
    return f"wave-{uuid.uuid4().hex[:12]}"


def _phone(outcome: Outcome) -> str:
    return magic_phone(outcome, "SN")


async def _settle(connector: WaveConnector, reference: str) -> PaymentStatus:
    deadline = time.monotonic() + 5
    while True:
        payment = await connector.collect_status(reference)
        if payment.status.is_final or time.monotonic() > deadline:
            return payment.status
        await asyncio.sleep(0.05)


# -- signatures ------------------------------------------------------------------------------------------------


def _connector() -> WaveConnector:
    return WaveConnector(
        api_key=SecretStr("k"), webhook_secrets=[SecretStr("new"), SecretStr("old")], base_url="http://127.0.0.1:9"
    )


def test_the_documented_payload_is_t_then_body_without_separator() -> None:
    body, now = b'{"id": "EV_1", "type": "checkout.session.completed", "data": {}}', int(time.time())
    documented = hmac.new(b"new", f"{now}".encode() + body, hashlib.sha256).hexdigest()
    _connector().verify_callback({"Wave-Signature": f"t={now},v1={documented}"}, body)
    dotted = hmac.new(b"new", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        _connector().verify_callback({"wave-signature": f"t={now},v1={dotted}"}, body)


def test_any_matching_v1_and_any_configured_secret_is_valid() -> None:
    body, now = b'{"id": "EV_2"}', int(time.time())
    old = wave_webhooks.sign("old", body, now)["Wave-Signature"].split("v1=")[1]
    _connector().verify_callback({"Wave-Signature": f"t={now},v1={'0' * 64},v1={old}"}, body)
    with pytest.raises(InvalidSignature):
        _connector().verify_callback(wave_webhooks.sign("not-configured", body, now), body)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_an_old_or_future_timestamp_is_refused(age: int) -> None:
    body = b'{"id": "EV_3"}'
    with pytest.raises(InvalidSignature) as raised:
        _connector().verify_callback(wave_webhooks.sign("new", body, int(time.time()) - age), body)
    assert raised.value.code == "callback_timestamp_out_of_tolerance"


# -- failed attempts, expiry --------------------------------------------------------------------------------


async def test_a_failed_attempt_is_pending_in_the_event_and_failed_once_the_session_is_closed(world: World) -> None:
    async with world.connector() as connector:
        request = CollectRequest(_reference(), 1500, "XOF", _phone(Outcome.INSUFFICIENT_FUNDS))
        first = await connector.collect(request)
        [delivered] = await world.sink.wait_for(1, path="/wave")
        connector.verify_callback(delivered.headers, delivered.body)
        event = connector.parse_callback(delivered.headers, delivered.body)
        assert json.loads(delivered.body)["type"] == "checkout.session.payment_failed"
        assert (event.status, event.failure) == (PaymentStatus.PENDING, FailureReason.INSUFFICIENT_FUNDS)
        settled = await connector.collect_status(request.reference, first.provider_reference)
        assert (settled.status, settled.failure) == (PaymentStatus.FAILED, FailureReason.INSUFFICIENT_FUNDS)
    session = world.simulator.sessions[first.provider_reference]
    assert session.checkout_status == "expired", "a session reported failed can no longer be paid"
    async with httpx.AsyncClient() as http:
        await http.post(session.launch_url, data={"mobile": request.payer_phone})
    assert world.simulator.collected(request.reference) == 0


async def test_a_session_nobody_pays_expires(world: World) -> None:
    world.simulator.settings = SimulatorSettings(expiry_seconds=0.2)
    async with world.connector() as connector:
        request = CollectRequest(_reference(), 1500, "XOF", _phone(Outcome.EXPIRES))
        await connector.collect(request)
        assert await _settle(connector, request.reference) is PaymentStatus.EXPIRED


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("reversed", None, (PaymentStatus.CANCELLED, FailureReason.CANCELLED)),
        ("failed", "something-brand-new", (PaymentStatus.FAILED, FailureReason.PROVIDER_ERROR)),
        ("failed", "mobile-not-found", (PaymentStatus.FAILED, FailureReason.PAYEE_NOT_FOUND)),
        ("on-hold", None, (PaymentStatus.PENDING, None)),
    ],
)
def test_payout_statuses(status: str, error: str | None, expected: tuple[PaymentStatus, FailureReason | None]) -> None:
    raw = {
        "id": "pt-1",
        "currency": "XOF",
        "receive_amount": "500",
        "status": status,
        "client_reference": "r",
        "payout_error": {"error_code": error} if error else None,
    }
    payment = wave.payment_from_payout(raw, "r")
    assert (payment.status, payment.failure) == expected


# -- refunds and idempotency keys -------------------------------------------------------------------------------


async def test_a_paid_session_is_refunded_once_in_full(world: World) -> None:
    async with world.connector() as connector:
        request = CollectRequest(_reference(), 3000, "XOF", _phone(Outcome.SUCCESS))
        paid = await connector.collect(request)
        assert await _settle(connector, request.reference) is PaymentStatus.SUCCEEDED
        with pytest.raises(InvalidRequest) as partial:
            await connector.refund(RefundRequest("refund-1", paid.provider_reference, 1000, "XOF"))
        assert partial.value.code == "partial_refund_unsupported"
        refund = await connector.refund(RefundRequest("refund-1", paid.provider_reference, 3000, "XOF"))
        assert (refund.status, refund.kind) == (PaymentStatus.SUCCEEDED, PaymentKind.PAYOUT)
        again = await connector.refund(RefundRequest("refund-1", paid.provider_reference, 3000, "XOF"))
        assert again.status is PaymentStatus.SUCCEEDED  # the same idempotency key: the first answer
    assert world.simulator.refunded(request.reference) == 3000


async def test_an_unpaid_session_cannot_be_refunded(world: World) -> None:
    async with world.connector() as connector:
        pending = await connector.collect(CollectRequest(_reference(), 3000, "XOF", _phone(Outcome.PENDING_FOREVER)))
        with pytest.raises(InvalidRequest):
            await connector.refund(RefundRequest("refund-2", pending.provider_reference, 3000, "XOF"))
    assert world.simulator.refunded(pending.reference) == 0


async def test_the_same_payout_sent_twice_pays_once(world: World) -> None:
    request = PayoutRequest(_reference(), 5000, "XOF", _phone(Outcome.SUCCESS), payee_name="Awa Diallo")
    async with world.connector() as connector:
        first = await connector.payout(request)
        second = await connector.payout(request)
        assert first.provider_reference == second.provider_reference
        with pytest.raises(InvalidRequest) as reused:
            await connector.payout(PayoutRequest(request.reference, 9000, "XOF", _phone(Outcome.SUCCESS)))
        assert reused.value.provider_code == "idempotency-mismatch"
        await asyncio.sleep(0.2)
        settled = await connector.payout_status(request.reference)
    assert (settled.status, settled.fee) == (PaymentStatus.SUCCEEDED, 50)
    assert world.simulator.created(request.reference) == 1
    assert world.simulator.paid_out(request.reference) == 5000


async def test_the_return_pages_are_required_and_default_to_cauris(world: World) -> None:
    async with world.connector(success_url=None) as connector:
        with pytest.raises(AuthError) as raised:
            await connector.collect(CollectRequest(_reference(), 1000, "XOF", _phone(Outcome.SUCCESS)))
    assert raised.value.code == "connector_setting_missing"
    settings = Settings(env=Environment.TEST, public_base_url="https://pay.cauri.example")
    config = registry.config_for(
        "wave",
        app_settings=settings,
        credentials={"api_key": SecretStr("k"), "webhook_secret": SecretStr("s")},
    )
    built = registry.build(config)
    assert isinstance(built, WaveConnector)
    assert built.success_url == "https://pay.cauri.example/paiement/wave/termine"


# -- standalone client --------------------------------------------------------------------------------------


async def test_the_async_client_covers_sessions_payouts_balance_and_webhooks(world: World) -> None:
    async with WaveClient(
        api_key=world.simulator.api_key, webhook_secret=SECRET, base_url=world.url, policy=POLICY
    ) as client:
        session = await client.create_checkout_session(
            CheckoutSessionCreate(
                amount="2500",
                currency="XOF",
                success_url="https://x/ok",
                error_url="https://x/ko",
                client_reference="c-1",
            )
        )
        assert session.id.startswith("cos-") and session.checkout_status == "open"
        async with httpx.AsyncClient() as http:  # nobody is restricted: a person pays on the launch page
            page = await http.get(str(session.wave_launch_url))
            assert "Payer 2500 XOF" in page.text
            await http.post(str(session.wave_launch_url), data={"mobile": "+221770000100"})
        paid = await client.get_checkout_session(session.id)
        assert (paid.checkout_status, paid.payment_status) == ("complete", "succeeded")
        assert paid.transaction_id is not None
        assert (await client.checkout_session_by_transaction(paid.transaction_id)).id == session.id
        assert [s.id for s in await client.search_checkout_sessions("c-1")] == [session.id]
        [delivered] = await world.sink.wait_for(1, path="/wave")
        event = client.verify_webhook(delivered.headers, delivered.body)
        assert (event.type, event.data["id"]) == ("checkout.session.completed", session.id)
        with pytest.raises(InvalidSignature):
            client.verify_webhook(delivered.headers, delivered.body.replace(b"2500", b"2501"))
        other = await client.create_checkout_session(
            CheckoutSessionCreate(amount="100", success_url="https://x/ok", error_url="https://x/ko")
        )
        assert (await client.expire_checkout_session(other.id)).checkout_status == "expired"
        payout = await client.create_payout(
            PayoutCreate(receive_amount="700", mobile="+221770000100", client_reference="p-1")
        )
        assert payout.id.startswith("pt-") and payout.status == "processing"
        await asyncio.sleep(0.2)
        assert (await client.get_payout(payout.id)).status == "succeeded"
        assert [p.id for p in await client.search_payouts("p-1")] == [payout.id]
        balance = await client.balance()
        assert (int(balance.amount), balance.currency) == (world.simulator.merchant_balance("XOF"), "XOF")


def test_the_blocking_client_runs_without_asyncio() -> None:
    simulator = WaveSimulator(settings=SimulatorSettings(settle_seconds=0.05))
    with (
        serve_app_in_thread(simulator.app) as url,
        WaveClient.blocking(api_key="wave_sn_prod_demo_key", base_url=url, policy=POLICY) as client,
    ):
        session = client.create_checkout_session(
            CheckoutSessionCreate(
                amount="900",
                success_url="https://x/ok",
                error_url="https://x/ko",
                client_reference="sync-1",
                restrict_payer_mobile=_phone(Outcome.SUCCESS),
            ),
            idempotency_key="sync-key-1",
        )
        deadline = time.monotonic() + 5
        while client.get_checkout_session(session.id).payment_status != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        payout = client.create_payout(PayoutCreate(receive_amount="400", mobile=_phone(Outcome.LIMIT_REACHED)))
        time.sleep(0.2)
        failed = client.get_payout(payout.id)
        assert failed.status == "failed" and failed.payout_error is not None
        assert wave.failure_from_code(failed.payout_error.error_code, PaymentKind.PAYOUT) is FailureReason.LIMIT_REACHED
    assert simulator.collected("sync-1") == 900


async def test_cauri_simulate_serves_wave_and_sends_signed_webhooks() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "wave", "--port", str(port), "--settle", "0.05"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    sink = CallbackSink()
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer wave_sn_prod_demo_key"}
        async with serve_app(sink) as sink_url, httpx.AsyncClient(headers=headers) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await http.get(f"{url}/_sim/state")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "cauri simulate wave did not start"
                    await asyncio.sleep(0.1)
            assert (await http.put(f"{url}/_sim/webhook", json={"url": f"{sink_url}/hooks"})).status_code == 200
            async with WaveClient(
                api_key="wave_sn_prod_demo_key", webhook_secret="wave_sn_WHS_demo_secret", base_url=url, policy=POLICY
            ) as client:
                await client.create_checkout_session(
                    CheckoutSessionCreate(
                        amount="1000",
                        success_url="https://x/ok",
                        error_url="https://x/ko",
                        restrict_payer_mobile=_phone(Outcome.SUCCESS),
                    )
                )
                [delivered] = await sink.wait_for(1, path="/hooks")
                assert client.verify_webhook(delivered.headers, delivered.body).type == "checkout.session.completed"
    finally:
        process.terminate()
        process.wait(timeout=10)
