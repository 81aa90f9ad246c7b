"""Mojaloop beyond the contract: party lookup, acceptance steps, error codes, bulk transfers, standalone client."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cauri.connectors.base import PaymentStatus, PayoutRequest
from cauri.connectors.mobile_money.mojaloop import (
    BulkItem,
    BulkPhase,
    BulkResult,
    MojaloopClient,
    MojaloopConnector,
    MojaloopSimulator,
    magic_phone,
)
from cauri.connectors.mobile_money.mojaloop import transformers as t
from cauri.connectors.mobile_money.mojaloop.simulator import party_body
from cauri.connectors.registry import registry
from cauri.core.config import Settings
from cauri.kit.errors import ConnectorError, Declined, FailureReason, InvalidRequest, PaymentNotFound, Timeout
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, serve_app, serve_app_in_thread
from tests.connectors.mojaloop.cli import simulate

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=100, rate_limit=None)
FAST = SimulatorSettings(settle_seconds=0.01, expiry_seconds=0.2)
PAYER = "22507000001"


@dataclass
class Scheme:
    simulator: MojaloopSimulator
    url: str
    sink: CallbackSink

    def connector(self, **options: Any) -> MojaloopConnector:
        return MojaloopConnector(
            base_url=self.url, payer_id_value=PAYER, policy=options.pop("policy", POLICY), **options
        )

    async def bulk_callback(self, bulk_id: str, count: int = 1, within: float = 10.0) -> list[bytes]:
        received = await self.sink.wait_for(count, path=f"/bulkTransactions/{bulk_id}", within=within)
        return [r.body for r in received]


async def scheme(**options: Any) -> AsyncIterator[Scheme]:
    sink = CallbackSink()
    async with serve_app(sink) as sink_url:
        simulator = MojaloopSimulator(settings=options.pop("settings", FAST), backend_url=sink_url, **options)
        async with serve_app(simulator.app) as url:
            yield Scheme(simulator, url, sink)
        await simulator.aclose()


@pytest.fixture
async def auto() -> AsyncIterator[Scheme]:
    async for world in scheme():
        yield world


@pytest.fixture
async def manual() -> AsyncIterator[Scheme]:
    async for world in scheme(auto_accept_party=False, auto_accept_quote=False):
        yield world


def ref() -> str:
    return f"mj-{uuid.uuid4().hex[:16]}"


# -- parties --------------------------------------------------------------------------------------------------------


async def test_party_lookup_returns_the_holder_with_name(auto: Scheme) -> None:
    phone = magic_phone(Outcome.SUCCESS)
    expected = party_body("MSISDN", phone[1:])
    async with auto.connector() as connector:
        party = await connector.lookup_party("MSISDN", phone)
        assert party is not None
        assert party.name == expected["name"] and party.fsp_id == "payeefsp"
        assert (party.first_name, party.last_name) == tuple(expected["name"].split(" ", 1))
        assert party.id_value == phone[1:]
        holder = await connector.account_holder(phone)
        assert holder.active and holder.name == expected["name"]
        assert await connector.lookup_party("MSISDN", magic_phone(Outcome.NOT_FOUND)) is None
        assert (await connector.account_holder(magic_phone(Outcome.NOT_FOUND))).active is False


# -- acceptance steps -------------------------------------------------------------------------------------------------


async def test_without_auto_accept_the_connector_accepts_party_then_quote(manual: Scheme) -> None:
    request = PayoutRequest(ref(), 4000, "XOF", magic_phone(Outcome.SUCCESS))
    async with manual.connector() as connector:
        payment = await connector.payout(request)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert manual.simulator.requests["PUT /transfers"] == 2
    assert manual.simulator.paid_out(request.reference) == 4000


async def test_a_person_can_decide_at_each_step(manual: Scheme) -> None:
    request = PayoutRequest(ref(), 1500, "XOF", magic_phone(Outcome.SUCCESS, "SN"))
    async with manual.connector() as connector:
        state = await connector.start_transfer(request)
        assert state.waiting_for == "party" and state.payment.status is PaymentStatus.PENDING
        assert state.party is not None and state.party.name
        assert state.transfer_id == t.transfer_id_for(request.reference)
        state = await connector.accept_party(state.transfer_id)
        assert state.waiting_for == "quote"
        assert state.quote is not None and state.quote.transfer_amount == 1500 and state.quote.payee_fee == 0
        assert manual.simulator.paid_out(request.reference) == 0, "nothing moves before the quote is accepted"
        state = await connector.accept_quote(state.transfer_id)
        assert state.payment.status is PaymentStatus.SUCCEEDED and state.waiting_for is None
        assert (await connector.payout_status(request.reference)).status is PaymentStatus.SUCCEEDED
    assert manual.simulator.paid_out(request.reference) == 1500


async def test_a_quote_above_the_fee_limit_is_refused_and_nothing_moves() -> None:
    async for world in scheme(auto_accept_party=False, auto_accept_quote=False, payee_fee=50):
        request = PayoutRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS))
        async with world.connector(max_fee=10) as connector:
            payment = await connector.payout(request)
        assert payment.status is PaymentStatus.FAILED and payment.failure is FailureReason.CANCELLED
        assert world.simulator.paid_out(request.reference) == 0
        async with world.connector(max_fee=50) as connector:
            accepted = await connector.payout(PayoutRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS)))
        assert accepted.status is PaymentStatus.SUCCEEDED and accepted.fee == 50


async def test_a_rejected_party_aborts_the_transfer(manual: Scheme) -> None:
    request = PayoutRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS))
    async with manual.connector() as connector:
        state = await connector.start_transfer(request)
        state = await connector.accept_party(state.transfer_id, accept=False)
    assert state.current_state == "ABORTED"
    assert state.payment.status is PaymentStatus.FAILED and state.payment.failure is FailureReason.CANCELLED
    assert manual.simulator.paid_out(request.reference) == 0


# -- error codes ------------------------------------------------------------------------------------------------------


def _errored(code: str | None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"transferId": "t-1", "currency": "XOF", "amount": "100", "currentState": "ERROR_OCCURRED"}
    if code is not None:
        raw["lastError"] = {"httpStatusCode": 500, "mojaloopError": {"errorInformation": {"errorCode": code}}}
    raw.update(extra)
    return raw


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("3204", PaymentStatus.FAILED, FailureReason.PAYEE_NOT_FOUND),
        ("3203", PaymentStatus.FAILED, FailureReason.PAYEE_NOT_FOUND),
        ("4001", PaymentStatus.FAILED, FailureReason.INSUFFICIENT_FUNDS),
        ("4200", PaymentStatus.FAILED, FailureReason.LIMIT_REACHED),
        ("4101", PaymentStatus.FAILED, FailureReason.CANCELLED),
        ("5000", PaymentStatus.FAILED, FailureReason.PROVIDER_ERROR),
        ("5104", PaymentStatus.FAILED, FailureReason.NOT_ALLOWED),
        ("5106", PaymentStatus.FAILED, FailureReason.INVALID_CURRENCY),
        ("5200", PaymentStatus.FAILED, FailureReason.LIMIT_REACHED),
        ("5241", PaymentStatus.FAILED, FailureReason.LIMIT_REACHED),  # a scheme-specific code: its category
        ("5300", PaymentStatus.FAILED, FailureReason.NOT_ALLOWED),
        ("5400", PaymentStatus.FAILED, FailureReason.ACCOUNT_INACTIVE),
        ("3100", PaymentStatus.FAILED, FailureReason.PROVIDER_ERROR),
        ("3106", PaymentStatus.FAILED, FailureReason.DUPLICATE),
        ("3303", PaymentStatus.EXPIRED, FailureReason.EXPIRED),
        # Technical errors and timeouts without a verdict: the transfer may still commit, so it stays pending.
        ("2001", PaymentStatus.PENDING, None),
        ("2004", PaymentStatus.PENDING, None),
        ("1001", PaymentStatus.PENDING, None),
        (None, PaymentStatus.PENDING, None),
    ],
)
def test_error_occurred_maps_mojaloop_codes(code: str | None, status: PaymentStatus, reason: FailureReason) -> None:
    payment = t.payment_from_wire(_errored(code))
    assert (payment.status, payment.failure) == (status, reason)
    assert payment.provider_status == "ERROR_OCCURRED"


@pytest.mark.parametrize(
    "raw",
    [
        {"currency": "XOF", "amount": "100", "currentState": "COMPLETED"},  # no transferId
        {"transferId": "t-1", "amount": "100", "currentState": "COMPLETED"},  # no currency
        {"transferId": "t-1", "currency": "XOF", "amount": {"value": "100"}, "currentState": "COMPLETED"},
        {"transferId": ["t-1"], "currency": "XOF", "amount": "100", "currentState": "COMPLETED"},
    ],
)
def test_a_transfer_of_another_shape_is_unreadable_never_a_success(raw: dict[str, object]) -> None:
    with pytest.raises(ConnectorError) as caught:
        t.payment_from_wire(raw)
    assert caught.value.code == "provider_unreadable_answer"


def test_only_a_committed_transfer_with_a_matching_fulfilment_is_a_success() -> None:
    fulfilment = "WLctttbu2HvTsa1XWvUoGRcQozHsqeu9Ahl2JW9Bsu8"
    condition = t.condition_of(fulfilment)
    assert len(condition) == 43
    base = {"transferId": "t-1", "currency": "XOF", "amount": "100", "currentState": "COMPLETED"}
    quote = {
        "quoteResponse": {"body": {"condition": condition, "transferAmount": {"amount": "100", "currency": "XOF"}}}
    }
    good = {**base, **quote, "fulfil": {"body": {"transferState": "COMMITTED", "fulfilment": fulfilment}}}
    forged = {**good, "fulfil": {"body": {"transferState": "COMMITTED", "fulfilment": "A" * 43}}}
    reserved = {**base, "fulfil": {"body": {"transferState": "RESERVED"}}}
    aborted = {**base, "currentState": "ABORTED", "fulfil": {"body": {"transferState": "ABORTED"}}}
    assert t.payment_from_wire(good).status is PaymentStatus.SUCCEEDED
    assert t.payment_from_wire(forged).status is PaymentStatus.PENDING
    assert t.payment_from_wire(reserved).status is PaymentStatus.PENDING
    assert t.payment_from_wire(aborted).status is PaymentStatus.FAILED
    assert t.payment_from_wire({**base, "currentState": "SOMETHING_NEW"}).status is PaymentStatus.PENDING


def _response(status: int, body: dict[str, Any], method: str = "POST") -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request(method, "http://sdk/transfers"))


def test_sdk_error_answers_map_to_the_error_tree() -> None:
    declined = t.error_from_response(_response(500, {"statusCode": "3204", "message": "Party not found"}))
    assert isinstance(declined, Declined) and declined.reason is FailureReason.PAYEE_NOT_FOUND
    nested = {"message": "x", "transferState": _errored("4001")}
    liquidity = t.error_from_response(_response(500, nested))
    assert isinstance(liquidity, Declined) and liquidity.reason is FailureReason.INSUFFICIENT_FUNDS
    timeout = t.error_from_response(_response(504, {"message": "Timeout waiting for fulfil"}))
    assert isinstance(timeout, Timeout) and timeout.outcome_unknown and timeout.retryable
    assert isinstance(t.error_from_response(_response(404, {"statusCode": "3208"}, "GET")), PaymentNotFound)
    assert isinstance(t.error_from_response(_response(400, {"statusCode": "3100"})), InvalidRequest)
    assert t.error_from_response(_response(500, {"statusCode": "2001"})) is None  # defaults: Unavailable, maybe done


async def test_refusals_answered_with_500_do_not_open_the_circuit(auto: Scheme) -> None:
    policy = HttpPolicy(read_timeout=5.0, breaker_failures=2, rate_limit=None)
    async with auto.connector(policy=policy) as connector:
        for _ in range(5):
            with pytest.raises(Declined) as raised:
                await connector.payout(PayoutRequest(ref(), 1000, "XOF", magic_phone(Outcome.NOT_FOUND, "SN")))
            assert raised.value.reason is FailureReason.PAYEE_NOT_FOUND
            assert not raised.value.outcome_unknown, "a verdict is not an unknown outcome"
        ok = await connector.payout(PayoutRequest(ref(), 1000, "XOF", magic_phone(Outcome.SUCCESS, "SN")))
    assert ok.status is PaymentStatus.SUCCEEDED


async def test_a_transfer_id_reused_with_other_content_is_refused(auto: Scheme) -> None:
    reference = ref()
    async with auto.connector() as connector:
        await connector.payout(PayoutRequest(reference, 1000, "XOF", magic_phone(Outcome.SUCCESS)))
        with pytest.raises(InvalidRequest) as raised:
            await connector.payout(PayoutRequest(reference, 9000, "XOF", magic_phone(Outcome.SUCCESS)))
    assert raised.value.reason is FailureReason.DUPLICATE
    assert auto.simulator.paid_out(reference) == 1000


# -- bulk -------------------------------------------------------------------------------------------------------------

MIX = [
    (Outcome.SUCCESS, PaymentStatus.SUCCEEDED, None),
    (Outcome.NOT_FOUND, PaymentStatus.FAILED, FailureReason.PAYEE_NOT_FOUND),
    (Outcome.LIMIT_REACHED, PaymentStatus.FAILED, FailureReason.LIMIT_REACHED),
    (Outcome.ACCOUNT_INACTIVE, PaymentStatus.FAILED, FailureReason.ACCOUNT_INACTIVE),
    (Outcome.EXPIRES, PaymentStatus.EXPIRED, FailureReason.EXPIRED),
    (Outcome.SUCCESS, PaymentStatus.SUCCEEDED, None),
    (Outcome.NOT_ALLOWED, PaymentStatus.FAILED, FailureReason.NOT_ALLOWED),
    (Outcome.SUCCESS, PaymentStatus.SUCCEEDED, None),
]


def bulk_items(batch: str, count: int, *, first: Outcome | None = None) -> tuple[list[BulkItem], dict[str, Any]]:
    items, expected = [], {}
    for index in range(count):
        outcome, status, reason = MIX[index % len(MIX)]
        if index == 0 and first is not None:
            outcome, status, reason = first, PaymentStatus.SUCCEEDED, None
        reference = f"{batch}-{index:04d}"
        amount = 1000 + index
        items.append(BulkItem(reference, amount, "XOF", magic_phone(outcome, ("CI", "SN", "BJ")[index % 3])))
        expected[reference] = (status, reason, amount)
    return items, expected


def check_results(result: BulkResult, expected: dict[str, Any]) -> None:
    assert len(result.items) == len(expected)
    for item in result.items:
        status, reason, amount = expected[item.reference]
        assert (item.status, item.failure, item.amount) == (status, reason, amount), item


async def test_a_bulk_of_a_thousand_mixed_transfers_reports_each_line_once(auto: Scheme) -> None:
    batch = ref()
    items, expected = bulk_items(batch, 1000)
    before = auto.simulator.merchant_balance("XOF")
    started = time.monotonic()
    async with auto.connector() as connector:
        submission = await connector.bulk_transfer(batch, items)
        assert submission.bulk_id == t.bulk_id_for(batch) and submission.items == 1000
        bodies = await auto.bulk_callback(submission.bulk_id)
        elapsed = time.monotonic() - started
        assert len(bodies) == 1
        callback = connector.parse_bulk_callback({"content-type": "application/json"}, bodies[0])
        assert callback.phase is BulkPhase.RESULT and callback.complete and not callback.signed
        assert callback.reference == batch
        check_results(callback, expected)
        confirmed = await connector.bulk_status(batch)  # unsigned callback: confirm before paying anyone
        check_results(confirmed, expected)
        # Resubmitting the same batch (a crashed worker) is recognised: nothing is paid twice.
        again = await connector.bulk_transfer(batch, items)
        assert again.bulk_id == submission.bulk_id
        with pytest.raises(InvalidRequest):
            await connector.bulk_transfer(batch, items[:10])
    paid = sum(amount for status, _r, amount in expected.values() if status is PaymentStatus.SUCCEEDED)
    assert callback.count(PaymentStatus.SUCCEEDED) == 375
    assert before - auto.simulator.merchant_balance("XOF") == paid
    assert all(auto.simulator.created(item.reference) == 1 for item in items)
    assert sum(auto.simulator.paid_out(item.reference) for item in items) == paid
    assert elapsed < 10, f"a 1000-line bulk took {elapsed:.1f} s"


async def test_bulk_without_auto_accept_asks_the_backend_for_parties_then_quotes(manual: Scheme) -> None:
    batch = ref()
    items, expected = bulk_items(batch, 8)
    rejected = items[5].reference
    expected[rejected] = (PaymentStatus.FAILED, FailureReason.CANCELLED, expected[rejected][2])
    async with manual.connector() as connector:
        submission = await connector.bulk_transfer(batch, items, auto_accept_party=False, auto_accept_quote=False)
        parties = connector.parse_bulk_callback({}, (await manual.bulk_callback(submission.bulk_id, 1))[0])
        assert parties.phase is BulkPhase.ACCEPT_PARTY
        found = {item.reference: item for item in parties.items}
        assert items[1].reference not in found, "a party that was not found is not offered"
        assert all(item.party and item.party.name for item in parties.items)
        decisions = {item.transaction_id or "": item.reference != rejected for item in parties.items}
        await connector.bulk_accept_parties(submission.bulk_id, decisions)
        quotes = connector.parse_bulk_callback({}, (await manual.bulk_callback(submission.bulk_id, 2))[1])
        assert quotes.phase is BulkPhase.ACCEPT_QUOTE
        assert rejected not in {item.reference for item in quotes.items}
        assert all(item.quote and item.quote.transfer_amount == item.amount for item in quotes.items)
        await connector.bulk_accept_quotes(
            submission.bulk_id, {item.transaction_id or "": True for item in quotes.items}
        )
        final = connector.parse_bulk_callback({}, (await manual.bulk_callback(submission.bulk_id, 3))[2])
    assert final.phase is BulkPhase.RESULT
    check_results(final, expected)
    assert manual.simulator.paid_out(rejected) == 0


async def test_bulk_callbacks_duplicated_late_or_missing(auto: Scheme) -> None:
    async with auto.connector() as connector:
        twice = await connector.bulk_transfer(ref(), bulk_items("d", 3, first=Outcome.DUPLICATED_CALLBACK)[0])
        bodies = await auto.bulk_callback(twice.bulk_id, 2)
        assert len(bodies) == 2 and bodies[0] == bodies[1]
        missing_ref = ref()
        missing = await connector.bulk_transfer(missing_ref, bulk_items("m", 3, first=Outcome.NO_CALLBACK)[0])
        assert await auto.bulk_callback(missing.bulk_id, 1, within=0.5) == []
        status = await connector.bulk_status(missing_ref)  # polling finds the result anyway
        assert status.complete and status.count(PaymentStatus.SUCCEEDED) == 1


async def test_bulk_is_retried_after_429_and_503_without_duplicates(auto: Scheme) -> None:
    async with auto.connector() as connector:
        for first in (Outcome.RATE_LIMITED, Outcome.UNAVAILABLE):
            batch = ref()
            items, _expected = bulk_items(batch, 4, first=first)
            submission = await connector.bulk_transfer(batch, items)
            assert auto.simulator.attempts(submission.bulk_id) >= 2
            assert len(await auto.bulk_callback(submission.bulk_id)) == 1
            assert all(auto.simulator.created(item.reference) == 1 for item in items)


async def test_bulk_size_and_line_references_are_checked_before_any_call(auto: Scheme) -> None:
    async with auto.connector() as connector:
        with pytest.raises(InvalidRequest):
            await connector.bulk_transfer(ref(), bulk_items("big", 1001)[0])
        with pytest.raises(InvalidRequest):
            await connector.bulk_transfer(ref(), [])
        item = BulkItem("same", 1000, "XOF", magic_phone(Outcome.SUCCESS))
        with pytest.raises(InvalidRequest):
            await connector.bulk_transfer(ref(), [item, item])
    assert auto.simulator.requests["POST /bulkTransactions"] == 0


def test_a_bulk_callback_with_a_wrong_token_is_refused() -> None:
    from pydantic import SecretStr

    from cauri.kit.errors import InvalidSignature

    connector = MojaloopConnector(base_url="http://127.0.0.1:9", payer_id_value=PAYER, callback_token=SecretStr("tok"))
    body = json.dumps({"bulkTransactionId": "b-1", "currentState": "COMPLETED", "individualTransferResults": []})
    with pytest.raises(InvalidSignature):
        connector.parse_bulk_callback({"Authorization": "Bearer nope"}, body.encode())
    result = connector.parse_bulk_callback({"Authorization": "Bearer tok"}, body.encode())
    assert result.phase is BulkPhase.RESULT and result.items == ()


# -- standalone client and CLI ---------------------------------------------------------------------------------------


async def test_standalone_async_client(auto: Scheme) -> None:
    async with MojaloopClient(base_url=auto.url, payer_id_value=PAYER, policy=POLICY) as mojaloop:
        party = await mojaloop.lookup_party(magic_phone(Outcome.SUCCESS))
        assert party is not None and party.name
        reference = ref()
        payment = await mojaloop.transfer(PayoutRequest(reference, 2000, "XOF", magic_phone(Outcome.SUCCESS)))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert (await mojaloop.transfer_status(reference)).status is PaymentStatus.SUCCEEDED
        with pytest.raises(Declined) as raised:
            await mojaloop.transfer(PayoutRequest(ref(), 2000, "XOF", magic_phone(Outcome.INSUFFICIENT_FUNDS)))
        assert raised.value.reason is FailureReason.INSUFFICIENT_FUNDS


def test_standalone_sync_client() -> None:
    simulator = MojaloopSimulator(settings=FAST)
    with (
        serve_app_in_thread(simulator.app) as url,
        MojaloopClient(base_url=url, payer_id_value=PAYER, policy=POLICY).sync() as mojaloop,
    ):
        reference = ref()
        payment = mojaloop.transfer(PayoutRequest(reference, 3000, "XOF", magic_phone(Outcome.SUCCESS, "BJ")))
        assert payment.status is PaymentStatus.SUCCEEDED
        assert mojaloop.transfer_status(reference).status is PaymentStatus.SUCCEEDED
        assert mojaloop.lookup_party(magic_phone(Outcome.NOT_FOUND)) is None
        submission = mojaloop.bulk_transfer(ref(), bulk_items("s", 5)[0])
        deadline = time.monotonic() + 5
        while not (result := mojaloop.bulk_status(submission.reference)).complete:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert result.count(PaymentStatus.SUCCEEDED) == 1
    assert simulator.paid_out(reference) == 3000


async def test_cauri_simulate_mojaloop() -> None:
    async with simulate("mojaloop", "/", extra_args=("--settle", "0.01")) as url:
        config = registry.config_for(
            "mojaloop",
            app_settings=Settings(),
            credentials={},
            settings={"base_url": url, "payer_id_value": PAYER},
        )
        async with registry.build(config) as connector:
            assert isinstance(connector, MojaloopConnector)
            payment = await connector.payout(PayoutRequest(ref(), 500, "XOF", magic_phone(Outcome.SUCCESS)))
            assert payment.status is PaymentStatus.SUCCEEDED
            assert (await connector.account_holder(magic_phone(Outcome.SUCCESS))).name


async def test_concurrent_transfers_are_each_paid_once(auto: Scheme) -> None:
    async with auto.connector() as connector:
        requests = [PayoutRequest(ref(), 100 + i, "XOF", magic_phone(Outcome.SUCCESS)) for i in range(50)]
        payments = await asyncio.gather(*(connector.payout(r) for r in requests))
    assert all(p.status is PaymentStatus.SUCCEEDED for p in payments)
    assert [auto.simulator.paid_out(r.reference) for r in requests] == [r.amount for r in requests]
