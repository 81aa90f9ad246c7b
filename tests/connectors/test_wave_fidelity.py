"""Wave as its Business API documents it: payout batches, the transactions list, documented error shapes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import pytest
from pydantic import SecretStr

from cauri.connectors.base import PaymentKind, PaymentStatus, PayoutRequest, RefundRequest
from cauri.connectors.mobile_money.wave import (
    CheckoutSessionCreate,
    Payout,
    PayoutBatch,
    PayoutCreate,
    WaveClient,
    WaveConnector,
    WaveSimulator,
)
from cauri.connectors.mobile_money.wave import transformers as wave
from cauri.kit.errors import FailureReason, InvalidRequest, PaymentNotFound
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app

POLICY = HttpPolicy(read_timeout=5.0, backoff_base=0.01, backoff_cap=0.05, breaker_failures=1000)


def _phone(outcome: Outcome) -> str:
    return magic_phone(outcome, "SN")


T = TypeVar("T")


async def _eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 5.0) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        await asyncio.sleep(0.02)


@dataclass
class World:
    simulator: WaveSimulator
    url: str
    api_key: str

    def client(self) -> WaveClient:
        return WaveClient(api_key=self.api_key, base_url=self.url, policy=POLICY)

    def connector(self) -> WaveConnector:
        return WaveConnector(
            api_key=SecretStr(self.api_key),
            webhook_secrets=[SecretStr("wave_sn_WHS_tests")],
            success_url="https://cauri.example/ok",
            error_url="https://cauri.example/ko",
            base_url=self.url,
            policy=POLICY,
        )


@asynccontextmanager
async def _world(**options: object) -> AsyncIterator[World]:
    api_key = f"wave_sn_prod_{uuid.uuid4().hex}"
    simulator = WaveSimulator(api_key=api_key, settings=SimulatorSettings(settle_seconds=0.02), **options)  # type: ignore[arg-type]
    async with serve_app(simulator.app) as url:
        yield World(simulator, url, api_key)
    await simulator.aclose()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with _world() as item:
        yield item


def _ref() -> str:
    return f"wb-{uuid.uuid4().hex[:12]}"


# -- payout batches ---------------------------------------------------------------------------------------------


async def test_a_payout_batch_makes_each_payout_and_completes_with_mixed_results(world: World) -> None:
    refs = [_ref(), _ref(), _ref()]
    lines = [
        PayoutCreate(
            receive_amount="1000", mobile=_phone(Outcome.SUCCESS), name="Fatou Ndiaye", client_reference=refs[0]
        ),
        PayoutCreate(receive_amount="1200", mobile=_phone(Outcome.LIMIT_REACHED), client_reference=refs[1]),
        PayoutCreate(receive_amount="1600", mobile=_phone(Outcome.ACCOUNT_INACTIVE), client_reference=refs[2]),
    ]
    async with world.client() as client:
        batch_id = await client.create_payout_batch(lines, idempotency_key="batch-key-1")
        assert batch_id.startswith("pb-")

        def finished(batch: PayoutBatch) -> bool:
            return batch.status == "complete" and all(p.status != "processing" for p in batch.payouts)

        batch = await _eventually(lambda: client.get_payout_batch(batch_id), finished)
        by_ref = {p.client_reference: p for p in batch.payouts}
        assert [by_ref[r].status for r in refs] == ["succeeded", "failed", "failed"]
        assert by_ref[refs[0]].fee == "10"  # the simulator's 1 % fee, charged on top of receive_amount
        codes = [by_ref[r].payout_error.error_code for r in refs[1:]]  # type: ignore[union-attr]
        assert codes == ["recipient-limit-exceeded", "recipient-account-blocked"]  # Wave's published codes
        assert [wave.failure_from_code(code, PaymentKind.PAYOUT) for code in codes] == [
            FailureReason.LIMIT_REACHED,
            FailureReason.ACCOUNT_INACTIVE,
        ]
        # Each payout of the batch is an ordinary payout: readable by id and found by its client_reference.
        assert (await client.get_payout(by_ref[refs[0]].id)).status == "succeeded"
        assert [p.id for p in await client.search_payouts(refs[0])] == [by_ref[refs[0]].id]

        # The same key and body again: the same batch, nothing paid twice.
        assert await client.create_payout_batch(lines, idempotency_key="batch-key-1") == batch_id
        with pytest.raises(InvalidRequest) as reused:  # the same key with another body: Wave's idempotency-mismatch
            await client.create_payout_batch(lines[:1], idempotency_key="batch-key-1")
        assert reused.value.provider_code == "idempotency-mismatch"
    assert world.simulator.paid_out(refs[0]) == 1000
    assert world.simulator.created(refs[0]) == 1
    assert world.simulator.merchant_balance("XOF") == 1_000_000_000 - 1010


async def test_the_connector_follows_a_batch_payout_by_its_reference(world: World) -> None:
    reference = _ref()
    async with world.client() as client:
        await client.create_payout_batch(
            [PayoutCreate(receive_amount="500", mobile=_phone(Outcome.SUCCESS), client_reference=reference)]
        )
    async with world.connector() as connector:

        async def status() -> PaymentStatus:
            try:
                return (await connector.payout_status(reference)).status
            except PaymentNotFound:  # the batch has not made this payout yet
                return PaymentStatus.PENDING

        assert await _eventually(status, lambda s: s.is_final) is PaymentStatus.SUCCEEDED


async def test_a_batch_with_an_invalid_payout_is_refused_whole_and_unknown_batches_are_404(world: World) -> None:
    good = PayoutCreate(receive_amount="700", mobile=_phone(Outcome.SUCCESS), client_reference=_ref())
    headers = {"Authorization": f"Bearer {world.api_key}", "idempotency-key": "k-invalid"}
    async with httpx.AsyncClient(base_url=world.url, headers=headers) as http:
        refused = await http.post(
            "/v1/payout-batch",
            json={"payouts": [good.model_dump(exclude_none=True), {"currency": "XOF", "receive_amount": "10"}]},
        )
        assert refused.status_code == 400
        assert refused.json()["code"] == "request-validation-error"
        assert refused.json()["details"][0]["loc"] == ["payouts", 1]
        no_key = await http.post("/v1/payout-batch", json={"payouts": []}, headers={"idempotency-key": ""})
        assert no_key.status_code == 400
        # Wave's endpoint list spells the read path /v1/payouts-batch/:id; both answer.
        assert (await http.get("/v1/payouts-batch/pb-unknown")).json()["code"] == "not-found"
    assert world.simulator.created(good.client_reference or "") == 0
    async with world.client() as client:
        with pytest.raises(PaymentNotFound):
            await client.get_payout_batch("pb-unknown")


async def test_a_batch_create_answered_500_is_recognised_on_retry() -> None:
    """``…915`` on one line: the batch exists but the first answer is a 500; the retry (same key) gets it back."""
    async with _world() as world:
        reference = _ref()
        line = PayoutCreate(
            receive_amount="300", mobile=_phone(Outcome.ERROR_AFTER_PROCESSING), client_reference=reference
        )
        async with world.client() as client:
            batch_id = await client.create_payout_batch([line])  # the HTTP layer retries under the same key
            batch = await _eventually(lambda: client.get_payout_batch(batch_id), lambda b: b.status == "complete")
        assert len(world.simulator.batches) == 1
        assert [p.client_reference for p in batch.payouts] == [reference]


# -- the transactions list --------------------------------------------------------------------------------------


async def test_the_transactions_list_pages_through_the_days_movements() -> None:
    async with _world(transactions_page_size=2) as world:
        payer = _phone(Outcome.SUCCESS)
        async with world.client() as client, world.connector() as connector:
            session = await client.create_checkout_session(
                CheckoutSessionCreate(
                    amount="5000",
                    success_url="https://x/ok",
                    error_url="https://x/ko",
                    client_reference="tx-collect",
                    restrict_payer_mobile=payer,
                )
            )
            await _eventually(
                lambda: client.get_checkout_session(session.id), lambda s: s.payment_status == "succeeded"
            )
            payout = PayoutRequest("tx-payout", 2000, "XOF", _phone(Outcome.SUCCESS), payee_name="Awa Diallo")
            sent = await connector.payout(payout)
            await _eventually(lambda: connector.payout_status("tx-payout"), lambda p: p.status.is_final)
            await connector.reverse_payout(RefundRequest("tx-reversal", sent.provider_reference, 2000, "XOF"))

            day = world.simulator.statement[0].timestamp.date()  # not "today": the test may straddle midnight UTC
            first = await client.list_transactions(day.isoformat())
            assert len(first.items) == 2 and first.page_info.has_next_page and first.page_info.start_cursor is None
            items = await client.all_transactions(day.isoformat())
            types = [item.transaction_type for item in items]
            assert types == ["api_checkout", "api_payout", "api_payout_reversal"]
            checkout, paid, reversal = items
            assert (checkout.amount, checkout.checkout_api_session_id) == ("5000", session.id)
            assert checkout.transaction_id == (await client.get_checkout_session(session.id)).transaction_id
            assert (paid.amount, paid.fee, paid.client_reference) == ("-2000", "20", "tx-payout")
            assert (reversal.amount, reversal.is_reversal) == ("2000", True)
            assert int(reversal.balance or "0") == world.simulator.merchant_balance("XOF")

            assert (await client.list_transactions()).date == datetime.now(UTC).date().isoformat()  # today by default
            yesterday = (day - timedelta(days=1)).isoformat()
            assert (await client.list_transactions(yesterday)).items == []
            with pytest.raises(InvalidRequest):  # a cursor of another day's list
                await client.list_transactions(yesterday, after=first.page_info.end_cursor)
            with pytest.raises(InvalidRequest):
                await client.list_transactions("07/12/2026")


# -- reversals as Wave documents them ----------------------------------------------------------------------------


async def test_reversals_follow_wave_s_documented_idempotency_and_three_day_window() -> None:
    async with _world(idempotent_reversal=True) as world, world.client() as client:
        recent = await client.create_payout(PayoutCreate(receive_amount="800", mobile=_phone(Outcome.SUCCESS)))
        old = await client.create_payout(PayoutCreate(receive_amount="900", mobile=_phone(Outcome.SUCCESS)))
        for payout_id in (recent.id, old.id):

            async def read(payout_id: str = payout_id) -> Payout:
                return await client.get_payout(payout_id)

            await _eventually(read, lambda p: p.status == "succeeded")
        headers = {"Authorization": f"Bearer {world.api_key}"}
        async with httpx.AsyncClient(base_url=world.url, headers=headers) as http:
            for key in ("first-reversal", "another-reversal"):  # Wave: 200 both times, one reversal only
                answer = await http.post(f"/v1/payout/{recent.id}/reverse", headers={"idempotency-key": key})
                assert answer.status_code == 200, answer.text
            world.simulator.payouts[old.id].timestamp -= timedelta(days=4)
            late = await http.post(f"/v1/payout/{old.id}/reverse", headers={"idempotency-key": "late"})
            assert (late.status_code, late.json()["code"]) == (400, "payout-reversal-time-limit-exceeded")
            unknown = await http.post("/v1/payout/pt-nope/reverse", headers={"idempotency-key": "nope"})
            assert (unknown.status_code, unknown.json()["code"]) == (404, "not-found")
        assert (await client.get_payout(recent.id)).status == "reversed"
        assert (await client.get_payout(old.id)).status == "succeeded"
        reversals = [e for e in world.simulator.statement if e.transaction_type == "api_payout_reversal"]
        assert [e.amount for e in reversals] == [800]
