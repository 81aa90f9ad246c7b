"""Orange Money beyond the contract: notif_token checks, the payment page, currencies, USSD specifics, clients."""

from __future__ import annotations

import asyncio
import io
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
import structlog
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentStatus
from cauri.connectors.mobile_money.orange_money import (
    DEFAULT_AUTH_TOKEN,
    DEFAULT_CHANNEL_USER,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_MERCHANT_KEY,
    DEFAULT_PIN,
    OrangeMoneyClient,
    OrangeMoneySimulator,
    OrangeUssdPushConnector,
    OrangeWebPayConnector,
    orange_phone,
)
from cauri.connectors.mobile_money.orange_money import transformers as orange
from cauri.connectors.registry import registry
from cauri.core.config import Environment, Settings
from cauri.core.logging import configure_logging
from cauri.kit.errors import AuthError, Declined, FailureReason, InvalidRequest, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, free_port, serve_app, serve_app_in_thread, wait_until_serving

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)


@dataclass
class World:
    simulator: OrangeMoneySimulator
    url: str
    sink: CallbackSink
    sink_url: str

    def webpay(self, **changes: object) -> OrangeWebPayConnector:
        options: dict[str, object] = {
            "client_id": self.simulator.client_id,
            "client_secret": SecretStr(self.simulator.client_secret),
            "merchant_key": SecretStr(self.simulator.merchant_key),
            "base_url": self.url,
            "return_url": "https://cauri.example/ok",
            "cancel_url": "https://cauri.example/ko",
            "policy": POLICY,
        }
        options.update(changes)
        return OrangeWebPayConnector(**options)  # type: ignore[arg-type]

    def ussd(self, **changes: object) -> OrangeUssdPushConnector:
        options: dict[str, object] = {
            "consumer_key": self.simulator.consumer_key,
            "consumer_secret": SecretStr(self.simulator.consumer_secret),
            "auth_token": SecretStr(self.simulator.auth_token),
            "channel_user_msisdn": self.simulator.channel_user_msisdn,
            "pin": SecretStr(self.simulator.pin),
            "base_url": self.url,
            "policy": POLICY,
        }
        options.update(changes)
        return OrangeUssdPushConnector(**options)  # type: ignore[arg-type]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    # Fresh credentials: OAuth tokens, breakers and limiters are cached process-wide per credential.
    unique = uuid.uuid4().hex[:8]
    simulator = OrangeMoneySimulator(
        client_id=f"om-{unique}",
        client_secret=f"secret-{unique}",
        consumer_key=f"omcm-{unique}",
        consumer_secret=f"omcm-secret-{unique}",
        pin="7319",
        settings=SimulatorSettings(settle_seconds=0.05),
    )
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        yield World(simulator, url, sink, sink_url)
    await simulator.aclose()


def _reference() -> str:
    return uuid.uuid4().hex  # 32 characters, like the payments module's: longer than WebPay's order_id


# -- WebPay: notif_token ------------------------------------------------------------------------------------


async def test_a_notification_is_accepted_only_with_its_own_notif_token(world: World) -> None:
    async with world.webpay() as connector:
        paid = CollectRequest(_reference(), 1500, "XOF", "+2250700000100", callback_url=f"{world.sink_url}/om/a")
        other = CollectRequest(_reference(), 900, "XOF", "+2250700000100", callback_url=f"{world.sink_url}/om/b")
        first = await connector.collect(paid)
        second = await connector.collect(other)
        assert first.callback_token and first.callback_token != second.callback_token
        order = next(o for o in world.simulator.orders.values() if o.notif_token == first.callback_token)
        async with httpx.AsyncClient() as http:  # the customer pays on Orange's page
            page = await http.get(first.raw["payment_url"])
            assert "Payer 1500 XOF" in page.text
            await http.post(first.raw["payment_url"], data={"msisdn": "2250700000100", "otp": "123456"})
        [notification] = await world.sink.wait_for(1, path="/om/a")
        connector.verify_callback(notification.headers, notification.body)
        event = connector.parse_callback(notification.headers, notification.body)
        assert (event.callback_token, event.status, event.signed) == (order.notif_token, PaymentStatus.SUCCEEDED, False)
        connector.verify_notification(notification.body, first.callback_token)
        with pytest.raises(InvalidSignature) as mismatch:
            connector.verify_notification(notification.body, second.callback_token)
        assert mismatch.value.code == "callback_token_mismatch"
        with pytest.raises(InvalidSignature) as missing:
            connector.verify_notification(notification.body, None)
        assert missing.value.code == "callback_token_missing"
        forged = json.dumps({"status": "SUCCESS", "notif_token": "0" * 32, "txnid": "MP1"}).encode()
        with pytest.raises(InvalidSignature):
            connector.verify_notification(forged, first.callback_token)
        confirmed = await connector.collect_status(paid.reference, first.provider_reference)
        assert confirmed.status is PaymentStatus.SUCCEEDED
    assert world.simulator.collected(paid.reference) == 1500


@pytest.mark.parametrize("body", [b"{}", b'{"status": "SUCCESS"}', b'{"notif_token": "x"}', b"not json"])
def test_a_notification_without_a_token_is_refused(body: bytes) -> None:
    connector = OrangeWebPayConnector(
        client_id="c", client_secret=SecretStr("s"), merchant_key=SecretStr("m"), base_url="http://127.0.0.1:9"
    )
    with pytest.raises(InvalidSignature):
        connector.verify_callback({}, body)


# -- WebPay: order ids, currencies, notif_url -----------------------------------------------------------------


def test_order_ids_fit_in_30_characters_and_are_stable() -> None:
    short, long = "order-42", uuid.uuid4().hex + uuid.uuid4().hex
    assert orange.order_id(short) == short
    assert len(orange.order_id(long)) == 30 and orange.order_id(long) == orange.order_id(long)
    assert orange.split_webpay_reference(orange.webpay_reference("tok", 1500, "XOF")) == ("tok", 1500, "XOF")


async def test_dev_sends_ouv_and_a_country_takes_its_own_currency_only(world: World) -> None:
    async with world.webpay() as dev:
        request = CollectRequest(_reference(), 1000, "XAF", "+237690000100", callback_url=f"{world.sink_url}/n")
        await dev.collect(request)
    [order] = world.simulator.orders.values()
    assert (order.wire_currency, order.order_id) == ("OUV", orange.order_id(request.reference))
    async with world.webpay(country="cm") as cameroon:
        wrong = CollectRequest(_reference(), 1000, "XOF", "+237690000100", callback_url=f"{world.sink_url}/n")
        with pytest.raises(InvalidRequest) as raised:
            await cameroon.collect(wrong)
        assert raised.value.reason is FailureReason.INVALID_CURRENCY
        await cameroon.collect(CollectRequest(_reference(), 1000, "XAF", "+237690000100", callback_url="https://x/n"))
    assert world.simulator.attempts(wrong.reference) == 0
    assert {o.wire_currency for o in world.simulator.orders.values()} == {"OUV", "XAF"}


async def test_a_notif_url_longer_than_120_characters_is_refused_before_any_call(world: World) -> None:
    async with world.webpay() as connector:
        request = CollectRequest(
            _reference(), 1000, "XOF", "+2250700000100", callback_url="https://cauri.example/" + "x" * 120
        )
        with pytest.raises(InvalidRequest) as raised:
            await connector.collect(request)
    assert raised.value.code == "notif_url_too_long"
    assert world.simulator.attempts(request.reference) == 0


async def test_wrong_webpay_credentials_are_an_auth_error(world: World) -> None:
    async with world.webpay(merchant_key=SecretStr("not-the-key")) as connector:
        with pytest.raises(AuthError):
            await connector.collect(
                CollectRequest(_reference(), 1000, "XOF", "+2250700000100", callback_url="https://x")
            )
    async with world.webpay(client_secret=SecretStr("wrong")) as connector:
        with pytest.raises(AuthError):
            await connector.collect(
                CollectRequest(_reference(), 1000, "XOF", "+2250700000100", callback_url="https://x")
            )


# -- USSD push ----------------------------------------------------------------------------------------------


async def test_insufficient_funds_is_refused_at_once_with_60019(world: World) -> None:
    async with world.ussd() as connector:
        request = CollectRequest(
            _reference(), 2500, "XAF", orange_phone(Outcome.INSUFFICIENT_FUNDS), callback_url="https://x/n"
        )
        with pytest.raises(Declined) as raised:
            await connector.collect(request)
    assert (raised.value.reason, raised.value.provider_code) == (FailureReason.INSUFFICIENT_FUNDS, "60019")
    assert world.simulator.collected(request.reference) == 0


async def test_the_subscriber_number_is_national_and_the_prompt_can_be_resent(world: World) -> None:
    async with world.ussd() as connector:
        request = CollectRequest(
            _reference(), 2500, "XAF", orange_phone(Outcome.PENDING_FOREVER), callback_url=f"{world.sink_url}/u"
        )
        payment = await connector.collect(request)
        transaction = world.simulator.ussd[payment.provider_reference]
        assert (transaction.subscriber, transaction.order_id) == ("690000910", request.reference)
        again = await connector.resend_push(request.reference, payment.provider_reference)
        assert again.status is PaymentStatus.PENDING and transaction.pushes == 1
        settled = await connector.collect(
            CollectRequest(_reference(), 500, "XAF", orange_phone(Outcome.SUCCESS), callback_url=f"{world.sink_url}/s")
        )
        await asyncio.sleep(0.3)
        with pytest.raises(InvalidRequest) as raised:
            await connector.resend_push(settled.reference, settled.provider_reference)
        assert raised.value.code == "push_not_pending"
    async with world.ussd(msisdn_format="international") as international:
        other = await international.collect(
            CollectRequest(_reference(), 500, "XAF", orange_phone(Outcome.PENDING_FOREVER), callback_url="https://x")
        )
    assert world.simulator.ussd[other.provider_reference].subscriber == "237690000910"


async def test_the_ussd_notification_names_our_order_and_is_confirmed_by_status(world: World) -> None:
    async with world.ussd() as connector:
        request = CollectRequest(
            _reference(), 700, "XAF", orange_phone(Outcome.SUCCESS), callback_url=f"{world.sink_url}/ussd"
        )
        first = await connector.collect(request)
        [notification] = await world.sink.wait_for(1, path="/ussd")
        connector.verify_callback(notification.headers, notification.body)
        event = connector.parse_callback(notification.headers, notification.body)
        assert (event.reference, event.provider_reference, event.status) == (
            request.reference,
            first.provider_reference,
            PaymentStatus.SUCCEEDED,
        )
        assert (await connector.collect_status(request.reference, event.provider_reference)).provider_status == (
            "SUCCESSFULL"
        )
        with pytest.raises(InvalidSignature):
            connector.verify_callback({}, json.dumps({"status": "SUCCESSFULL"}).encode())


async def test_a_wrong_x_auth_token_is_an_auth_error(world: World) -> None:
    async with world.ussd(auth_token=SecretStr("wrong")) as connector:
        with pytest.raises(AuthError):
            await connector.collect(
                CollectRequest(_reference(), 700, "XAF", orange_phone(Outcome.SUCCESS), callback_url="https://x")
            )


async def test_the_pin_and_keys_never_reach_the_logs(world: World) -> None:
    saved = structlog.get_config()
    buffer = io.StringIO()
    configure_logging("DEBUG", json=True)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    try:
        async with world.ussd() as connector:
            request = CollectRequest(
                _reference(), 700, "XAF", orange_phone(Outcome.SUCCESS), callback_url=f"{world.sink_url}/l"
            )
            payment = await connector.collect(request)
            await connector.collect_status(request.reference, payment.provider_reference)
        async with world.webpay() as webpay:
            await webpay.collect(CollectRequest(_reference(), 700, "XOF", "+2250700000100", callback_url="https://x"))
    finally:
        structlog.configure(**saved)
    output = buffer.getvalue()
    assert "connector_exchange" in output, "the calls must be logged"
    simulator = world.simulator
    for secret in (simulator.pin, simulator.auth_token, simulator.consumer_secret, simulator.merchant_key):
        assert secret not in output


# -- registry ------------------------------------------------------------------------------------------------


def test_the_registry_builds_either_channel() -> None:
    settings = Settings(env=Environment.TEST, public_base_url="https://pay.cauri.example")
    webpay = registry.build(
        registry.config_for(
            "orange_money",
            app_settings=settings,
            credentials={"client_id": SecretStr("c"), "client_secret": SecretStr("s"), "merchant_key": SecretStr("m")},
            settings={"webpay_country": "sn"},
        )
    )
    assert isinstance(webpay, OrangeWebPayConnector)
    assert (webpay.country, webpay.return_url) == ("sn", "https://pay.cauri.example/paiement/orange/termine")
    ussd = registry.build(
        registry.config_for(
            "orange_money",
            app_settings=settings,
            credentials={
                "client_id": SecretStr("c"),
                "client_secret": SecretStr("s"),
                "auth_token": SecretStr("t"),
                "channel_user_msisdn": SecretStr("691000000"),
                "pin": SecretStr("1234"),
            },
            settings={"channel": "ussd_push"},
        )
    )
    assert isinstance(ussd, OrangeUssdPushConnector)
    with pytest.raises(InvalidRequest):
        registry.build(
            registry.config_for(
                "orange_money",
                app_settings=settings,
                credentials={"client_id": SecretStr("c"), "client_secret": SecretStr("s")},
                settings={"channel": "carrier-pigeon"},
            )
        )


# -- standalone client ----------------------------------------------------------------------------------------


async def test_the_async_client_runs_webpay_end_to_end(world: World) -> None:
    async with OrangeMoneyClient(
        client_id=world.simulator.client_id,
        client_secret=world.simulator.client_secret,
        merchant_key=world.simulator.merchant_key,
        webpay_base_url=world.url,
        policy=POLICY,
    ) as client:
        payment = await client.init_webpayment(
            order_id="order-1",
            amount=2000,
            notif_url=f"{world.sink_url}/web",
            return_url="https://x/ok",
            cancel_url="https://x/ko",
        )
        assert (
            await client.webpayment_status(order_id="order-1", amount=2000, pay_token=payment.pay_token)
        ).status == ("INITIATED")
        async with httpx.AsyncClient() as http:
            await http.post(payment.payment_url, data={"msisdn": "2250700000906", "otp": "1234"})
        [notification] = await world.sink.wait_for(1, path="/web")
        assert client.verify_notification(notification.body, payment.notif_token).status == "FAILED"
        with pytest.raises(AuthError):
            await client.ussd_init()  # no USSD credentials given to this client


def test_the_blocking_client_runs_the_ussd_push() -> None:
    simulator = OrangeMoneySimulator(settings=SimulatorSettings(settle_seconds=0.05))
    with (
        serve_app_in_thread(simulator.app) as url,
        OrangeMoneyClient.blocking(
            consumer_key=DEFAULT_CONSUMER_KEY,
            consumer_secret=DEFAULT_CONSUMER_SECRET,
            auth_token=DEFAULT_AUTH_TOKEN,
            channel_user_msisdn=DEFAULT_CHANNEL_USER,
            pin=DEFAULT_PIN,
            ussd_base_url=url,
            policy=POLICY,
        ) as client,
    ):
        sent = client.ussd_request_payment(
            subscriber="+237690000100", amount=500, order_id="sync-1", notif_url="https://x/n"
        )
        assert sent.status == "PENDING" and sent.pay_token
        deadline = time.monotonic() + 5
        while (status := client.ussd_status(sent.pay_token)).status == "PENDING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status.status == "SUCCESSFULL" and status.txnid
    assert simulator.collected("sync-1") == 500


async def test_cauri_simulate_serves_both_orange_apis() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "orange_money", "--port", str(port), "--settle", "0.05"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_serving(f"{url}/_sim/state", process)
        async with (
            httpx.AsyncClient() as http,
            OrangeMoneyClient(
                client_id=DEFAULT_CLIENT_ID,
                client_secret=DEFAULT_CLIENT_SECRET,
                merchant_key=DEFAULT_MERCHANT_KEY,
                webpay_base_url=url,
                consumer_key=DEFAULT_CONSUMER_KEY,
                consumer_secret=DEFAULT_CONSUMER_SECRET,
                auth_token=DEFAULT_AUTH_TOKEN,
                channel_user_msisdn=DEFAULT_CHANNEL_USER,
                pin=DEFAULT_PIN,
                ussd_base_url=url,
                policy=POLICY,
            ) as client,
        ):
            web = await client.init_webpayment(
                order_id="cli-1",
                amount=100,
                notif_url="https://x/n",
                return_url="https://x",
                cancel_url="https://x",
            )
            await http.post(web.payment_url, data={"msisdn": "2250700000100", "otp": "1234"})
            status = await client.webpayment_status(order_id="cli-1", amount=100, pay_token=web.pay_token)
            assert status.status == "SUCCESS"
            sent = await client.ussd_request_payment(
                subscriber="+237690000100", amount=300, order_id="cli-2", notif_url="https://x/n"
            )
            await asyncio.sleep(0.3)
            assert (await client.ussd_status(str(sent.pay_token))).status == "SUCCESSFULL"
    finally:
        process.terminate()
        process.wait(timeout=10)
