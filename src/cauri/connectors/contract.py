"""The contract every payment connector passes against its own simulator, over real HTTP on 127.0.0.1.

Plug a provider in with a few lines in ``tests/connectors/<provider>/test_contract.py``::

    from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract

    class TestMyProviderContract(PaymentConnectorContract):
        subject = ConnectorUnderTest(
            simulator=lambda timings: MySimulator(settings=timings, ...),
            connector=lambda base_url, simulator, policy: MyConnector(base_url=base_url, ..., policy=policy),
            phones=MagicPhones(success="+237670000100", failures={FailureReason.INSUFFICIENT_FUNDS: "…"}, …),
            currency="XAF",
            amount=1500,
            sign_callback=lambda body, timestamp, secret: {"X-Signature": …},  # None for unsigned providers
            webhook_secret="whsec_…",
        )

Every test starts a fresh simulator and a callback receiver (:class:`CallbackSink`) on free loopback ports,
so tests are independent. The generic tests (failures, pending, expiry, slow answers, timeouts, 5xx, 429,
callbacks) drive collections, or payouts when the provider only pays out (``ContractWorld.kind``); then
``MagicPhones.failures`` lists payout failures. What a provider cannot do is not skipped silently: an undeclared
capability must raise :class:`Unsupported`, an unsigned provider must say ``callbacks_signed = False`` and mark
events unsigned.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import pytest

from cauri.connectors.base import (
    BulkPayoutLine,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
    RefundRequest,
)
from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.errors import (
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    InvalidSignature,
    PaymentNotFound,
    Timeout,
    Unavailable,
    Unsupported,
)
from cauri.kit.http import HttpPolicy
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings
from cauri.kit.testing import CallbackSink, ReceivedCallback, serve_app

# Short timings so the whole contract runs in seconds; the HTTP policy is tuned to them (hang > read timeout).
CONTRACT_TIMINGS = SimulatorSettings(
    latency_seconds=0.0,
    slow_seconds=0.4,
    hang_seconds=2.5,
    settle_seconds=0.15,
    expiry_seconds=0.5,
    late_callback_seconds=1.2,
    retry_after_seconds=1,
    failing_attempts=2,
    callback_attempts=2,
    token_lifetime_seconds=3600,
)
CONTRACT_POLICY = HttpPolicy(
    connect_timeout=2.0,
    read_timeout=1.0,
    write_timeout=2.0,
    max_attempts=3,
    backoff_base=0.05,
    backoff_cap=0.2,
    max_retry_after=5.0,
    breaker_failures=1000,  # the breaker has its own tests; here it must not hide the provider's answers
    rate_limit=None,
)
SETTLE_WITHIN = 5.0  # seconds a settling payment may take in the contract


@dataclass(frozen=True)
class MagicPhones:
    """E.164 numbers that make the simulator produce each outcome (the provider's sandbox numbers if any)."""

    success: str
    failures: Mapping[FailureReason, str]  # collections: each failure reason the provider can produce
    pending_forever: str
    expires: str
    unknown_status: str
    timeout_after_accept: str
    server_error: str  # 5xx before processing (a few attempts), then served
    rate_limited: str  # 429 with Retry-After once, then served
    duplicated_callback: str
    late_callback: str
    no_callback: str
    slow: str
    server_error_after_processing: str | None = None  # 5xx although the payment was created
    payout_success: str | None = None  # defaults to ``success``
    payout_failures: Mapping[FailureReason, str] = field(default_factory=dict)
    account_missing: str | None = None  # account_holder: a number with no account


SimulatorFactory = Callable[[SimulatorSettings], SimulatedProvider]
ConnectorFactory = Callable[[str, SimulatedProvider, HttpPolicy], PaymentConnector]
CallbackSigner = Callable[[bytes, int, str], Mapping[str, str]]
WebhookPointer = Callable[[SimulatedProvider, str], None]  # (simulator, receiver base URL)


@dataclass(frozen=True)
class ConnectorUnderTest:
    simulator: SimulatorFactory
    connector: ConnectorFactory
    phones: MagicPhones
    currency: str
    amount: int  # minor units, within the provider's limits
    sign_callback: CallbackSigner | None = None  # (raw body, unix time, secret) -> headers; None when unsigned
    webhook_secret: str | None = None
    timings: SimulatorSettings = CONTRACT_TIMINGS
    policy: HttpPolicy = CONTRACT_POLICY
    # Providers whose webhooks go to one URL set on the merchant account, not per payment (Wave's portal): point
    # the simulator at the receiver's base URL; it must deliver a payment's events under ``/callbacks/<reference>``.
    point_webhooks: WebhookPointer | None = None


@dataclass
class ContractWorld:
    """One test's provider: simulator, connector, callback receiver and helpers."""

    subject: ConnectorUnderTest
    simulator: SimulatedProvider
    connector: PaymentConnector
    sink: CallbackSink
    sink_url: str
    first_payment: ProviderPayment | None = None  # what the create answered in the callback tests

    @staticmethod
    def new_reference() -> str:
        return f"ct-{uuid.uuid4().hex[:20]}"

    def collect_request(self, phone: str, reference: str | None = None, **changes: Any) -> CollectRequest:
        reference = reference or self.new_reference()
        request = CollectRequest(
            reference=reference,
            amount=self.subject.amount,
            currency=self.subject.currency,
            payer_phone=phone,
            description="Contrat Cauri",
            callback_url=f"{self.sink_url}/callbacks/{reference}",
        )
        return replace(request, **changes) if changes else request

    def payout_request(self, phone: str, reference: str | None = None, **changes: Any) -> PayoutRequest:
        reference = reference or self.new_reference()
        request = PayoutRequest(
            reference=reference,
            amount=self.subject.amount,
            currency=self.subject.currency,
            payee_phone=phone,
            description="Contrat Cauri",
            callback_url=f"{self.sink_url}/callbacks/{reference}",
            payee_name="Awa Diallo",
        )
        return replace(request, **changes) if changes else request

    @property
    def kind(self) -> PaymentKind:
        """The flow the generic tests drive: collections, or payouts for a provider that only pays out (Mojaloop)."""
        return PaymentKind.COLLECTION if self.connector.supports(Capability.COLLECT) else PaymentKind.PAYOUT

    def request(self, phone: str, reference: str | None = None, **changes: Any) -> CollectRequest | PayoutRequest:
        if self.kind is PaymentKind.PAYOUT:
            return self.payout_request(phone, reference, **changes)
        return self.collect_request(phone, reference, **changes)

    async def create(self, request: CollectRequest | PayoutRequest) -> ProviderPayment:
        if isinstance(request, PayoutRequest):
            return await self.connector.payout(request)
        return await self.connector.collect(request)

    def moved(self, reference: str) -> int:
        """What the provider moved for this payment of the driven flow (collected, or paid out)."""
        if self.kind is PaymentKind.PAYOUT:
            return self.simulator.paid_out(reference)
        return self.simulator.collected(reference)

    async def status(self, kind: PaymentKind, reference: str, provider_reference: str | None) -> ProviderPayment:
        if kind is PaymentKind.PAYOUT:
            return await self.connector.payout_status(reference, provider_reference)
        return await self.connector.collect_status(reference, provider_reference)

    async def settle(
        self, kind: PaymentKind, reference: str, provider_reference: str | None, within: float = SETTLE_WITHIN
    ) -> ProviderPayment:
        """Poll the status until it is final (or ``within`` elapses: then the last, pending, answer)."""
        deadline = time.monotonic() + within
        while True:
            payment = await self.status(kind, reference, provider_reference)
            if payment.status.is_final or time.monotonic() > deadline:
                return payment
            await asyncio.sleep(0.05)

    async def callbacks(self, reference: str, count: int, within: float = SETTLE_WITHIN) -> list[ReceivedCallback]:
        return await self.sink.wait_for(count, path=f"/callbacks/{reference}", within=within)


async def _outcome(call: Awaitable[ProviderPayment]) -> ProviderPayment | ConnectorError:
    try:
        return await call
    except ConnectorError as error:
        return error


class PaymentConnectorContract:
    """Subclass as ``Test<Provider>Contract`` and set ``subject``; pytest collects every test below."""

    subject: ClassVar[ConnectorUnderTest]

    @pytest.fixture
    async def world(self) -> AsyncIterator[ContractWorld]:
        subject = self.subject
        simulator = subject.simulator(subject.timings)
        sink = CallbackSink()
        async with serve_app(simulator.app) as base_url, serve_app(sink) as sink_url:
            if subject.point_webhooks is not None:
                subject.point_webhooks(simulator, sink_url)
            connector = subject.connector(base_url, simulator, subject.policy)
            try:
                yield ContractWorld(subject, simulator, connector, sink, sink_url)
            finally:
                await connector.aclose()
                await simulator.aclose()

    # -- collections ---------------------------------------------------------------------------------------

    async def test_collect_succeeds_and_the_provider_moved_the_money(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.success)
        first = await world.create(request)
        assert first.reference == request.reference
        assert first.kind is world.kind
        assert (first.amount, first.currency) == (request.amount, request.currency)
        assert first.status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)
        assert first.provider_reference
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED
        assert settled.failure is None
        assert settled.fee is None or 0 <= settled.fee < request.amount
        assert world.moved(request.reference) == request.amount
        assert world.simulator.created(request.reference) == 1

    async def test_each_collect_failure_maps_to_its_stable_reason(self, world: ContractWorld) -> None:
        assert world.subject.phones.failures, "declare the failure reasons the provider produces"
        for reason, phone in world.subject.phones.failures.items():
            request = world.request(phone)
            outcome = await _outcome(world.create(request))
            if isinstance(outcome, ConnectorError):
                assert isinstance(outcome, Declined), (phone, outcome)
                assert outcome.reason is reason, (phone, outcome.reason, reason)
                assert not outcome.retryable
            else:
                settled = await world.settle(world.kind, request.reference, outcome.provider_reference)
                assert settled.status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED), (phone, settled)
                assert settled.failure is reason, (phone, settled.failure, reason)
            assert world.moved(request.reference) == 0, phone

    async def test_pending_forever_stays_pending(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.pending_forever)
        first = await world.create(request)
        await asyncio.sleep(world.subject.timings.settle_seconds * 3)
        later = await world.status(world.kind, request.reference, first.provider_reference)
        assert later.status is PaymentStatus.PENDING
        assert later.failure is None
        assert world.moved(request.reference) == 0

    async def test_an_unknown_provider_status_is_pending_never_success(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.unknown_status)
        first = await world.create(request)
        assert first.status is PaymentStatus.PENDING
        await asyncio.sleep(world.subject.timings.settle_seconds * 3)
        later = await world.status(world.kind, request.reference, first.provider_reference)
        assert later.status is PaymentStatus.PENDING
        assert later.provider_status, "keep the provider's own word for support"

    async def test_an_unconfirmed_collection_expires(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.expires)
        first = await world.create(request)
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.EXPIRED
        assert settled.failure is FailureReason.EXPIRED
        assert world.moved(request.reference) == 0

    async def test_a_slow_answer_within_the_timeout_is_a_normal_answer(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.slow)
        started = time.monotonic()
        first = await world.create(request)
        assert time.monotonic() - started >= world.subject.timings.slow_seconds * 0.9
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED
        assert world.simulator.created(request.reference) == 1

    async def test_timeout_after_acceptance_is_an_unknown_outcome_found_later(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.timeout_after_accept)
        with pytest.raises(Timeout) as raised:
            await world.create(request)
        assert raised.value.retryable
        assert raised.value.outcome_unknown, "a timeout after sending must never be read as a failure"
        assert world.simulator.created(request.reference) == 1, "retries must not create a second payment"
        await self._found_later(world, world.kind, request.reference)
        assert world.moved(request.reference) == request.amount

    async def _found_later(self, world: ContractWorld, kind: PaymentKind, reference: str) -> None:
        """After an unknown outcome, the payment is found by our reference (status or callback)."""
        if world.connector.status_by_reference:
            settled = await world.settle(kind, reference, None)
            assert settled.status is PaymentStatus.SUCCEEDED
            assert settled.reference == reference
            return
        assert world.connector.supports(Capability.CALLBACKS), (
            "a provider that cannot look a payment up by our reference must at least call back"
        )
        received = await world.callbacks(reference, 1)
        assert received, "no way to learn the outcome after a timeout"
        event = world.connector.parse_callback(received[0].headers, received[0].body)
        assert event.status is PaymentStatus.SUCCEEDED

    async def test_5xx_before_processing_is_retried_only_when_safe(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.server_error)
        outcome = await _outcome(world.create(request))
        if world.connector.idempotent_creates:
            assert isinstance(outcome, ProviderPayment), outcome
            assert world.simulator.attempts(request.reference) == world.subject.timings.failing_attempts + 1
            settled = await world.settle(world.kind, request.reference, outcome.provider_reference)
            assert settled.status is PaymentStatus.SUCCEEDED
        else:
            assert isinstance(outcome, Unavailable), outcome
            assert outcome.retryable and outcome.outcome_unknown
            assert world.simulator.attempts(request.reference) == 1, "a create without idempotency is never resent"
        assert world.simulator.created(request.reference) <= 1

    async def test_5xx_after_processing_never_pays_twice(self, world: ContractWorld) -> None:
        phone = world.subject.phones.server_error_after_processing
        if phone is None:
            pytest.skip("the simulator has no 5xx-after-processing outcome")
        request = world.request(phone)
        outcome = await _outcome(world.create(request))
        if world.connector.idempotent_creates:
            assert isinstance(outcome, ProviderPayment), outcome
            assert world.simulator.attempts(request.reference) >= 2
        else:
            assert isinstance(outcome, Unavailable) and outcome.outcome_unknown, outcome
            assert world.simulator.attempts(request.reference) == 1
        assert world.simulator.created(request.reference) == 1
        await self._found_later(world, world.kind, request.reference)
        assert world.moved(request.reference) == request.amount

    async def test_429_is_retried_after_retry_after(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.rate_limited)
        started = time.monotonic()
        first = await world.create(request)
        assert time.monotonic() - started >= world.subject.timings.retry_after_seconds * 0.9
        assert world.simulator.attempts(request.reference) == 2
        assert world.simulator.created(request.reference) == 1
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED

    async def test_invalid_requests_are_refused_before_any_call(self, world: ContractWorld) -> None:
        unsupported = sorted(set(CURRENCY_EXPONENTS) - world.connector.currencies)
        if unsupported:
            request = world.request(world.subject.phones.success, currency=unsupported[0])
            with pytest.raises(InvalidRequest) as raised:
                await world.create(request)
            assert raised.value.reason is FailureReason.INVALID_CURRENCY
            assert world.simulator.attempts(request.reference) == 0
        limits = world.connector.amount_limits.get(world.subject.currency)
        if limits is not None and limits.maximum is not None:
            request = world.request(world.subject.phones.success, amount=limits.maximum + 1)
            with pytest.raises(InvalidRequest) as raised:
                await world.create(request)
            assert raised.value.reason is FailureReason.INVALID_AMOUNT
            assert world.simulator.attempts(request.reference) == 0

    # -- callbacks -----------------------------------------------------------------------------------------

    async def _first_callback(self, world: ContractWorld) -> tuple[CollectRequest | PayoutRequest, ReceivedCallback]:
        if not world.connector.supports(Capability.CALLBACKS):
            pytest.skip("the provider does not call back: polling only (asserted by test_unsupported_…)")
        request = world.request(world.subject.phones.success)
        world.first_payment = await world.create(request)
        received = await world.callbacks(request.reference, 1)
        assert received, "the simulator sent no callback"
        return request, received[0]

    async def test_callback_verifies_and_parses(self, world: ContractWorld) -> None:
        request, callback = await self._first_callback(world)
        world.connector.verify_callback(callback.headers, callback.body)
        event = world.connector.parse_callback(callback.headers, callback.body)
        assert event.event_id
        assert event.reference in (request.reference, None)
        assert event.kind is world.kind
        assert event.status is PaymentStatus.SUCCEEDED
        assert event.amount in (request.amount, None)
        assert event.signed is world.connector.callbacks_signed
        if not event.signed:  # a doorbell: the status query must agree before anyone is credited
            provider_reference = event.provider_reference
            if event.callback_token is not None:  # named by the token issued at creation (Orange's notif_token)
                first = world.first_payment
                assert first is not None and event.callback_token == first.callback_token
                provider_reference = provider_reference or first.provider_reference
            confirmed = await world.status(world.kind, request.reference, provider_reference)
            assert confirmed.status is PaymentStatus.SUCCEEDED

    async def test_forged_tampered_and_replayed_callbacks_are_rejected(self, world: ContractWorld) -> None:
        if not world.connector.callbacks_signed:
            assert world.subject.sign_callback is None, "an unsigned provider has no signature to forge"
            _request, callback = await self._first_callback(world)
            assert world.connector.parse_callback(callback.headers, callback.body).signed is False
            return
        sign, secret = world.subject.sign_callback, world.subject.webhook_secret
        assert sign is not None and secret is not None, "signed providers give sign_callback and webhook_secret"
        _request, callback = await self._first_callback(world)
        body = callback.body
        now = int(time.time())
        tampered = body.replace(b"SUCCESS", b"SUCCESX") if b"SUCCESS" in body else body + b" "
        attempts: dict[str, tuple[Mapping[str, str], bytes, float | None]] = {
            "tampered body": (callback.headers, tampered, None),
            "forged with another secret": ({**sign(body, now, "not-the-secret")}, body, None),
            "no signature": ({"content-type": "application/json"}, body, None),
            "replayed too late": ({**sign(body, now - 3600, secret)}, body, None),
            "captured then replayed an hour later": (callback.headers, body, time.time() + 3600),
        }
        for name, (headers, raw, at) in attempts.items():
            with pytest.raises(InvalidSignature):
                world.connector.verify_callback(headers, raw, at)
                pytest.fail(f"accepted a callback: {name}")
        world.connector.verify_callback(sign(body, now, secret), body)  # the genuine one still passes

    async def test_a_duplicated_callback_parses_to_the_same_event(self, world: ContractWorld) -> None:
        if not world.connector.supports(Capability.CALLBACKS):
            pytest.skip("the provider does not call back")
        request = world.request(world.subject.phones.duplicated_callback)
        await world.create(request)
        received = await world.callbacks(request.reference, 2)
        assert len(received) == 2
        events = []
        for callback in received:
            world.connector.verify_callback(callback.headers, callback.body)
            events.append(world.connector.parse_callback(callback.headers, callback.body))
        assert events[0].event_id == events[1].event_id
        assert world.moved(request.reference) == request.amount, "the provider paid once"

    async def test_no_callback_leaves_polling_to_find_the_result(self, world: ContractWorld) -> None:
        request = world.request(world.subject.phones.no_callback)
        first = await world.create(request)
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED
        assert await world.callbacks(request.reference, 1, within=world.subject.timings.settle_seconds * 3) == []

    async def test_a_late_callback_arrives_after_the_status_settled(self, world: ContractWorld) -> None:
        if not world.connector.supports(Capability.CALLBACKS):
            pytest.skip("the provider does not call back")
        request = world.request(world.subject.phones.late_callback)
        first = await world.create(request)
        settled = await world.settle(world.kind, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED
        assert world.sink.for_path(f"/callbacks/{request.reference}") == []
        timings = world.subject.timings
        received = await world.callbacks(request.reference, 1, within=timings.late_callback_seconds + 3)
        assert len(received) == 1
        world.connector.verify_callback(received[0].headers, received[0].body)

    # -- payouts ---------------------------------------------------------------------------------------------

    async def test_payout_succeeds_and_the_payee_received_it(self, world: ContractWorld) -> None:
        phones = world.subject.phones
        request = world.payout_request(phones.payout_success or phones.success)
        if not world.connector.supports(Capability.PAYOUT):
            with pytest.raises(Unsupported):
                await world.connector.payout(request)
            return
        before = world.simulator.merchant_balance(request.currency)
        first = await world.connector.payout(request)
        assert first.kind is PaymentKind.PAYOUT
        assert first.reference == request.reference
        settled = await world.settle(PaymentKind.PAYOUT, request.reference, first.provider_reference)
        assert settled.status is PaymentStatus.SUCCEEDED
        assert world.simulator.paid_out(request.reference) == request.amount
        assert before - world.simulator.merchant_balance(request.currency) >= request.amount
        assert world.simulator.created(request.reference) == 1

    async def test_each_payout_failure_maps_to_its_stable_reason(self, world: ContractWorld) -> None:
        if not world.connector.supports(Capability.PAYOUT):
            pytest.skip("no payouts: asserted by test_payout_succeeds_…")
        assert world.subject.phones.payout_failures, "declare the payout failure reasons the provider produces"
        for reason, phone in world.subject.phones.payout_failures.items():
            request = world.payout_request(phone)
            outcome = await _outcome(world.connector.payout(request))
            if isinstance(outcome, ConnectorError):
                assert isinstance(outcome, Declined), (phone, outcome)
                assert outcome.reason is reason, (phone, outcome.reason, reason)
            else:
                settled = await world.settle(PaymentKind.PAYOUT, request.reference, outcome.provider_reference)
                assert settled.status is PaymentStatus.FAILED, (phone, settled)
                assert settled.failure is reason, (phone, settled.failure, reason)
            assert world.simulator.paid_out(request.reference) == 0, phone

    async def test_payout_timeout_after_acceptance_is_found_later_once(self, world: ContractWorld) -> None:
        if not world.connector.supports(Capability.PAYOUT):
            pytest.skip("no payouts: asserted by test_payout_succeeds_…")
        request = world.payout_request(world.subject.phones.timeout_after_accept)
        with pytest.raises(Timeout) as raised:
            await world.connector.payout(request)
        assert raised.value.outcome_unknown
        assert world.simulator.created(request.reference) == 1
        await self._found_later(world, PaymentKind.PAYOUT, request.reference)
        assert world.simulator.paid_out(request.reference) == request.amount

    async def test_bulk_payout_pays_each_line_once_even_when_sent_again(self, world: ContractWorld) -> None:
        connector = world.connector
        if not connector.supports(Capability.BULK_PAYOUT):
            with pytest.raises(Unsupported):
                await connector.bulk_payout_status(world.new_reference())
            return
        phones = world.subject.phones
        requests = [world.payout_request(phones.payout_success or phones.success) for _ in range(3)]
        lines = [BulkPayoutLine(r.reference, r.amount, r.currency, r.payee_phone, r.payee_name) for r in requests]
        reference = world.new_reference()
        await connector.bulk_payout(reference, lines)
        await connector.bulk_payout(reference, lines)  # an answer lost, sent again: recognised, not paid twice
        deadline = time.monotonic() + 15
        while True:
            result = await connector.bulk_payout_status(reference)
            statuses = {item.reference: item.status for item in result.items}
            if all(statuses.get(line.reference) is PaymentStatus.SUCCEEDED for line in lines):
                break
            assert not any(status.is_final and status is not PaymentStatus.SUCCEEDED for status in statuses.values())
            assert time.monotonic() < deadline, result
            await asyncio.sleep(0.05)
        for request in requests:
            assert world.simulator.paid_out(request.reference) == request.amount
        with pytest.raises(PaymentNotFound):
            await connector.bulk_payout_status(world.new_reference())
        with pytest.raises(InvalidRequest):
            await connector.bulk_payout(world.new_reference(), [lines[0], lines[0]])  # one line twice

    # -- refunds ------------------------------------------------------------------------------------------------

    async def _refund_settled(self, world: ContractWorld, request: RefundRequest) -> ProviderPayment:
        """Send the refund, then ask its status until it is final (or the contract's settle time elapses)."""
        answer = await world.connector.refund(request)
        deadline = time.monotonic() + SETTLE_WITHIN
        while not answer.status.is_final and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            answer = await world.connector.refund_status(request, answer.provider_reference or None)
        return answer

    async def test_refunds_give_the_money_back_never_more_than_collected(self, world: ContractWorld) -> None:
        connector = world.connector
        if not connector.supports(Capability.REFUND):
            return  # ``test_undeclared_capabilities_raise_unsupported`` checks the refusal
        refunded = getattr(world.simulator, "refunded", None)
        assert refunded is not None, "a REFUND simulator tells what went back to the payer: refunded(reference)"
        collect = world.collect_request(world.subject.phones.success)
        created = await connector.collect(collect)
        paid = await world.settle(PaymentKind.COLLECTION, collect.reference, created.provider_reference)
        assert paid.status is PaymentStatus.SUCCEEDED
        amount, currency = collect.amount, collect.currency
        parts = [amount // 2, amount - amount // 2] if connector.partial_refunds else [amount]
        for part in parts:
            request = RefundRequest(world.new_reference(), paid.provider_reference, part, currency, reason="contract")
            done = await self._refund_settled(world, request)
            assert done.status is PaymentStatus.SUCCEEDED, done
            assert (done.reference, done.kind) == (request.reference, PaymentKind.PAYOUT)
            if connector.idempotent_creates:
                again = await connector.refund(request)  # the same refund sent again: recognised, not repeated
                assert again.status in (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)
        assert refunded(collect.reference) == amount
        # Nothing is left: a further refund is refused, at once or by its status, and moves nothing.
        more = RefundRequest(world.new_reference(), paid.provider_reference, 1, currency, reason="contract")
        outcome = await _outcome(self._refund_settled(world, more))
        refused = isinstance(outcome, InvalidRequest)
        assert refused or (isinstance(outcome, ProviderPayment) and outcome.status is PaymentStatus.FAILED), outcome
        assert refunded(collect.reference) == amount

    async def test_a_reversed_payout_comes_back_once(self, world: ContractWorld) -> None:
        connector = world.connector
        if not connector.supports(Capability.REVERSAL):
            return  # ``test_undeclared_capabilities_raise_unsupported`` checks the refusal
        reversed_ = getattr(world.simulator, "reversed", None)
        assert reversed_ is not None, "a REVERSAL simulator tells what the payee gave back: reversed(reference)"
        phones = world.subject.phones
        payout = world.payout_request(phones.payout_success or phones.success)
        sent = await connector.payout(payout)
        paid = await world.settle(PaymentKind.PAYOUT, payout.reference, sent.provider_reference)
        assert paid.status is PaymentStatus.SUCCEEDED
        request = RefundRequest(world.new_reference(), paid.provider_reference, payout.amount, payout.currency)
        done = await connector.reverse_payout(request)
        assert (done.status, done.kind, done.reference) == (
            PaymentStatus.SUCCEEDED,
            PaymentKind.COLLECTION,
            request.reference,
        )
        assert (await connector.reversal_status(request)).status is PaymentStatus.SUCCEEDED
        again = await connector.reverse_payout(request)  # the same reversal sent again: recognised, not repeated
        assert again.status is PaymentStatus.SUCCEEDED
        assert reversed_(payout.reference) == payout.amount
        with pytest.raises(InvalidRequest):  # a second reversal of the same payout
            await connector.reverse_payout(
                RefundRequest(world.new_reference(), paid.provider_reference, payout.amount, payout.currency)
            )
        assert reversed_(payout.reference) == payout.amount

    # -- other capabilities ---------------------------------------------------------------------------------

    async def test_balance_matches_the_providers_books(self, world: ContractWorld) -> None:
        currency = world.subject.currency
        if not world.connector.supports(Capability.BALANCE):
            with pytest.raises(Unsupported):
                await world.connector.balance(currency)
            return
        balance = await world.connector.balance(currency)
        assert balance.currency == currency
        assert balance.available == world.simulator.merchant_balance(currency)

    async def test_account_holder_check(self, world: ContractWorld) -> None:
        phones = world.subject.phones
        if not world.connector.supports(Capability.ACCOUNT_HOLDER):
            with pytest.raises(Unsupported):
                await world.connector.account_holder(phones.success)
            return
        assert (await world.connector.account_holder(phones.success)).active is True
        assert phones.account_missing is not None, "declare a number without an account"
        assert (await world.connector.account_holder(phones.account_missing)).active is False

    async def test_undeclared_capabilities_raise_unsupported(self, world: ContractWorld) -> None:
        connector = world.connector
        phone = world.subject.phones.success
        calls: dict[Capability, Callable[[], Awaitable[object]]] = {
            Capability.COLLECT: lambda: connector.collect(world.collect_request(phone)),
            Capability.PAYOUT: lambda: connector.payout(world.payout_request(phone)),
            Capability.COLLECT_STATUS: lambda: connector.collect_status("ct-any"),
            Capability.PAYOUT_STATUS: lambda: connector.payout_status("ct-any"),
            Capability.BALANCE: lambda: connector.balance(world.subject.currency),
            Capability.ACCOUNT_HOLDER: lambda: connector.account_holder(phone),
            Capability.REFUND: lambda: connector.refund(
                RefundRequest("ct-refund", "p-1", world.subject.amount, world.subject.currency)
            ),
            Capability.REVERSAL: lambda: connector.reverse_payout(
                RefundRequest("ct-reversal", "p-1", world.subject.amount, world.subject.currency)
            ),
        }
        for capability, call in calls.items():
            if connector.supports(capability):
                continue
            with pytest.raises(Unsupported) as raised:
                await call()
            assert capability.value in raised.value.message_en and capability.value in raised.value.message_fr
            assert connector.name in raised.value.message_en
        if not connector.supports(Capability.CALLBACKS):
            with pytest.raises(Unsupported):
                connector.parse_callback({}, json.dumps({}).encode())
        assert set(Capability) >= connector.capabilities
