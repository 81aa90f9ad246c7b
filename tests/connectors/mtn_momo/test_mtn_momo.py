"""MTN MoMo beyond the contract: 409 after a timeout, tokens per product, environments, sandbox numbers, clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from cauri.connectors.base import (
    CollectRequest,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.connectors.mobile_money.mtn_momo import (
    DEFAULT_API_KEY,
    DEFAULT_API_USER,
    DEFAULT_COLLECTION_KEY,
    DEFAULT_DISBURSEMENT_KEY,
    MtnMomoClient,
    MtnMomoConnector,
    MtnMomoSimulator,
    Party,
    Product,
    RequestToPay,
    SandboxBehaviour,
    SandboxNumber,
    Transfer,
    mtn_phone,
)
from cauri.connectors.mobile_money.mtn_momo import transformers as mtn
from cauri.connectors.registry import ConnectorConfig, registry
from cauri.kit.errors import (
    AuthError,
    FailureReason,
    InvalidRequest,
    InvalidSignature,
    PaymentNotFound,
    Timeout,
)
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, free_port, serve_app, serve_app_in_thread, wait_until_serving

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)


@dataclass
class World:
    simulator: MtnMomoSimulator
    url: str
    api_user: str
    api_key: str

    def connector(self, policy: HttpPolicy = POLICY, **options: object) -> MtnMomoConnector:
        settings: dict[str, object] = {
            "collection_key": SecretStr(self.simulator.keys["collection"]),
            "disbursement_key": SecretStr(self.simulator.keys["disbursement"]),
            "base_url": self.url,
            "policy": policy,
        }
        settings.update(options)
        return MtnMomoConnector(api_user=self.api_user, api_key=SecretStr(self.api_key), **settings)  # type: ignore[arg-type]


async def _world(**options: object) -> AsyncIterator[World]:
    # A fresh API user and key per test: tokens, breakers and limiters are process-wide per credential.
    api_user, api_key = str(uuid.uuid4()), uuid.uuid4().hex
    options.setdefault("settings", SimulatorSettings(settle_seconds=0.05))
    simulator = MtnMomoSimulator(api_user=api_user, api_key=api_key, callback_host="127.0.0.1", **options)  # type: ignore[arg-type]
    async with serve_app(simulator.app) as url:
        yield World(simulator, url, api_user, api_key)
    await simulator.aclose()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for item in _world():
        yield item


def _reference() -> str:
    return f"mtn-{uuid.uuid4().hex[:12]}"


async def _settle(connector: MtnMomoConnector, kind: PaymentKind, reference: str) -> PaymentStatus:
    deadline = time.monotonic() + 5
    while True:
        status = (
            await connector.collect_status(reference)
            if kind is PaymentKind.COLLECTION
            else await connector.payout_status(reference)
        )
        if status.status.is_final or time.monotonic() > deadline:
            return status.status
        await asyncio.sleep(0.05)


# -- X-Reference-Id: a retry after a timeout finds the first payment (409 = already have it) ------------------


async def test_a_retry_after_a_timeout_gets_409_and_creates_no_second_payment() -> None:
    async for world in _world(settings=SimulatorSettings(settle_seconds=0.05, slow_seconds=0.8)):
        impatient = POLICY.with_overrides(read_timeout=0.3, max_attempts=1)
        request = CollectRequest(_reference(), 1500, "EUR", mtn_phone(Outcome.SLOW))
        async with world.connector(impatient) as connector:
            with pytest.raises(Timeout) as raised:
                await connector.collect(request)
            assert raised.value.outcome_unknown and raised.value.retryable
        await asyncio.sleep(1.0)  # MTN finished creating it after our client gave up
        async with world.connector() as connector:
            again = await connector.collect(request)  # the payments module retries with the same reference
            assert again.provider_reference == mtn.reference_id(PaymentKind.COLLECTION, request.reference)
            assert again.status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)
            assert await _settle(connector, PaymentKind.COLLECTION, request.reference) is PaymentStatus.SUCCEEDED
        assert world.simulator.attempts(request.reference) == 2
        assert world.simulator.created(request.reference) == 1
        assert world.simulator.collected(request.reference) == 1500


async def test_a_409_for_another_payment_under_the_same_reference_is_a_duplicate(world: World) -> None:
    reference = _reference()
    async with world.connector() as connector:
        await connector.payout(PayoutRequest(reference, 1000, "EUR", mtn_phone(Outcome.SUCCESS)))
        with pytest.raises(InvalidRequest) as raised:
            await connector.payout(PayoutRequest(reference, 9999, "EUR", mtn_phone(Outcome.SUCCESS)))
    assert raised.value.reason is FailureReason.DUPLICATE
    assert world.simulator.created(reference) == 1
    assert world.simulator.paid_out(reference) == 1000


# -- refunds: POST /disbursement/v1_0/refund with referenceIdToRefund ------------------------------------------


async def _refund_settled(connector: MtnMomoConnector, request: RefundRequest) -> ProviderPayment:
    answer = await connector.refund(request)
    deadline = time.monotonic() + 5
    while not answer.status.is_final and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        answer = await connector.refund_status(request, answer.provider_reference)
    return answer


async def test_a_refund_names_the_request_to_pay_and_is_sent_once(world: World) -> None:
    collect = CollectRequest(_reference(), 1500, "EUR", mtn_phone(Outcome.SUCCESS))
    async with world.connector() as connector:
        paid = await connector.collect(collect)
        assert await _settle(connector, PaymentKind.COLLECTION, collect.reference) is PaymentStatus.SUCCEEDED
        request = RefundRequest(_reference(), paid.provider_reference, 500, "EUR", reason="Article manquant")
        first = await connector.refund(request)
        assert first.status is PaymentStatus.PENDING  # 202: MTN answers later, at GET …/refund/{id}
        assert first.provider_reference == mtn.reference_id("refund", request.reference)
        again = await connector.refund(request)  # a retry: 409 RESOURCE_ALREADY_EXIST, read, never a second one
        assert again.provider_reference == first.provider_reference
        done = await _refund_settled(connector, request)
        assert (done.status, done.amount) == (PaymentStatus.SUCCEEDED, 500)
        with pytest.raises(InvalidRequest) as reused:  # the same X-Reference-Id for another amount
            await connector.refund(RefundRequest(request.reference, paid.provider_reference, 700, "EUR"))
        assert reused.value.reason is FailureReason.DUPLICATE
        # More than what remains (1000): accepted, then FAILED, and nothing moves.
        over = await _refund_settled(connector, RefundRequest(_reference(), paid.provider_reference, 1001, "EUR"))
        assert (over.status, over.provider_status) == (PaymentStatus.FAILED, "FAILED")
    wire = world.simulator.transactions[("refund", first.provider_reference)].to_wire()
    assert wire["referenceIdToRefund"] == paid.provider_reference
    assert wire["payee"]["partyId"] == mtn.msisdn_to_wire(collect.payer_phone)
    assert world.simulator.refunded(collect.reference) == 500


async def test_the_v2_refund_path_answers_like_v1(world: World) -> None:
    async with world.connector() as connector:
        collect = CollectRequest(_reference(), 1500, "EUR", mtn_phone(Outcome.SUCCESS))
        paid = await connector.collect(collect)
        assert await _settle(connector, PaymentKind.COLLECTION, collect.reference) is PaymentStatus.SUCCEEDED
        http = connector.client.products[Product.DISBURSEMENT]
        reference_id = str(uuid.uuid4())
        body = {
            "amount": "1500",
            "currency": "EUR",
            "externalId": "v2-refund",
            "referenceIdToRefund": paid.provider_reference,
        }
        headers = {"X-Target-Environment": "sandbox"}
        response = await http.request(
            "POST",
            "/disbursement/v2_0/refund",
            operation="refund",
            json=body,
            headers=headers,
            idempotency_key=reference_id,
            idempotency_header="X-Reference-Id",
        )
        assert response.status_code == 202
    assert world.simulator.transactions[("refund", reference_id)].refund_of == paid.provider_reference


def test_reference_ids_are_stable_uuid4_per_kind() -> None:
    first = mtn.reference_id(PaymentKind.COLLECTION, "col-1")
    assert first == mtn.reference_id(PaymentKind.COLLECTION, "col-1")
    assert uuid.UUID(first).version == 4
    assert first != mtn.reference_id(PaymentKind.PAYOUT, "col-1")


# -- tokens: one per product, cached until it expires ----------------------------------------------------------


async def test_each_product_has_its_own_token_cached_until_expiry() -> None:
    # 61 s tokens minus the 60 s skew: reused for one second, then refreshed.
    async for world in _world(settings=SimulatorSettings(settle_seconds=0.05, token_lifetime_seconds=61)):
        async with world.connector() as connector:
            for _ in range(3):
                await connector.collect(CollectRequest(_reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS)))
            await connector.balance("EUR")  # disbursement product
            await connector.payout(PayoutRequest(_reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS)))
            assert dict(world.simulator.token_requests) == {"collection": 1, "disbursement": 1}
            await asyncio.sleep(1.1)
            await connector.collect(CollectRequest(_reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS)))
            assert dict(world.simulator.token_requests) == {"collection": 2, "disbursement": 1}


async def test_a_revoked_token_is_replaced_once(world: World) -> None:
    async with world.connector() as connector:
        await connector.balance("EUR")
        world.simulator.revoke_tokens()
        await connector.balance("EUR")
    assert world.simulator.token_requests["disbursement"] == 2


async def test_a_wrong_api_key_or_subscription_key_is_an_auth_error(world: World) -> None:
    request = CollectRequest(_reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS))
    bad_key = MtnMomoConnector(
        api_user=world.api_user,
        api_key=SecretStr("wrong"),
        collection_key=SecretStr(world.simulator.keys["collection"]),
        base_url=world.url,
        policy=POLICY,
    )
    async with bad_key:
        with pytest.raises(AuthError):
            await bad_key.collect(request)
    async with world.connector(collection_key=SecretStr("not-the-subscription-key")) as bad_subscription:
        with pytest.raises(AuthError):
            await bad_subscription.collect(request)
    only_collection = MtnMomoConnector(
        api_user=world.api_user,
        api_key=SecretStr(world.api_key),
        collection_key=SecretStr(world.simulator.keys["collection"]),
        base_url=world.url,
        policy=POLICY,
    )
    async with only_collection:
        with pytest.raises(AuthError) as raised:
            await only_collection.payout(PayoutRequest(_reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS)))
        assert raised.value.code == "connector_credentials_missing"
    assert world.simulator.attempts(request.reference) == 0


# -- X-Target-Environment per country ---------------------------------------------------------------------------


async def test_the_target_environment_follows_the_payers_country() -> None:
    async for world in _world(environments={"mtncameroon": "XAF", "mtnivorycoast": "XOF"}):
        options = {"target_environment": "mtncameroon", "target_environments": {"CI": "mtnivorycoast"}}
        async with world.connector(**options) as connector:
            cameroon = CollectRequest(_reference(), 1000, "XAF", "+237670000100")
            ivory = CollectRequest(_reference(), 2000, "XOF", "+2250700000100")
            await connector.collect(cameroon)
            await connector.collect(ivory)
            wrong = CollectRequest(_reference(), 1000, "XAF", "+2250700000100")
            with pytest.raises(InvalidRequest) as raised:
                await connector.collect(wrong)
            assert raised.value.reason is FailureReason.INVALID_CURRENCY
            assert await _settle(connector, PaymentKind.COLLECTION, ivory.reference) is PaymentStatus.SUCCEEDED
            assert (await connector.balance("XOF")).available == world.simulator.merchant_balance("XOF")
        environments = {t.external_id: t.environment for t in world.simulator.transactions.values()}
        assert environments == {cameroon.reference: "mtncameroon", ivory.reference: "mtnivorycoast"}
        assert world.simulator.attempts(wrong.reference) == 0


async def test_the_sandbox_takes_euros_only(world: World) -> None:
    async with world.connector() as connector:
        with pytest.raises(InvalidRequest) as raised:
            await connector.collect(CollectRequest(_reference(), 1000, "XAF", mtn_phone(Outcome.SUCCESS)))
    assert raised.value.reason is FailureReason.INVALID_CURRENCY


async def test_a_callback_url_off_the_api_users_host_is_refused() -> None:
    async for world in _world():
        world.simulator.users[world.api_user].callback_host = "callbacks.example.org"
        async with world.connector() as connector:
            request = CollectRequest(
                _reference(), 500, "EUR", mtn_phone(Outcome.SUCCESS), callback_url="https://evil.example.com/cb"
            )
            with pytest.raises(InvalidRequest) as raised:
                await connector.collect(request)
        assert raised.value.code == "invalid_callback_url_host"
        assert world.simulator.created(request.reference) == 0


# -- MTN's sandbox numbers ------------------------------------------------------------------------------------


async def test_46733123454_answers_created_then_successful_as_measured() -> None:
    async for world in _world(delayed_success_seconds=0.4):
        async with world.connector() as connector:
            request = CollectRequest(_reference(), 500, "EUR", mtn_phone(SandboxNumber.PENDING))
            await connector.collect(request)
            early = await connector.collect_status(request.reference)
            assert (early.status, early.provider_status) == (PaymentStatus.PENDING, "CREATED")
            assert await _settle(connector, PaymentKind.COLLECTION, request.reference) is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("number", "status", "provider_status", "reason"),
    [
        (SandboxNumber.FAILED, PaymentStatus.FAILED, "FAILED", FailureReason.PROVIDER_ERROR),
        (SandboxNumber.REJECTED, PaymentStatus.FAILED, "REJECTED", FailureReason.REJECTED_BY_PAYER),
        (SandboxNumber.TIMEOUT, PaymentStatus.EXPIRED, "EXPIRED", FailureReason.EXPIRED),
        (SandboxNumber.ONGOING, PaymentStatus.PENDING, "ONGOING", None),
        (SandboxNumber.PENDING, PaymentStatus.PENDING, "PENDING", None),
    ],
)
async def test_the_documented_sandbox_table(
    number: SandboxNumber, status: PaymentStatus, provider_status: str, reason: FailureReason | None
) -> None:
    async for world in _world(sandbox_behaviour=SandboxBehaviour.DOCUMENTED):
        async with world.connector() as connector:
            request = CollectRequest(_reference(), 500, "EUR", mtn_phone(number))
            await connector.collect(request)
            await asyncio.sleep(0.3)
            payment = await connector.collect_status(request.reference)
        assert (payment.status, payment.provider_status, payment.failure) == (status, provider_status, reason)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"status": "FAILED", "reason": {"code": "NOT_ENOUGH_FUNDS", "message": "x"}}, "failed", "insufficient_funds"),
        ({"status": "FAILED", "reason": "SOMETHING_NEW"}, "failed", "provider_error"),
        ({"status": "AUTHORIZED"}, "pending", None),
        ({"status": "SUCCESSFUL"}, "succeeded", None),
    ],
)
def test_status_words_and_both_reason_shapes(body: dict[str, object], status: str, reason: str | None) -> None:
    wire = mtn.status_from_json({"externalId": "r", "amount": "5", "currency": "EUR", **body})
    payment = mtn.payment_from_status(wire, kind=PaymentKind.COLLECTION, reference="r", provider_reference="p", raw={})
    assert payment.status.value == status
    assert (payment.failure.value if payment.failure else None) == reason


# -- callbacks, account, balance -----------------------------------------------------------------------------


async def test_the_callback_is_a_put_naming_our_reference_and_confirmed_by_a_status_query() -> None:
    async for world in _world():
        sink = CallbackSink()
        async with serve_app(sink) as sink_url, world.connector() as connector:
            request = CollectRequest(
                _reference(), 700, "EUR", mtn_phone(Outcome.SUCCESS), callback_url=f"{sink_url}/hook?org=o-1"
            )
            await connector.collect(request)
            [callback] = await sink.wait_for(1, path="/hook")
            assert callback.method == "PUT"
            assert sink.received[0].path == "/hook"
            connector.verify_callback(callback.headers, callback.body)
            event = connector.parse_callback(callback.headers, callback.body)
            assert (event.reference, event.signed, event.status) == (request.reference, False, PaymentStatus.SUCCEEDED)
            assert event.provider_reference == mtn.reference_id(PaymentKind.COLLECTION, request.reference)
            confirmed = await connector.collect_status(request.reference, event.provider_reference)
            assert confirmed.status is PaymentStatus.SUCCEEDED
        sent = world.simulator.transactions[("collection", event.provider_reference)].callback_url
        assert sent is not None and parse_qs(urlsplit(sent).query) == {"org": ["o-1"], "reference": [request.reference]}


def test_a_callback_without_our_reference_is_refused() -> None:
    connector = MtnMomoConnector(api_user="u", api_key=SecretStr("k"), base_url="http://127.0.0.1:9")
    with pytest.raises(InvalidSignature) as raised:
        connector.verify_callback({}, json.dumps({"status": "SUCCESSFUL", "amount": "5"}).encode())
    assert raised.value.code == "callback_unconfirmable"


async def test_account_holder_and_name_from_basic_user_info(world: World) -> None:
    async with world.connector() as connector:
        holder = await connector.account_holder(mtn_phone(Outcome.SUCCESS))
        assert holder.active and holder.name == "Awa Abonnée 100"
        assert not (await connector.account_holder(mtn_phone(Outcome.ACCOUNT_INACTIVE))).active
        with pytest.raises(PaymentNotFound):
            await connector.collect_status("never-sent")


def test_the_registry_builds_from_credentials_and_settings() -> None:
    config = ConnectorConfig(
        provider="mtn_momo",
        credentials={
            "api_user": SecretStr(DEFAULT_API_USER),
            "api_key": SecretStr("k"),
            "collection_subscription_key": SecretStr("c"),
        },
        settings={"target_environment": "mtncameroon", "target_environments": "CI=mtnivorycoast, BJ=mtnbenin"},
    )
    connector = registry.build(config)
    assert isinstance(connector, MtnMomoConnector)
    assert connector.client.base_url == "https://proxy.momoapi.mtn.com"
    assert connector.environment_for("+22997000100") == "mtnbenin"
    assert connector.environment_for("+237670000100") == "mtncameroon"
    assert not connector.client.has(Product.DISBURSEMENT)


# -- standalone client ------------------------------------------------------------------------------------------


async def test_the_async_client_provisions_pays_transfers_and_confirms(world: World) -> None:
    api_user, api_key = await MtnMomoClient.provision_sandbox_user(
        subscription_key=world.simulator.keys["collection"], callback_host="127.0.0.1", base_url=world.url
    )
    sink = CallbackSink()
    async with (
        serve_app(sink) as sink_url,
        MtnMomoClient(
            api_user=api_user,
            api_key=api_key,
            collection_key=world.simulator.keys["collection"],
            disbursement_key=world.simulator.keys["disbursement"],
            base_url=world.url,
            policy=POLICY,
        ) as momo,
    ):
        body = RequestToPay(amount="12.5", currency="EUR", external_id="order-7", payer=Party(party_id="46733123454"))
        reference_id = await momo.request_to_pay(body, callback_url=f"{sink_url}/momo")
        assert await momo.request_to_pay(body, reference_id=reference_id) == reference_id  # 409: already there
        assert world.simulator.created("order-7") == 1
        await momo.wait(reference_id, within=0.2, interval=0.05)
        transfer_id = await momo.transfer(
            Transfer(amount="3", currency="EUR", external_id="payout-7", payee=Party(party_id="46733123999"))
        )
        done = await momo.wait(transfer_id, product=Product.DISBURSEMENT, within=5, interval=0.05)
        assert done.status == "SUCCESSFUL" and done.financial_transaction_id
        assert (await momo.balance()).currency == "EUR"
        assert await momo.is_active("+46733123100") and not await momo.is_active("46733123901")
        info = await momo.basic_user_info("46733123100")
        assert info is not None and info.full_name == "Awa Abonnée 100"
    assert world.simulator.paid_out("payout-7") == 300


def test_the_blocking_client_runs_without_asyncio() -> None:
    simulator = MtnMomoSimulator(settings=SimulatorSettings(settle_seconds=0.05))
    with (
        serve_app_in_thread(simulator.app) as url,
        MtnMomoClient.blocking(
            api_user=DEFAULT_API_USER,
            api_key=DEFAULT_API_KEY,
            collection_key=DEFAULT_COLLECTION_KEY,
            base_url=url,
            policy=POLICY,
        ) as momo,
    ):
        reference_id = momo.request_to_pay(
            RequestToPay(amount="2", currency="EUR", external_id="sync-1", payer=Party(party_id="46733123451"))
        )
        status = momo.wait(reference_id, within=5, interval=0.05)
        assert (status.status, status.reason_code) == ("FAILED", "APPROVAL_REJECTED")
        assert momo.balance(Product.COLLECTION).available_balance == "10000000"
    assert simulator.created("sync-1") == 1


async def test_cauri_simulate_serves_mtn_with_the_demo_credentials() -> None:
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "mtn_momo", "--port", str(port), "--settle", "0.05"]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_serving(f"{url}/_sim/state", process)
        async with MtnMomoClient(
            api_user=DEFAULT_API_USER,
            api_key=DEFAULT_API_KEY,
            collection_key=DEFAULT_COLLECTION_KEY,
            disbursement_key=DEFAULT_DISBURSEMENT_KEY,
            base_url=url,
            policy=POLICY,
        ) as momo:
            body = RequestToPay(amount="5", currency="EUR", external_id="cli-1", payer=Party(party_id="46733123100"))
            reference_id = await momo.request_to_pay(body)
            assert (await momo.wait(reference_id, within=5, interval=0.05)).status == "SUCCESSFUL"
    finally:
        process.terminate()
        process.wait(timeout=10)
