"""Moov beyond the contract: SOAP envelopes and faults, malformed and hostile XML, polling only, clients, CLI."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cauri.connectors.base import Capability, CollectRequest, PaymentKind, PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.moov import MoovClient, MoovConnector, MoovSimulator, magic_phone, soap, transformers
from cauri.connectors.mobile_money.moov.client import SERVICE_PATH
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.kit.errors import AuthError, ConnectorError, Declined, FailureReason, Unsupported
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app, serve_app_in_thread
from tests.connectors.mojaloop.cli import simulate

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100)
TOKEN = "moov-test-token"
FAST = SimulatorSettings(settle_seconds=0.05)


@pytest.fixture
async def moov() -> AsyncIterator[tuple[MoovSimulator, MoovConnector]]:
    simulator = MoovSimulator(token=TOKEN, settings=FAST)
    async with serve_app(simulator.app) as url:
        connector = MoovConnector(base_url=url, token=SecretStr(TOKEN), policy=POLICY)
        yield simulator, connector
        await connector.aclose()
    await simulator.aclose()


def ref() -> str:
    return f"mv-{uuid.uuid4().hex[:12]}"


async def settle(connector: MoovConnector, reference: str, payout: bool = False) -> PaymentStatus:
    for _ in range(100):
        status = await (connector.payout_status(reference) if payout else connector.collect_status(reference))
        if status.status.is_final:
            return status.status
        await asyncio.sleep(0.02)
    return PaymentStatus.PENDING


def test_envelopes_are_soap_1_1_in_the_service_namespace() -> None:
    raw = soap.envelope("PushWithPending", {"token": "t", "msisdn": "22995000100", "amount": 500, "fee": 0})
    assert b"http://schemas.xmlsoap.org/soap/envelope/" in raw and b"http://api.merchant.tlc.com/" in raw
    assert soap.call_of(raw) == (
        "PushWithPending",
        {"token": "t", "msisdn": "22995000100", "amount": "500", "fee": "0"},
    )
    answer = soap.response_envelope("PushWithPending", {"status": "100", "referenceid": "MV1"})
    assert soap.result_of(answer, "PushWithPending") == {"status": "100", "referenceid": "MV1"}
    fault = soap.fault_of(soap.fault_envelope("soap:Client", "Invalid token"))
    assert fault == soap.SoapFault("soap:Client", "Invalid token")


@pytest.mark.parametrize(
    "hostile",
    [
        b"<not xml",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b"<plain>not an envelope</plain>",
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>',
    ],
)
def test_malformed_or_hostile_xml_is_refused(hostile: bytes) -> None:
    with pytest.raises(soap.MalformedXml):
        soap.result_of(hostile, "PushWithPending")


async def test_malformed_answers_are_errors_never_successes() -> None:
    answers = iter(
        [
            (200, b"<html>502 Bad Gateway</html>"),
            (200, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'),
            (200, soap.response_envelope("SomethingElse", {"status": "0"})),
            (200, soap.fault_envelope("soap:Server", "Invalid token")),
        ]
    )

    async def endpoint(_request: Request) -> Response:
        status, body = next(answers)
        return Response(body, status_code=status, media_type="text/xml")

    app = Starlette(routes=[Route(SERVICE_PATH, endpoint, methods=["POST"])])
    async with serve_app(app) as url:
        connector = MoovConnector(base_url=url, token=SecretStr(TOKEN), policy=POLICY)
        request = CollectRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS))
        for _ in range(3):
            with pytest.raises(ConnectorError) as raised:
                await connector.collect(request)
            assert raised.value.code == "provider_unreadable_answer"
        with pytest.raises(AuthError):  # a fault carried by HTTP 200 is still a refusal
            await connector.collect(request)
        await connector.aclose()


@pytest.mark.parametrize(
    ("read", "result"),
    [
        (
            lambda r: transformers.payment_from_result(
                r, reference="r", amount=1, currency="XOF", kind=PaymentKind.COLLECTION
            ),
            {"status": "0", "referenceid": "T1", "amount": "cent"},
        ),
        (transformers.balance_from_result, {"status": "0"}),  # no balance element
        (transformers.balance_from_result, {"status": "0", "balance": "beaucoup"}),
    ],
)
def test_results_of_another_shape_are_unreadable(
    read: Callable[[dict[str, str]], object], result: dict[str, str]
) -> None:
    with pytest.raises(ConnectorError) as caught:
        read(result)
    assert caught.value.code == "provider_unreadable_answer"


def test_an_account_is_active_only_when_moov_answers_success() -> None:
    found = transformers.account_from_result({"status": "0", "firstname": "Awa", "lastname": "Koné"})
    assert (found.active, found.name) == (True, "Awa Koné")
    assert not transformers.account_from_result({"status": "0", "subscriberstatus": "SUSPENDED"}).active
    assert not transformers.account_from_result({"status": "12"}).active


async def test_soap_faults(moov: tuple[MoovSimulator, MoovConnector]) -> None:
    simulator, connector = moov
    wrong = MoovConnector(base_url=connector.client.http.base_url, token=SecretStr("wrong"), policy=POLICY)
    with pytest.raises(AuthError) as raised:
        await wrong.balance("XOF")
    assert not raised.value.retryable
    assert simulator.requests["getBalance"] == 1, "a refused token is not retried"
    await wrong.aclose()
    renamed = MoovConnector(
        base_url=connector.client.http.base_url, token=SecretStr(TOKEN), operations={"balance": "nope"}, policy=POLICY
    )
    with pytest.raises(ConnectorError):
        await renamed.balance("XOF")
    await renamed.aclose()
    async with httpx.AsyncClient() as http:
        wsdl = await http.get(f"{connector.client.http.base_url}{SERVICE_PATH}?wsdl")
    assert "PushWithPending" in wsdl.text


async def test_polling_only(moov: tuple[MoovSimulator, MoovConnector]) -> None:
    _simulator, connector = moov
    assert not connector.supports(Capability.CALLBACKS)
    with pytest.raises(Unsupported):
        connector.parse_callback({}, b"<x/>")
    with pytest.raises(Unsupported):
        connector.verify_callback({}, b"<x/>")


async def test_push_transfer_balance_and_account(moov: tuple[MoovSimulator, MoovConnector]) -> None:
    simulator, connector = moov
    collect = CollectRequest(ref(), 3000, "XOF", magic_phone(Outcome.SUCCESS))
    first = await connector.collect(collect)
    assert first.status is PaymentStatus.PENDING and first.provider_status == "100"
    assert await settle(connector, collect.reference) is PaymentStatus.SUCCEEDED
    before = (await connector.balance("XOF")).available
    payout = PayoutRequest(ref(), 2000, "XOF", magic_phone(Outcome.SUCCESS, "TG"))
    await connector.payout(payout)
    assert await settle(connector, payout.reference, payout=True) is PaymentStatus.SUCCEEDED
    assert before - (await connector.balance("XOF")).available == 2000 == simulator.paid_out(payout.reference)
    with pytest.raises(Declined) as raised:
        await connector.payout(PayoutRequest(ref(), 2000, "XOF", magic_phone(Outcome.NOT_FOUND)))
    assert raised.value.reason is FailureReason.PAYEE_NOT_FOUND
    holder = await connector.account_holder(magic_phone(Outcome.SUCCESS))
    assert holder.active and holder.name
    assert (await connector.account_holder(magic_phone(Outcome.ACCOUNT_INACTIVE))).active is False


async def test_standalone_async_client(moov: tuple[MoovSimulator, MoovConnector]) -> None:
    simulator, connector = moov
    async with MoovClient(base_url=connector.client.http.base_url, token=TOKEN, policy=POLICY) as client:
        request = CollectRequest(ref(), 1500, "XOF", magic_phone(Outcome.REJECTED_BY_PAYER))
        await client.push(request)
        for _ in range(100):
            status = await client.status(request.reference)
            if status.status.is_final:
                break
            await asyncio.sleep(0.02)
        assert status.failure is FailureReason.REJECTED_BY_PAYER
        assert (await client.balance()).available == simulator.merchant_balance("XOF")


def test_standalone_sync_client() -> None:
    simulator = MoovSimulator(token=TOKEN, settings=FAST)
    with (
        serve_app_in_thread(simulator.app) as url,
        MoovClient(base_url=url, token=TOKEN, policy=POLICY).sync() as client,
    ):
        request = CollectRequest(ref(), 2500, "XOF", magic_phone(Outcome.SUCCESS, "TG"))
        assert client.push(request).status is PaymentStatus.PENDING
        deadline = time.monotonic() + 5
        while not (status := client.status(request.reference)).status.is_final:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert status.status is PaymentStatus.SUCCEEDED
        assert client.mobile_status(magic_phone(Outcome.SUCCESS)).active
    assert simulator.collected(request.reference) == 2500


async def test_cauri_simulate_moov() -> None:
    async with simulate("moov", f"{SERVICE_PATH}?wsdl", extra_args=("--settle", "0.05")) as url:
        config = registry.config_for(
            "moov",
            app_settings=Settings(),
            credentials={"token": SecretStr("moov-merchant-token")},
            settings={"base_url": url},
        )
        async with registry.build(config) as connector:
            assert isinstance(connector, MoovConnector)
            request = CollectRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS))
            await connector.collect(request)
            assert await settle(connector, request.reference) is PaymentStatus.SUCCEEDED
