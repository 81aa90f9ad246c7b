"""FedaPay beyond the contract: signatures, modes, payment URL, refunds, standalone client, ``cauri simulate``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentStatus, PayoutRequest, RefundRequest
from cauri.connectors.mobile_money.fedapay import (
    FedaPayClient,
    FedaPayConnector,
    FedaPaySimulator,
    magic_phone,
    transformers,
    webhooks,
)
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.kit.errors import AuthError, ConnectorError, InvalidRequest, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, serve_app, serve_app_in_thread
from tests.connectors.mojaloop.cli import simulate

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100)
KEY, SECRET = "sk_sandbox_test_fedapay", "wh_sandbox_test_fedapay"
FAST = SimulatorSettings(settle_seconds=0.05)


@pytest.fixture
async def fedapay() -> AsyncIterator[tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str]]:
    simulator = FedaPaySimulator(api_key=KEY, webhook_secret=SECRET, settings=FAST)
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        connector = FedaPayConnector(
            api_key=SecretStr(KEY), webhook_secrets=[SecretStr(SECRET)], base_url=url, policy=POLICY
        )
        yield simulator, connector, sink, sink_url
        await connector.aclose()
    await simulator.aclose()


def request(phone: str, sink_url: str = "http://127.0.0.1:9", amount: int = 5000) -> CollectRequest:
    reference = f"fp-{uuid.uuid4().hex[:12]}"
    return CollectRequest(reference, amount, "XOF", phone, "Commande", f"{sink_url}/callbacks/{reference}")


def test_signatures_are_checked_over_the_raw_bytes() -> None:
    body = b'{"id":1,"name":"transaction.approved","entity":{"id":7,"amount":5000,"status":"approved"}}'
    now = int(time.time())
    good = webhooks.sign(SECRET, body, now)
    assert webhooks.verify([SECRET], good, body) == now
    header = good[webhooks.SIGNATURE_HEADER]
    rejected = {
        "tampered": (good, body.replace(b"5000", b"9000"), None),
        "forged": (webhooks.sign("not-the-secret", body, now), body, None),
        "old": (webhooks.sign(SECRET, body, now - 301), body, None),
        "replayed later": (good, body, now + 301.0),
        "missing": ({}, body, None),
        "stripe style v1 key": ({webhooks.SIGNATURE_HEADER: header.replace(",s=", ",v1=")}, body, None),
    }
    for name, (headers, raw, at) in rejected.items():
        with pytest.raises(InvalidSignature):
            webhooks.verify([SECRET], headers, raw, at)
            pytest.fail(name)
    several = {webhooks.SIGNATURE_HEADER: f"t={now},s={'0' * 64},s={header.split('s=')[1]}"}
    assert webhooks.verify([SECRET], several, body) == now, "any matching s is valid"
    assert webhooks.verify(["rotated-new", SECRET], good, body) == now, "a previous secret still verifies"


def test_answers_are_unwrapped_and_words_mapped() -> None:
    raw = {"v1/transaction": {"id": 12, "amount": 100, "status": "transferred", "currency": {"iso": "XOF"}}}
    assert transformers.payment_from_wire(raw).status is PaymentStatus.SUCCEEDED
    assert transformers.status_from_wire("something_new") is PaymentStatus.PENDING
    assert transformers.status_from_wire("canceled") is PaymentStatus.CANCELLED
    assert transformers.mode_for("+2250500000100") == "mtn_open_ci"
    assert transformers.mode_for("+22879000100") == "moov_tg"
    assert transformers.mode_for("+2290195000100") == "moov"
    with pytest.raises(InvalidRequest):
        transformers.mode_for("+2250700000100")  # Orange CI: no FedaPay mode


@pytest.mark.parametrize(
    "raw",
    [
        {"v1/transaction": {"id": 12, "amount": "cent", "status": "approved"}},  # not an integer amount
        {"v1/transaction": {"amount": 100, "status": "approved"}},  # no id
        {"v1/customer": {"name": "x"}},  # another object
        {"message": "ok"},
    ],
)
def test_an_answer_of_another_shape_is_unreadable_never_a_success(raw: dict[str, object]) -> None:
    with pytest.raises(ConnectorError) as caught:
        transformers.payment_from_wire(raw)
    assert caught.value.code == "provider_unreadable_answer"


def test_a_token_answer_without_a_token_is_unreadable() -> None:
    with pytest.raises(ConnectorError) as caught:
        transformers.token_from_wire({"url": "https://pay"})
    assert caught.value.code == "provider_unreadable_answer"
    body = json.dumps({"name": "transaction.approved", "entity": {"id": 3, "status": "approved"}}).encode()
    with pytest.raises(ConnectorError):
        transformers.event_from_wire(body, signed=True)  # an entity without an amount


async def test_collect_pushes_with_the_operator_mode(
    fedapay: tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str],
) -> None:
    simulator, connector, _sink, _url = fedapay
    for country, mode in (("BJ", "mtn_open"), ("BJ-MOOV", "moov"), ("CI", "mtn_open_ci"), ("TG", "moov_tg")):
        payment = await connector.collect(request(magic_phone(Outcome.SUCCESS, country)))
        assert payment.raw["mode"] == mode and payment.raw["payment_url"]
        assert simulator.requests[f"POST /{mode}"] >= 1
    with pytest.raises(InvalidRequest):
        await connector.collect(request("+2250700000100"))
    assert simulator.requests["POST /transactions"] == 4, "refused before any call"


async def test_payment_url_for_a_redirect(
    fedapay: tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str],
) -> None:
    _simulator, connector, _sink, _url = fedapay
    created = await connector.create_transaction(request(magic_phone(Outcome.SUCCESS)))
    assert created.status is PaymentStatus.PENDING
    token, url = await connector.payment_url(created.provider_reference)
    assert token and url.endswith(token)
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
    assert page.status_code == 200 and "5000" in page.text


async def test_refund_returns_the_money(fedapay: tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str]) -> None:
    simulator, connector, _sink, _url = fedapay
    collect = request(magic_phone(Outcome.SUCCESS))
    payment = await connector.collect(collect)
    for _ in range(100):
        if (await connector.collect_status(collect.reference, payment.provider_reference)).status.is_final:
            break
        await asyncio.sleep(0.02)
    phone_before = simulator.accounts.balance(collect.payer_phone, "XOF")
    refund = await connector.refund(RefundRequest(f"rf-{collect.reference}", payment.provider_reference, 2000, "XOF"))
    assert refund.status is PaymentStatus.SUCCEEDED and refund.amount == 2000
    assert simulator.accounts.balance(collect.payer_phone, "XOF") - phone_before == 2000
    with pytest.raises(InvalidRequest):
        await connector.refund(RefundRequest(f"rf2-{collect.reference}", payment.provider_reference, 4000, "XOF"))


async def test_webhook_round_trip_and_wrong_key(
    fedapay: tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str],
) -> None:
    _simulator, connector, sink, sink_url = fedapay
    collect = request(magic_phone(Outcome.INSUFFICIENT_FUNDS), sink_url)
    await connector.collect(collect)
    received = await sink.wait_for(1, path=collect.reference)
    connector.verify_callback(received[0].headers, received[0].body)
    event = connector.parse_callback(received[0].headers, received[0].body)
    assert event.status is PaymentStatus.FAILED and event.reference == collect.reference
    assert json.loads(received[0].body)["name"] == "transaction.declined"
    wrong = FedaPayConnector(
        api_key=SecretStr("sk_sandbox_wrong"),
        webhook_secrets=[SecretStr(SECRET)],
        base_url=connector.client.http.base_url,
    )
    with pytest.raises(AuthError):
        await wrong.collect(request(magic_phone(Outcome.SUCCESS)))
    await wrong.aclose()


async def test_standalone_async_client(fedapay: tuple[FedaPaySimulator, FedaPayConnector, CallbackSink, str]) -> None:
    simulator, connector, _sink, _url = fedapay
    async with FedaPayClient(
        api_key=KEY, webhook_secret=SECRET, base_url=connector.client.http.base_url, policy=POLICY
    ) as client:
        collect = request(magic_phone(Outcome.SUCCESS, "TG"))
        payment = await client.collect(collect)
        for _ in range(100):
            payment = await client.status(payment.provider_reference)
            if payment.status.is_final:
                break
            await asyncio.sleep(0.02)
        assert payment.status is PaymentStatus.SUCCEEDED and payment.fee == 75
        body = json.dumps({"id": 1, "name": "transaction.approved", "entity": payment.raw["v1/transaction"]}).encode()
        event = client.verify_webhook(webhooks.sign(SECRET, body, int(time.time())), body)
        assert event.reference == collect.reference
    assert simulator.collected(collect.reference) == 5000


def test_standalone_sync_client() -> None:
    simulator = FedaPaySimulator(api_key=KEY, webhook_secret=SECRET, settings=FAST)
    with (
        serve_app_in_thread(simulator.app) as url,
        FedaPayClient(api_key=KEY, base_url=url, policy=POLICY).sync() as client,
    ):
        collect = request(magic_phone(Outcome.SUCCESS))
        payment = client.collect(collect)
        deadline = time.monotonic() + 5
        while not (payment := client.status(payment.provider_reference)).status.is_final:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert payment.status is PaymentStatus.SUCCEEDED
        assert client.payment_url(payment.provider_reference).startswith(url)
        payout = client.payout(
            PayoutRequest(f"po-{collect.reference}", 2000, "XOF", magic_phone(Outcome.SUCCESS, "TG"))
        )
        while not (payout := client.payout_status(payout.provider_reference)).status.is_final:
            assert time.monotonic() < deadline + 5
            time.sleep(0.02)
        assert payout.status is PaymentStatus.SUCCEEDED
        assert client.balance("XOF").available == simulator.merchant_balance("XOF")
    assert simulator.collected(collect.reference) == 5000
    assert simulator.paid_out(f"po-{collect.reference}") == 2000


async def test_cauri_simulate_fedapay() -> None:
    async with simulate("fedapay", "/v1/transactions/1", extra_args=("--settle", "0.05")) as url:
        config = registry.config_for(
            "fedapay",
            app_settings=Settings(),
            credentials={"api_key": SecretStr("sk_sandbox_cauri"), "webhook_secret": SecretStr("wh_sandbox_cauri")},
            settings={"base_url": url},
        )
        async with registry.build(config) as connector:
            collect = request(magic_phone(Outcome.SUCCESS))
            payment = await connector.collect(collect)
            deadline = time.monotonic() + 20  # a subprocess on a shared machine: wait on the state, not a count
            while not (
                payment := await connector.collect_status(collect.reference, payment.provider_reference)
            ).status.is_final:
                assert time.monotonic() < deadline, payment
                await asyncio.sleep(0.05)
            assert payment.status is PaymentStatus.SUCCEEDED
