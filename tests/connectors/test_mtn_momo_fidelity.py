"""MTN MoMo as its Open API specification and SDKs show it: deposits, requests to withdraw, delivery notifications,
balances per currency, account holders by type, failure reasons in both forms, keys shaped like MTN's."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from cauri.connectors.base import CollectRequest, PaymentKind, PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.mtn_momo import (
    DEFAULT_API_KEY,
    DEFAULT_API_USER,
    DEFAULT_COLLECTION_KEY,
    DEFAULT_DISBURSEMENT_KEY,
    MtnMomoClient,
    MtnMomoConnector,
    MtnMomoSimulator,
    Party,
    PayoutOperation,
    Product,
    ReasonFormat,
    RequestToPay,
    RequestToWithdraw,
    TransactionStatus,
    Transfer,
    mtn_phone,
)
from cauri.connectors.mobile_money.mtn_momo import transformers as mtn
from cauri.connectors.registry import ConnectorConfig, registry
from cauri.kit.errors import Declined, FailureReason, InvalidRequest, PaymentNotFound
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)
HEX32 = re.compile(r"[0-9a-f]{32}")
T = TypeVar("T")


async def _eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 5.0) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        await asyncio.sleep(0.02)


def _final(status: TransactionStatus) -> bool:
    return status.status in ("SUCCESSFUL", "FAILED")


@dataclass
class World:
    simulator: MtnMomoSimulator
    url: str
    api_user: str
    api_key: str

    def client(self) -> MtnMomoClient:
        return MtnMomoClient(
            api_user=self.api_user,
            api_key=self.api_key,
            collection_key=self.simulator.keys["collection"],
            disbursement_key=self.simulator.keys["disbursement"],
            base_url=self.url,
            policy=POLICY,
        )

    def connector(self, **options: object) -> MtnMomoConnector:
        return MtnMomoConnector(
            api_user=self.api_user,
            api_key=SecretStr(self.api_key),
            collection_key=SecretStr(self.simulator.keys["collection"]),
            disbursement_key=SecretStr(self.simulator.keys["disbursement"]),
            base_url=self.url,
            policy=POLICY,
            **options,  # type: ignore[arg-type]
        )

    async def token(self, http: httpx.AsyncClient, product: str) -> str:
        """``POST /{product}/token/`` exactly as MTN's SDKs do: Basic apiUser:apiKey and the product's key."""
        basic = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        answer = await http.post(
            f"/{product}/token/",
            headers={"Authorization": f"Basic {basic}", "Ocp-Apim-Subscription-Key": self.simulator.keys[product]},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


@asynccontextmanager
async def _world(**options: object) -> AsyncIterator[World]:
    api_user, api_key = str(uuid.uuid4()), uuid.uuid4().hex  # fresh: tokens and breakers are per credential
    simulator = MtnMomoSimulator(
        api_user=api_user,
        api_key=api_key,
        callback_host="127.0.0.1",
        settings=SimulatorSettings(settle_seconds=0.02),
        **options,  # type: ignore[arg-type]
    )
    async with serve_app(simulator.app) as url:
        yield World(simulator, url, api_user, api_key)
    await simulator.aclose()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with _world() as item:
        yield item


def _external() -> str:
    return f"mtn-{uuid.uuid4().hex[:12]}"


def _party(outcome: Outcome = Outcome.SUCCESS) -> Party:
    return Party(party_id=mtn_phone(outcome).removeprefix("+"))


# -- credentials ---------------------------------------------------------------------------------------------------


async def test_demo_and_provisioned_keys_are_shaped_like_mtn_s(world: World) -> None:
    for key in (DEFAULT_API_KEY, DEFAULT_COLLECTION_KEY, DEFAULT_DISBURSEMENT_KEY):
        assert HEX32.fullmatch(key), key
    assert str(uuid.UUID(DEFAULT_API_USER)) == DEFAULT_API_USER
    user, key = await MtnMomoClient.provision_sandbox_user(
        subscription_key=world.simulator.keys["collection"], callback_host="127.0.0.1", base_url=world.url
    )
    assert HEX32.fullmatch(key) and str(uuid.UUID(user)) == user


# -- deposits ------------------------------------------------------------------------------------------------------


async def test_deposits_v1_and_v2_pay_out_and_both_read_at_v1_0(world: World) -> None:
    async with world.client() as client:
        made: dict[str, str] = {}
        for version, amount in (("v1_0", "3"), ("v2_0", "4")):
            external = _external()
            body = Transfer(amount=amount, currency="EUR", external_id=external, payee=_party())
            reference_id = await client.deposit(body, version=version)
            assert await client.deposit(body, version=version, reference_id=reference_id) == reference_id  # 409
            made[external] = reference_id
        for external, reference_id in made.items():
            status = await _eventually(lambda r=reference_id: client.get_deposit(r), _final)  # type: ignore[misc]
            assert (status.status, status.external_id, status.payee) == ("SUCCESSFUL", external, _party())
            with pytest.raises(PaymentNotFound):  # a deposit is not a transfer ("?": the simulator keeps them apart)
                await client.get_transfer(reference_id)
            assert world.simulator.created(external) == 1
    assert sorted(world.simulator.paid_out(external) for external in made) == [300, 400]
    assert world.simulator.requests["POST /disbursement/deposit"] == 4  # two creates, two 409 replays


async def test_the_connector_pays_out_by_deposit_and_finds_a_payout_whatever_the_operation(world: World) -> None:
    request = PayoutRequest(_external(), 250, "EUR", mtn_phone(Outcome.SUCCESS))
    async with world.connector(payout_operation="deposit_v2") as by_deposit:
        sent = await by_deposit.payout(request)
        assert sent.status is PaymentStatus.PENDING
        done = await _eventually(lambda: by_deposit.payout_status(request.reference), lambda p: p.status.is_final)
        assert done.status is PaymentStatus.SUCCEEDED
    assert world.simulator.requests["POST /disbursement/deposit"] == 1
    assert world.simulator.requests["POST /disbursement/v1_0/transfer"] == 0
    async with world.connector() as by_transfer:  # the setting changed: the payout made by deposit is still found
        assert (await by_transfer.payout_status(request.reference)).status is PaymentStatus.SUCCEEDED
    assert world.simulator.paid_out(request.reference) == 250


async def test_the_payee_check_declines_an_inactive_account_before_any_payout(world: World) -> None:
    inactive = mtn_phone(Outcome.ACCOUNT_INACTIVE)
    async with world.connector(check_payee=True) as checking, world.connector() as plain:
        refused = PayoutRequest(_external(), 100, "EUR", inactive)
        with pytest.raises(Declined) as declined:
            await checking.payout(refused)
        assert declined.value.reason is FailureReason.PAYEE_NOT_FOUND
        assert world.simulator.created(refused.reference) == 0

        # MTN already holds this payout (an earlier attempt without the check): it is read, not declined.
        earlier = PayoutRequest(_external(), 100, "EUR", inactive)
        await plain.payout(earlier)
        again = await checking.payout(earlier)
        assert again.reference == earlier.reference and world.simulator.created(earlier.reference) == 1

        fine = PayoutRequest(_external(), 100, "EUR", mtn_phone(Outcome.SUCCESS))
        assert (await checking.payout(fine)).status is PaymentStatus.PENDING

        # ``…914``: the check answers 503 on every attempt; the payout goes on (MTN refuses an inactive payee
        # anyway), its own create getting through after MTN's two 503s.
        unchecked = PayoutRequest(_external(), 100, "EUR", mtn_phone(Outcome.UNAVAILABLE))
        assert (await checking.payout(unchecked)).status is PaymentStatus.PENDING
        assert world.simulator.created(unchecked.reference) == 1
    assert world.simulator.requests["GET /disbursement/v1_0/accountholder/active"] == 3 + POLICY.max_attempts


# -- requests to withdraw ----------------------------------------------------------------------------------------


async def test_requests_to_withdraw_v1_and_v2_collect_from_the_payer(world: World) -> None:
    async with world.client() as client:
        outcomes: dict[str, tuple[str, Outcome]] = {}
        for version, outcome in (
            ("v1_0", Outcome.SUCCESS),
            ("v2_0", Outcome.SUCCESS),
            ("v2_0", Outcome.INSUFFICIENT_FUNDS),
        ):
            external = _external()
            body = RequestToWithdraw(amount="2", currency="EUR", external_id=external, payer=_party(outcome))
            outcomes[external] = (await client.request_to_withdraw(body, version=version), outcome)
        for external, (reference_id, outcome) in outcomes.items():
            status = await _eventually(lambda r=reference_id: client.get_request_to_withdraw(r), _final)  # type: ignore[misc]
            if outcome is Outcome.SUCCESS:
                assert (status.status, status.payer) == ("SUCCESSFUL", _party())
                assert world.simulator.collected(external) == 200
            else:
                assert (status.status, status.reason_code) == ("FAILED", "NOT_ENOUGH_FUNDS")
                assert world.simulator.collected(external) == 0


# -- delivery notifications ---------------------------------------------------------------------------------------


async def test_a_delivery_notification_sent_as_mtn_sdks_send_it(world: World) -> None:
    async with world.client() as client:
        reference_id = await client.request_to_pay(
            RequestToPay(amount="5", currency="EUR", external_id=_external(), payer=_party())
        )
        await client.notify_payer(reference_id, "Votre commande est prête.", language="fr")
        with pytest.raises(PaymentNotFound):
            await client.notify_payer(str(uuid.uuid4()), "Inconnue")
        with pytest.raises(ValidationError):  # MTN: at most 160 characters, checked before any call
            await client.notify_payer(reference_id, "x" * 161)
    async with httpx.AsyncClient(base_url=world.url) as http:
        token = await world.token(http, "collection")
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Target-Environment": "sandbox",
            "Ocp-Apim-Subscription-Key": world.simulator.keys["collection"],
            "Content-Type": "application/json",
            "notificationMessage": "Delivered, thank you",
            "Language": "en",
        }
        path = f"/collection/v1_0/requesttopay/{reference_id}/deliverynotification"
        sent = await http.post(
            path, headers=headers, content=json.dumps({"notificationMessage": "Delivered, thank you"})
        )
        assert sent.status_code == 200, sent.text
        header_only = await http.post(path, headers=headers)  # the header alone is enough
        assert header_only.status_code == 200
        too_long = await http.post(path, headers=headers, json={"notificationMessage": "y" * 161})
        assert (too_long.status_code, too_long.json()["code"]) == (400, "BAD_REQUEST")
    assert world.simulator.notifications == [
        (reference_id, "Votre commande est prête.", "fr"),
        (reference_id, "Delivered, thank you", "en"),
        (reference_id, "Delivered, thank you", "en"),
    ]


# -- balances and account holders ---------------------------------------------------------------------------------


async def test_the_balance_in_a_named_currency(world: World) -> None:
    async with world.client() as client:
        named = await client.balance(Product.DISBURSEMENT, currency="EUR")
        assert (named.currency, mtn.amount_from_wire(named.available_balance, "EUR")) == (
            "EUR",
            world.simulator.merchant_balance("EUR"),
        )
        with pytest.raises(InvalidRequest):  # the sandbox's account is in EUR only
            await client.balance(Product.COLLECTION, currency="XAF")
    async with world.connector(balance_by_currency=True) as connector:
        balance = await connector.balance("EUR")
        assert balance.available == world.simulator.merchant_balance("EUR")
    assert world.simulator.requests["GET /disbursement/v1_0/account/balance/{currency}"] == 2


async def test_account_holders_by_number_email_and_party_code(world: World) -> None:
    async with world.client() as client:
        assert await client.is_active(mtn_phone(Outcome.SUCCESS))
        assert not await client.is_active(mtn_phone(Outcome.NOT_FOUND), Product.DISBURSEMENT)
        assert await client.is_active("awa.diallo@example.com", id_type="email")
        assert not await client.is_active("client907@example.com", id_type="email")
        assert await client.is_active("SHOP-4521", id_type="party_code")
        assert not await client.is_active("SHOP-901", id_type="party_code")
    async with httpx.AsyncClient(base_url=world.url) as http:
        headers = {
            "Authorization": f"Bearer {await world.token(http, 'collection')}",
            "X-Target-Environment": "sandbox",
            "Ocp-Apim-Subscription-Key": world.simulator.keys["collection"],
        }
        wrong_type = await http.get("/collection/v1_0/accountholder/iban/FR7630006/active", headers=headers)
        assert wrong_type.status_code == 400
        not_an_email = await http.get("/collection/v1_0/accountholder/email/nobody/active", headers=headers)
        assert not_an_email.status_code == 400


# -- failure reasons: the specification's object and the sandbox's string -----------------------------------------


@pytest.mark.parametrize("reason_format", ["string", "object"])
async def test_the_connector_reads_a_failure_reason_in_either_form(reason_format: str) -> None:
    async with _world(reason_format=reason_format) as world, world.connector() as connector:
        request = CollectRequest(_external(), 500, "EUR", mtn_phone(Outcome.INSUFFICIENT_FUNDS))
        await connector.collect(request)
        failed = await _eventually(lambda: connector.collect_status(request.reference), lambda p: p.status.is_final)
        assert (failed.status, failed.failure) == (PaymentStatus.FAILED, FailureReason.INSUFFICIENT_FUNDS)
        reason = failed.raw["reason"]
        if reason_format == "object":
            assert reason["code"] == "NOT_ENOUGH_FUNDS" and reason["message"]
        else:
            assert reason == "NOT_ENOUGH_FUNDS"
        [transaction] = [t for t in world.simulator.transactions.values() if t.external_id == request.reference]
        event = mtn.event_from_wire(json.dumps(transaction.to_wire()).encode())  # the callback body
        assert (event.kind, event.status, event.failure) == (
            PaymentKind.COLLECTION,
            PaymentStatus.FAILED,
            FailureReason.INSUFFICIENT_FUNDS,
        )


async def test_requests_shaped_like_momoapi_python_s_are_served(world: World) -> None:
    """The community Python SDK (sparkplug/momoapi-python) posts ``{}`` to the token endpoint and sends GETs with a
    JSON ``null`` body and ``Content-Type: application/json``; MTN serves them, so must the simulator."""
    async with httpx.AsyncClient(base_url=world.url) as http:
        token = await http.post(
            "/collection/token/",
            content="{}",
            auth=(world.api_user, world.api_key),
            headers={
                "Content-Type": "application/json",
                "Ocp-Apim-Subscription-Key": world.simulator.keys["collection"],
            },
        )
        assert token.status_code == 200 and token.json()["token_type"]
        reference_id = str(uuid.uuid4())
        headers = {
            "X-Target-Environment": "sandbox",
            "Content-Type": "application/json",
            "Ocp-Apim-Subscription-Key": world.simulator.keys["collection"],
            "Authorization": f"Bearer {token.json()['access_token']}",
        }
        body = {
            "payer": {"partyIdType": "MSISDN", "partyId": "46733123100"},
            "payeeNote": "note",
            "payerMessage": "message",
            "externalId": _external(),
            "currency": "EUR",
            "amount": "600",
        }
        created = await http.post(
            "/collection/v1_0/requesttopay",
            content=json.dumps(body),
            headers={**headers, "X-Reference-Id": reference_id},
        )
        assert (created.status_code, created.content) == (202, b"")

        async def status() -> dict[str, object]:
            answer = await http.request(
                "GET", f"/collection/v1_0/requesttopay/{reference_id}", content="null", headers=headers
            )
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        done = await _eventually(status, lambda wire: wire["status"] != "PENDING")
        assert (done["status"], done["amount"], done["externalId"]) == ("SUCCESSFUL", "600", body["externalId"])


def test_settings_choose_the_payout_operation_checks_and_the_simulator_s_reason_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = {"api_user": SecretStr(DEFAULT_API_USER), "api_key": SecretStr(DEFAULT_API_KEY)}
    config = ConnectorConfig(
        provider="mtn_momo",
        credentials=credentials,
        settings={"payout_operation": "deposit_v2", "check_payee": "true", "balance_by_currency": "yes"},
    )
    connector = registry.build(config)
    assert isinstance(connector, MtnMomoConnector)
    assert (connector.payout_operation, connector.check_payee, connector.balance_by_currency) == (
        PayoutOperation.DEPOSIT_V2,
        True,
        True,
    )
    plain = registry.build(ConnectorConfig(provider="mtn_momo", credentials=credentials))
    assert isinstance(plain, MtnMomoConnector)
    assert (plain.payout_operation, plain.check_payee, plain.balance_by_currency) == (
        PayoutOperation.TRANSFER,
        False,
        False,
    )
    spec = registry.get("mtn_momo")
    assert spec.simulator is not None
    empty = ConnectorConfig(provider="mtn_momo", credentials={})
    simulator = spec.simulator(SimulatorSettings(), empty)
    assert isinstance(simulator, MtnMomoSimulator)
    assert simulator.reason_format is ReasonFormat.STRING
    assert simulator.keys == {"collection": DEFAULT_COLLECTION_KEY, "disbursement": DEFAULT_DISBURSEMENT_KEY}
    monkeypatch.setenv("CAURI_SIMULATE_MTN_MOMO_REASON_FORMAT", "object")
    objects = spec.simulator(SimulatorSettings(), empty)
    assert isinstance(objects, MtnMomoSimulator) and objects.reason_format is ReasonFormat.OBJECT
