"""FedaPay's API as its SDKs call it: ``<host>/v1``, the transaction and payout objects, the push that names the
phone, the current mode names, payouts started with ``PUT /v1/payouts/start``, balances.

The raw requests below have the shapes of FedaPay's official SDKs (fedapay-node ``src/Transaction.ts``
``sendNowWithToken``, ``src/Payout.ts``/``test/PayoutTest.ts``, ``test/BalanceTest.ts``), sent over HTTP to the
simulator; the SDK itself is not vendored.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentKind, PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.fedapay import FedaPayConnector, FedaPaySimulator, magic_phone, transformers
from cauri.connectors.mobile_money.fedapay.client import api_root
from cauri.connectors.mobile_money.fedapay.simulator import MODES
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, serve_app

KEY, SECRET = "sk_sandbox_api_fedapay", "wh_sandbox_api_fedapay"
POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100)
FAST = SimulatorSettings(settle_seconds=0.05)
# The SDKs' headers (fedapay-php lib/Requestor.php defaultHeaders).
SDK_HEADERS = {"Authorization": f"Bearer {KEY}", "X-FedaPay-Api-Version": "v1", "X-FedaPay-Lib": "FedaPay PhpLib"}


@pytest.fixture
async def account() -> AsyncIterator[tuple[FedaPaySimulator, httpx.AsyncClient, str]]:
    simulator = FedaPaySimulator(api_key=KEY, webhook_secret=SECRET, settings=FAST)
    async with serve_app(simulator.app) as url, httpx.AsyncClient(base_url=url, headers=SDK_HEADERS) as http:
        yield simulator, http, url
    await simulator.aclose()


async def until(
    check: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(200):
        answer = await check()
        if done(answer):
            return answer
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached: {answer}")


def test_the_api_root_gets_v1_once() -> None:
    assert api_root("https://sandbox-api.fedapay.com") == "https://sandbox-api.fedapay.com/v1"
    assert api_root("https://sandbox-api.fedapay.com/") == "https://sandbox-api.fedapay.com/v1"
    assert api_root("https://sandbox-api.fedapay.com/v1") == "https://sandbox-api.fedapay.com/v1"
    assert api_root("http://127.0.0.1:8091/v1/") == "http://127.0.0.1:8091/v1"


async def test_a_connector_configured_with_or_without_v1_calls_the_same_paths(
    account: tuple[FedaPaySimulator, httpx.AsyncClient, str],
) -> None:
    simulator, http, url = account
    assert (await http.post("/transactions", json={})).status_code == 404, "the API lives under /v1"
    for base_url in (url, f"{url}/v1", f"{url}/v1/"):
        connector = FedaPayConnector(
            api_key=SecretStr(KEY), webhook_secrets=[SecretStr(SECRET)], base_url=base_url, policy=POLICY
        )
        async with connector:
            collect = CollectRequest(
                f"v1-{uuid.uuid4().hex[:8]}", 5000, "XOF", magic_phone(Outcome.SUCCESS), "Commande"
            )
            payment = await connector.create_transaction(collect)
        assert payment.currency == "XOF" and payment.provider_status == "pending"
    assert simulator.requests["POST /transactions"] == 3, "each base URL reached /v1/transactions (never /v1/v1)"


async def test_the_sdk_flow_without_a_customer_the_push_chooses_the_outcome(
    account: tuple[FedaPaySimulator, httpx.AsyncClient, str],
) -> None:
    """``Transaction.create`` without a customer, ``generateToken``, then ``sendNowWithToken(mode, token,
    {phone_number})``: the phone of the push decides (here: a number without funds, then one that pays)."""
    simulator, http, _url = account
    outcomes: dict[str, str] = {}
    for phone in (magic_phone(Outcome.INSUFFICIENT_FUNDS), magic_phone(Outcome.SUCCESS)):
        body = {"description": "Commande 42", "amount": 5000, "currency": {"iso": "XOF"}, "callback_url": None}
        created = await http.post("/v1/transactions", json=body)
        assert created.status_code == 201, created.text
        transaction = created.json()["v1/transaction"]
        for name in (
            "id", "reference", "amount", "description", "callback_url", "status", "customer_id", "currency_id",
            "mode", "transaction_key", "metadata", "commission", "fees", "approved_at", "canceled_at",
            "declined_at", "refunded_at", "transferred_at", "created_at", "updated_at",
        ):  # fmt: skip
            assert name in transaction, name
        assert transaction["klass"] == "v1/transaction"
        assert transaction["customer_id"] is None and transaction["currency_id"] == 1 and transaction["mode"] is None
        token = (await http.post(f"/v1/transactions/{transaction['id']}/token", json={})).json()
        assert set(token) == {"token", "url"}
        pushed = await http.post(
            "/v1/mtn_open", json={"token": token["token"], "phone_number": {"number": phone, "country": "bj"}}
        )
        assert pushed.status_code == 200, pushed.text

        async def read(transaction_id: int = transaction["id"]) -> dict[str, Any]:
            answer = await http.get(f"/v1/transactions/{transaction_id}", params={"include": "currency"})
            return dict(answer.json()["v1/transaction"])

        final = await until(read, lambda t: t["status"] != "pending")
        outcomes[phone] = final["status"]
        assert final["mode"] == "mtn_open" and final["currency"]["iso"] == "XOF"
        if final["status"] == "approved":
            assert final["approved_at"] and final["declined_at"] is None and final["fees"] == 75
        else:
            assert final["declined_at"] and final["last_error_code"] == "insufficient_funds"
    assert list(outcomes.values()) == ["declined", "approved"]
    assert simulator.requests["POST /mtn_open"] == 2


async def test_a_push_naming_no_phone_for_a_transaction_without_customer_is_refused(
    account: tuple[FedaPaySimulator, httpx.AsyncClient, str],
) -> None:
    _simulator, http, _url = account
    created = await http.post("/v1/transactions", json={"description": "x", "amount": 100, "currency": {"iso": "XOF"}})
    token = (await http.post(f"/v1/transactions/{created.json()['v1/transaction']['id']}/token", json={})).json()
    refused = await http.post("/v1/moov", json={"token": token["token"]})
    assert refused.status_code == 422 and "phone_number" in refused.json()["errors"]
    assert (await http.post("/v1/orange_xx", json={"token": token["token"]})).status_code == 404


def test_every_mode_the_connector_may_choose_exists_in_the_simulator() -> None:
    assert transformers.KNOWN_MODES <= MODES
    expected = {
        "+2290197000100": "mtn_open",  # Benin MTN
        "+2290195000100": "moov",  # Benin Moov
        "+2290140000100": "sbin",  # Benin Celtiis (SBIN)
        "+2250500000100": "mtn_open_ci",
        "+22879000100": "moov_tg",
        "+22870000100": "togocel",
        "+221760000100": "free_sn",  # Free Money Senegal, "Yas" in the numbering plan
        "+22796000100": "airtel_ne",
        "+224660000100": "mtn_open_gn",
    }
    assert {phone: transformers.mode_for(phone) for phone in expected} == expected


async def test_payouts_as_the_sdk_creates_and_starts_them(
    account: tuple[FedaPaySimulator, httpx.AsyncClient, str],
) -> None:
    simulator, http, _url = account
    before = simulator.merchant_balance("XOF")
    phone = magic_phone(Outcome.SUCCESS, "TG")
    created = await http.post(
        "/v1/payouts",
        json={
            "amount": 2000,
            "currency": {"iso": "XOF"},
            "mode": "moov_tg",
            "customer": {"firstname": "Awa", "lastname": "Diallo", "phone_number": {"number": phone, "country": "tg"}},
            "include": "customer,currency",
        },
    )
    assert created.status_code == 201, created.text
    payout = created.json()["v1/payout"]
    assert payout["status"] == "pending" and payout["customer"]["firstname"] == "Awa"
    assert payout["currency"]["iso"] == "XOF" and payout["sent_at"] is None
    started = await http.put("/v1/payouts/start", json={"payouts": [{"id": payout["id"]}]})
    assert started.status_code == 200 and started.json()["v1/payouts"][0]["status"] == "started"
    again = await http.put("/v1/payouts/start", json={"payouts": [{"id": payout["id"]}]})
    assert again.status_code == 422, "a payout starts once"

    async def read() -> dict[str, Any]:
        return dict((await http.get(f"/v1/payouts/{payout['id']}")).json()["v1/payout"])

    sent = await until(read, lambda p: p["status"] != "started")
    assert sent["status"] == "sent" and sent["sent_at"]
    balances = (await http.get("/v1/balances")).json()["v1/balances"]
    assert balances[0]["klass"] == "v1/balance" and balances[0]["currency_id"] == 1
    assert before - balances[0]["amount"] == 2000
    currencies = (await http.get("/v1/currencies")).json()["v1/currencies"]
    assert currencies[0]["iso"] == "XOF" and currencies[0]["id"] == 1


async def test_connector_payout_its_webhook_and_a_declined_payout() -> None:
    simulator = FedaPaySimulator(api_key=KEY, webhook_secret=SECRET, settings=FAST)
    sink = CallbackSink()
    async with serve_app(simulator.app) as url, serve_app(sink) as sink_url:
        simulator.webhook_url = f"{sink_url}/hooks/{{merchant_reference}}"
        async with FedaPayConnector(
            api_key=SecretStr(KEY), webhook_secrets=[SecretStr(SECRET)], base_url=url, policy=POLICY
        ) as connector:
            for outcome, status, failure in (
                (Outcome.SUCCESS, PaymentStatus.SUCCEEDED, None),
                (Outcome.NOT_FOUND, PaymentStatus.FAILED, FailureReason.PAYEE_NOT_FOUND),
            ):
                request = PayoutRequest(f"po-{uuid.uuid4().hex[:10]}", 3000, "XOF", magic_phone(outcome, "SN-FREE"))
                first = await connector.payout(request)
                assert first.kind is PaymentKind.PAYOUT and first.provider_status == "started"
                assert simulator.payout(request.reference) is not None
                assert simulator.payout(request.reference).mode == "free_sn"  # type: ignore[union-attr]
                received = await sink.wait_for(1, path=f"/hooks/{request.reference}")
                connector.verify_callback(received[0].headers, received[0].body)
                event = connector.parse_callback(received[0].headers, received[0].body)
                assert json.loads(received[0].body)["name"] in ("payout.sent", "payout.failed")
                assert (event.kind, event.status, event.failure) == (PaymentKind.PAYOUT, status, failure)
                assert event.reference == request.reference
                settled = await connector.payout_status(request.reference, first.provider_reference)
                assert (settled.status, settled.failure) == (status, failure)
            assert (await connector.balance("XOF")).available == simulator.merchant_balance("XOF")
    await simulator.aclose()
