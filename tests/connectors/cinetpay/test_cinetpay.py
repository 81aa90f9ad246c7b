"""CinetPay beyond the contract: x-token notifications, multiples of 5, reused ids, standalone client, CLI."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentStatus
from cauri.connectors.mobile_money.cinetpay import (
    CinetPayClient,
    CinetPayConnector,
    CinetPaySimulator,
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
APIKEY, SITE, SECRET = "cp-key-test", "105901", "cp-secret-test"
FAST = SimulatorSettings(settle_seconds=0.05)


@pytest.fixture
async def cinetpay() -> AsyncIterator[tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str]]:
    simulator = CinetPaySimulator(apikey=APIKEY, site_id=SITE, secret_key=SECRET, settings=FAST)
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        connector = CinetPayConnector(
            apikey=SecretStr(APIKEY), site_id=SITE, secret_keys=[SecretStr(SECRET)], base_url=f"{url}/v2", policy=POLICY
        )
        yield simulator, connector, sink, sink_url
        await connector.aclose()
    await simulator.aclose()


def collect(phone: str, sink_url: str = "http://127.0.0.1:9", amount: int = 5000) -> CollectRequest:
    reference = f"cp-{uuid.uuid4().hex[:12]}"
    return CollectRequest(reference, amount, "XOF", phone, "Commande", f"{sink_url}/notify/{reference}")


async def settle(connector: CinetPayConnector, reference: str) -> PaymentStatus:
    for _ in range(100):
        payment = await connector.collect_status(reference)
        if payment.status.is_final:
            return payment.status
        await asyncio.sleep(0.02)
    return PaymentStatus.PENDING


async def test_x_token_is_checked_and_events_stay_unsigned(
    cinetpay: tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str],
) -> None:
    simulator, connector, sink, sink_url = cinetpay
    request = collect(magic_phone(Outcome.SUCCESS), sink_url)
    await connector.collect(request)
    received = (await sink.wait_for(1, path=request.reference))[0]
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    connector.verify_callback(received.headers, received.body)
    event = connector.parse_callback(received.headers, received.body)
    assert (event.status, event.signed, event.reference) == (PaymentStatus.SUCCEEDED, False, request.reference)
    fields = dict(parse_qsl(received.body.decode()))
    tampered = urlencode({**fields, "cpm_amount": "1"}).encode()
    reordered = urlencode(dict(reversed(list(fields.items())))).encode()  # same fields, other order: still valid
    connector.verify_callback(received.headers, reordered)
    attempts = {
        "tampered amount": (received.headers, tampered),
        "forged": (webhooks.sign("not-the-secret", received.body), received.body),
        "missing": ({"content-type": "application/x-www-form-urlencoded"}, received.body),
        "not a form": (received.headers, b"%%%"),
    }
    for name, (headers, body) in attempts.items():
        with pytest.raises((InvalidSignature, type(transformers.unreadable("x")))):
            connector.verify_callback(headers, body)
            pytest.fail(name)
    rotated = CinetPayConnector(
        apikey=SecretStr(APIKEY), site_id=SITE, secret_keys=[SecretStr("new"), SecretStr(SECRET)], base_url="http://x"
    )
    rotated.verify_callback(received.headers, received.body)
    assert simulator.collected(request.reference) == 5000
    # The notification is a doorbell: the check is what credits.
    assert await settle(connector, request.reference) is PaymentStatus.SUCCEEDED


def test_the_token_covers_the_sixteen_fields_in_order() -> None:
    fields = {name: f"v{index}" for index, name in enumerate(transformers.TOKEN_FIELDS)}
    message = "".join(f"v{i}" for i in range(16)).encode()
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert webhooks.token(SECRET, fields) == expected
    assert len(transformers.TOKEN_FIELDS) == 16


REQUEST = CollectRequest("order-1", 100, "XOF", "+2250700000100")


@pytest.mark.parametrize(
    "raw",
    [
        {"code": "201", "message": "CREATED", "data": {"payment_url": "https://pay"}},  # no token
        {"code": "00", "message": "SUCCES", "data": {"payment_token": "t1"}},  # not a created payment
        {"message": "CREATED"},  # no code
        {"code": "201", "data": "t1"},  # data of another type
    ],
)
def test_a_payment_answer_of_another_shape_is_unreadable(raw: dict[str, object]) -> None:
    with pytest.raises(ConnectorError) as caught:
        transformers.payment_from_init(raw, REQUEST)
    assert caught.value.code == "provider_unreadable_answer"


def test_a_check_is_read_typed_and_a_bad_amount_is_unreadable() -> None:
    raw = {"code": 0, "message": "SUCCES", "data": {"status": "ACCEPTED", "amount": "100", "currency": "XOF"}}
    payment = transformers.check_to_payment(raw, "order-1")
    assert (payment.status, payment.amount, payment.currency) == (PaymentStatus.SUCCEEDED, 100, "XOF")
    with pytest.raises(ConnectorError):
        transformers.check_to_payment({"code": "00", "data": {"status": "ACCEPTED", "amount": "cent"}}, "order-1")
    with pytest.raises(ConnectorError):
        transformers.check_to_payment({"code": "00", "data": ["ACCEPTED"]}, "order-1")


async def test_amounts_must_be_multiples_of_five(
    cinetpay: tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str],
) -> None:
    simulator, connector, _sink, _url = cinetpay
    with pytest.raises(InvalidRequest) as raised:
        await connector.collect(collect(magic_phone(Outcome.SUCCESS), amount=1003))
    assert raised.value.code == "invalid_amount"
    assert simulator.requests["POST /v2/payment"] == 0


async def test_a_reused_transaction_id_is_read_not_paid_twice(
    cinetpay: tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str],
) -> None:
    simulator, connector, _sink, _url = cinetpay
    request = collect(magic_phone(Outcome.SUCCESS, "SN"))
    first = await connector.collect(request)
    again = await connector.collect(request)
    assert again.reference == request.reference and simulator.created(request.reference) == 1
    assert first.raw["payment_url"]
    async with httpx.AsyncClient() as http:
        page = await http.get(first.raw["payment_url"])
    assert page.status_code == 200 and "5000" in page.text
    assert await settle(connector, request.reference) is PaymentStatus.SUCCEEDED
    assert simulator.collected(request.reference) == 5000


async def test_wrong_credentials_are_an_auth_error(
    cinetpay: tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str],
) -> None:
    _simulator, connector, _sink, _url = cinetpay
    wrong = CinetPayConnector(
        apikey=SecretStr("nope"), site_id=SITE, secret_keys=[SecretStr(SECRET)], base_url=connector.client.http.base_url
    )
    with pytest.raises(AuthError):
        await wrong.collect(collect(magic_phone(Outcome.SUCCESS)))
    await wrong.aclose()


async def test_standalone_async_client(
    cinetpay: tuple[CinetPaySimulator, CinetPayConnector, CallbackSink, str],
) -> None:
    simulator, connector, sink, sink_url = cinetpay
    base = connector.client.http.base_url
    async with CinetPayClient(apikey=APIKEY, site_id=SITE, secret_key=SECRET, base_url=base, policy=POLICY) as client:
        request = collect(magic_phone(Outcome.LIMIT_REACHED), sink_url)
        await client.payment(request)
        received = (await sink.wait_for(1, path=request.reference))[0]
        event = client.verify_notification(received.headers, received.body)
        assert event.status is PaymentStatus.FAILED
        for _ in range(100):
            checked = await client.check(request.reference)
            if checked.status.is_final:
                break
            await asyncio.sleep(0.02)
        assert checked.status is PaymentStatus.FAILED and checked.failure is not None
    assert simulator.collected(request.reference) == 0


def test_standalone_sync_client() -> None:
    simulator = CinetPaySimulator(apikey=APIKEY, site_id=SITE, secret_key=SECRET, settings=FAST)
    with (
        serve_app_in_thread(simulator.app) as url,
        CinetPayClient(apikey=APIKEY, site_id=SITE, base_url=f"{url}/v2", policy=POLICY).sync() as client,
    ):
        request = collect(magic_phone(Outcome.SUCCESS, "CM"), amount=10_000)
        assert client.payment(request).status is PaymentStatus.PENDING
        deadline = time.monotonic() + 5
        while not (checked := client.check(request.reference)).status.is_final:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert checked.status is PaymentStatus.SUCCEEDED and checked.amount == 10_000
    assert simulator.collected(request.reference) == 10_000


async def test_cauri_simulate_cinetpay() -> None:
    async with simulate("cinetpay", "/payment/x", extra_args=("--settle", "0.05")) as url:
        config = registry.config_for(
            "cinetpay",
            app_settings=Settings(),
            credentials={
                "apikey": SecretStr("cinetpay-apikey-cauri"),
                "site_id": SecretStr("105900"),
                "secret_key": SecretStr("cinetpay-secret-cauri"),
            },
            settings={"base_url": f"{url}/v2"},
        )
        async with registry.build(config) as connector:
            assert isinstance(connector, CinetPayConnector)
            request = collect(magic_phone(Outcome.SUCCESS))
            await connector.collect(request)
            assert await settle(connector, request.reference) is PaymentStatus.SUCCEEDED
