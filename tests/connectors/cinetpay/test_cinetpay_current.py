"""CinetPay's current API (``api_version: v1``) beyond the contract, and the doubled slash of CinetPay's front end.

The raw requests have the shapes of CinetPay's cinetpay-python SDK (``auth/authenticator.py`` login,
``types/payment.py`` ``serialize_payment_request``, ``types/transfer.py``, ``api/balance.py``), sent over HTTP to
the simulator; the SDK itself is not vendored.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentKind, PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.cinetpay import (
    CinetPayConnector,
    CinetPayCurrentClient,
    CinetPaySimulator,
    CinetPayV1Connector,
    magic_phone,
    transformers,
)
from cauri.connectors.mobile_money.cinetpay.client import V1_LIVE_URL, V1_SANDBOX_URL, v1_base_url
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.kit.errors import AuthError, InvalidSignature
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, serve_app, serve_app_in_thread

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100)
KEY, PASSWORD = "sk_test_current_api", "cp-password-current"
FAST = SimulatorSettings(settle_seconds=0.05)


@pytest.fixture
async def site() -> AsyncIterator[tuple[CinetPaySimulator, CinetPayV1Connector, CallbackSink, str]]:
    simulator = CinetPaySimulator(apikey=KEY, api_password=PASSWORD, settings=FAST)
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        connector = CinetPayV1Connector(
            api_key=SecretStr(KEY), api_password=SecretStr(PASSWORD), base_url=url, policy=POLICY
        )
        async with connector:
            yield simulator, connector, sink, sink_url
    await simulator.aclose()


def test_the_host_follows_the_key_prefix_as_in_the_sdks() -> None:
    assert v1_base_url("sk_test_abc") == V1_SANDBOX_URL
    assert v1_base_url("sk_live_abc") == V1_LIVE_URL
    assert v1_base_url("sk_live_abc", "http://127.0.0.1:8092/") == "http://127.0.0.1:8092"


async def test_the_sdk_request_shapes(site: tuple[CinetPaySimulator, CinetPayV1Connector, CallbackSink, str]) -> None:
    simulator, _connector, _sink, _url = site
    async with serve_app(simulator.app) as url, httpx.AsyncClient(base_url=url) as http:
        refused = await http.post("/v1/oauth/login", json={"api_key": KEY, "api_password": "wrong"})
        assert refused.status_code == 401 and refused.json()["status"] == "INVALID_CREDENTIALS"
        login = await http.post("/v1/oauth/login", json={"api_key": KEY, "api_password": PASSWORD})
        token = login.json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/v1/balances")).json()["code"] == 1002, "no token, no answer"
        body = {  # serialize_payment_request, without direct_pay: the payer chooses on CinetPay's page
            "currency": "XOF",
            "merchant_transaction_id": f"sdk-{uuid.uuid4().hex[:10]}",
            "amount": 1000,
            "lang": "fr",
            "designation": "Commande 42",
            "client_email": "awa@example.com",
            "client_first_name": "Awa",
            "client_last_name": "Diallo",
            "success_url": "https://shop.example/ok",
            "failed_url": "https://shop.example/ko",
            "notify_url": "http://127.0.0.1:9/notify",
            "channel": "PUSH",
        }
        opened = (await http.post("/v1/payment", json=body, headers=bearer)).json()
        assert {"code", "status", "payment_token", "notify_token", "transaction_id", "payment_url", "details"} <= set(
            opened
        )
        assert opened["merchant_transaction_id"] == body["merchant_transaction_id"]
        assert opened["details"]["must_be_redirected"] is True
        for identifier in (opened["payment_token"], opened["transaction_id"], body["merchant_transaction_id"]):
            status = (await http.get(f"/v1/payment/{identifier}", headers=bearer)).json()
            assert status["transaction_id"] == opened["transaction_id"], identifier
        again = await http.post("/v1/payment", json=body, headers=bearer)
        assert again.status_code == 400 and again.json()["code"] == 1200, "TRANSACTION_EXIST"
        wrong = await http.post("/v1/payment", json={**body, "channel": "WEB"}, headers=bearer)
        assert wrong.json()["status"] == "INVALID_PARAMS" and "channel" in wrong.json()["description"]
        balance = (await http.get("/v1/balances", headers=bearer)).json()
        assert balance["status"] == "OK" and balance["currency"] == "XOF" and int(balance["available_balance"]) > 0


async def test_a_doubled_slash_reaches_the_endpoint_on_both_apis() -> None:
    simulator = CinetPaySimulator(apikey=KEY, site_id="105900", api_password=PASSWORD, settings=FAST)
    async with serve_app(simulator.app) as url, httpx.AsyncClient(base_url=url) as http:
        reference = f"ds-{uuid.uuid4().hex[:10]}"
        opened = await http.post(
            "/v2//payment",
            json={
                "apikey": KEY,
                "site_id": "105900",
                "transaction_id": reference,
                "amount": 1000,
                "currency": "XOF",
                "description": "Commande",
                "notify_url": "http://127.0.0.1:9/notify",
            },
        )
        assert opened.json()["code"] == "201", opened.text
        check = await http.post(
            "/v2/payment//check", json={"apikey": KEY, "site_id": "105900", "transaction_id": reference}
        )
        assert check.status_code == 200
        login = await http.post("/v1//oauth/login", json={"api_key": KEY, "api_password": PASSWORD})
        assert login.status_code == 200
    # A connector whose base URL ends in a slash works as well.
    async with (
        serve_app(simulator.app) as url,
        CinetPayV1Connector(
            api_key=SecretStr(KEY), api_password=SecretStr(PASSWORD), base_url=f"{url}//", policy=POLICY
        ) as connector,
    ):
        assert (await connector.balance("XOF")).available == simulator.merchant_balance("XOF")
    await simulator.aclose()


async def test_an_expired_token_is_renewed_and_the_call_replayed(
    site: tuple[CinetPaySimulator, CinetPayV1Connector, CallbackSink, str],
) -> None:
    simulator, connector, _sink, _url = site
    await connector.balance("XOF")
    assert simulator.logins == 1
    await connector.balance("XOF")
    assert simulator.logins == 1, "the token is reused"
    simulator.expire_tokens()
    assert (await connector.balance("XOF")).available == simulator.merchant_balance("XOF")
    assert simulator.logins == 2
    simulator.token_error_status = 200  # the refusal said in the body only, as the SDK also reads it
    simulator.expire_tokens()
    reference = f"tk-{uuid.uuid4().hex[:10]}"
    request = CollectRequest(reference, 1000, "XOF", magic_phone(Outcome.SUCCESS), "x", "http://127.0.0.1:9/n")
    assert (await connector.collect(request)).provider_reference
    assert simulator.logins == 3 and simulator.created(reference) == 1


async def test_wrong_password_is_an_auth_error(
    site: tuple[CinetPaySimulator, CinetPayV1Connector, CallbackSink, str],
) -> None:
    _simulator, connector, _sink, _url = site
    async with CinetPayV1Connector(
        api_key=SecretStr(KEY + "x"), api_password=SecretStr(PASSWORD), base_url=connector.client.http.base_url
    ) as wrong:
        with pytest.raises(AuthError):
            await wrong.balance("XOF")


async def test_notifications_carry_the_init_token_and_say_payment_or_transfer(
    site: tuple[CinetPaySimulator, CinetPayV1Connector, CallbackSink, str],
) -> None:
    _simulator, connector, sink, sink_url = site
    request = CollectRequest(
        f"nt-{uuid.uuid4().hex[:10]}", 2500, "XOF", magic_phone(Outcome.SUCCESS), "Commande", f"{sink_url}/n/pay"
    )
    payment = await connector.collect(request)
    assert payment.callback_token and payment.raw["details"]["must_be_redirected"] is False, "direct push (OM_CI)"
    received = (await sink.wait_for(1, path="/n/pay"))[0]
    assert received.headers["content-type"].startswith("application/json")
    connector.verify_callback(received.headers, received.body)
    event = connector.parse_callback(received.headers, received.body)
    assert (event.kind, event.status, event.signed) == (PaymentKind.COLLECTION, PaymentStatus.SUCCEEDED, False)
    assert event.reference == request.reference and event.callback_token == payment.callback_token
    assert CinetPayV1Connector.verify_notify_token(received.body, payment.callback_token).reference == request.reference
    with pytest.raises(InvalidSignature):
        CinetPayV1Connector.verify_notify_token(received.body, "another-payment-token")
    forged = json.loads(received.body)
    del forged["notify_token"]
    with pytest.raises(InvalidSignature):
        connector.verify_callback({}, json.dumps(forged).encode())

    payout = PayoutRequest(
        f"tr-{uuid.uuid4().hex[:10]}", 1500, "XOF", magic_phone(Outcome.SUCCESS, "SN"), callback_url=f"{sink_url}/n/tr"
    )
    first = await connector.payout(payout)
    assert first.kind is PaymentKind.PAYOUT and first.fee == 15
    received = (await sink.wait_for(1, path="/n/tr"))[0]
    connector.verify_callback(received.headers, received.body)
    event = connector.parse_callback(received.headers, received.body)
    assert (event.kind, event.status, event.reference) == (
        PaymentKind.PAYOUT,
        PaymentStatus.SUCCEEDED,
        payout.reference,
    )
    assert json.loads(received.body)["notify_token"] == first.callback_token


def test_status_words_and_codes() -> None:
    def outcome(raw: dict[str, Any], kind: PaymentKind = PaymentKind.COLLECTION) -> tuple[PaymentStatus, Any]:
        payment = transformers.v1_status_to_payment(raw, "ref-1", kind)
        return payment.status, payment.failure

    base = {"merchant_transaction_id": "ref-1", "transaction_id": "CP1", "amount": "2500", "currency": "XOF"}
    assert outcome({**base, "code": 100, "status": "SUCCESS"}) == (PaymentStatus.SUCCEEDED, None)
    assert outcome({**base, "code": 2005}) == (PaymentStatus.FAILED, transformers.FailureReason.INSUFFICIENT_FUNDS)
    assert outcome({**base, "code": 2006, "status": "USER_NOT_FOUND"}, PaymentKind.PAYOUT)[1] is (
        transformers.FailureReason.PAYEE_NOT_FOUND
    )
    assert outcome({**base, "code": 2002, "status": "SOMETHING_NEW"})[0] is PaymentStatus.PENDING
    # An error inside a 200 is told as the SDK tells it: a code outside 200/100/2001/2002 *with* a description.
    assert transformers.v1_error_in_answer({"code": 2005, "status": "INSUFFICIENT_BALANCE"}) is None
    refused = transformers.v1_error_in_answer({"code": "2005", "status": "", "description": "Solde insuffisant"})
    assert (
        isinstance(refused, transformers.Declined) and refused.reason is transformers.FailureReason.INSUFFICIENT_FUNDS
    )
    assert transformers.v1_error_in_answer({"code": 100, "status": "SUCCESS", "description": "ok"}) is None
    with pytest.raises(transformers.ConnectorError):
        transformers.v1_status_to_payment({"code": 100, "status": "SUCCESS"}, "ref-1", PaymentKind.COLLECTION)


async def test_the_registry_chooses_the_api_by_configuration() -> None:
    simulator = CinetPaySimulator(apikey=KEY, api_password=PASSWORD, settings=FAST)
    async with serve_app(simulator.app) as url:
        common = {"apikey": SecretStr(KEY)}
        v1 = registry.config_for(
            "cinetpay",
            app_settings=Settings(),
            credentials={**common, "api_password": SecretStr(PASSWORD), "api_version": SecretStr("v1")},
            settings={"base_url": url},
        )
        async with registry.build(v1) as connector:
            assert isinstance(connector, CinetPayV1Connector)
            reference = f"rg-{uuid.uuid4().hex[:10]}"
            await connector.collect(
                CollectRequest(reference, 1000, "XOF", magic_phone(Outcome.SUCCESS), "x", "http://127.0.0.1:9/n")
            )
            for _ in range(100):
                if (await connector.collect_status(reference)).status.is_final:
                    break
                await asyncio.sleep(0.02)
            assert (await connector.collect_status(reference)).status is PaymentStatus.SUCCEEDED
        v2 = registry.config_for(
            "cinetpay",
            app_settings=Settings(),
            credentials={**common, "site_id": SecretStr("105900"), "secret_key": SecretStr("s")},
            settings={"base_url": f"{url}/v2"},
        )
        async with registry.build(v2) as connector:
            assert isinstance(connector, CinetPayConnector)
        bad = registry.config_for(
            "cinetpay", app_settings=Settings(), credentials={**common, "api_version": SecretStr("v9")}, settings={}
        )
        with pytest.raises(AuthError):
            registry.build(bad)
    await simulator.aclose()


def test_the_blocking_standalone_client() -> None:
    simulator = CinetPaySimulator(apikey=KEY, api_password=PASSWORD, settings=FAST)
    with (
        serve_app_in_thread(simulator.app) as url,
        CinetPayCurrentClient(api_key=KEY, api_password=PASSWORD, base_url=url, policy=POLICY).sync() as client,
    ):
        reference = f"sc-{uuid.uuid4().hex[:10]}"
        opened = client.payment(
            CollectRequest(reference, 1000, "XOF", magic_phone(Outcome.SUCCESS, "SN"), "x", "http://127.0.0.1:9/n")
        )
        assert opened.callback_token
        deadline = time.monotonic() + 5
        while not (payment := client.status(reference)).status.is_final:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert payment.status is PaymentStatus.SUCCEEDED and payment.amount == 1000
        body = json.dumps(
            {"notify_token": opened.callback_token, "transaction_id": "CP1", "merchant_transaction_id": reference}
        )
        assert client.verify_notification(body.encode(), opened.callback_token).reference == reference
        assert client.balance("XOF").available == simulator.merchant_balance("XOF")
    assert simulator.collected(reference) == 1000
