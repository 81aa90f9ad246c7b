"""One table reads every provider error, for single payments and bulk lines alike (payments/outcomes.py).

Each error kind is raised by a provider double (a connector whose payout raises it) at the real send paths of
both modules: :func:`cauri.payments.submission._submit_call` and :func:`cauri.disbursements.payouts.pay_line`.
Both must reach the table's verdict and reason: a difference would be a line paid twice or a payment marked
failed that the provider did pay."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from cauri.connectors.base import Capability, PaymentConnector, PayoutRequest, ProviderPayment
from cauri.core.db import utcnow
from cauri.disbursements import payouts
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    RateLimited,
    Timeout,
    Unavailable,
    Unsupported,
)
from cauri.payments import submission
from cauri.payments.outcomes import (
    OWN_FAILURE_MESSAGES,
    UNKNOWN_AT_PROVIDER_GRACE,
    Verdict,
    failure_message,
    of_send_error,
    of_status_error,
)
from cauri.payments.settlement import Outcome
from cauri.payments.states import PaymentKind, Status
from tests.conftest import make_settings

# (error, the table's verdict, its reason when failed)
SEND_ERRORS: dict[str, tuple[ConnectorError, Verdict, str | None]] = {
    "declined": (Declined(FailureReason.INSUFFICIENT_FUNDS), Verdict.FAILED, "insufficient_funds"),
    "invalid with a reason": (
        InvalidRequest(reason=FailureReason.INVALID_AMOUNT),
        Verdict.FAILED,
        "invalid_amount",
    ),
    "invalid": (InvalidRequest(), Verdict.FAILED, "invalid_request"),
    "unsupported": (Unsupported("double", "payout"), Verdict.FAILED, "unsupported"),
    "our credentials": (AuthError(), Verdict.FAILED, "provider_auth_failed"),
    "rate limited": (RateLimited(retry_after=7), Verdict.RETRY, None),
    "down before sending": (Unavailable(), Verdict.RETRY, None),
    "down after sending": (Unavailable(outcome_unknown=True), Verdict.PENDING, None),
    "rate limited after sending": (RateLimited(outcome_unknown=True), Verdict.PENDING, None),
    "timeout": (Timeout(outcome_unknown=True), Verdict.PENDING, None),
    "unreadable answer": (ConnectorError(), Verdict.PENDING, None),
}


class Raising(PaymentConnector):
    """A provider double whose payouts fail with a given error, and which knows no payment when asked."""

    name = "raising"
    capabilities = frozenset({Capability.PAYOUT, Capability.PAYOUT_STATUS})
    currencies = frozenset({"XOF"})

    def __init__(self, error: ConnectorError) -> None:
        self.error = error

    async def _payout(self, request: PayoutRequest) -> ProviderPayment:
        raise self.error

    async def _payout_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        raise PaymentNotFound()


def _snapshot() -> submission.Snapshot:
    return submission.Snapshot(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        kind=PaymentKind.PAYOUT,
        status=Status.CREATED,
        provider="raising",
        outbound_reference=str(uuid.uuid4()),
        provider_reference=None,
        amount=5000,
        currency="XOF",
        phone="+221770000100",
        description="",
        metadata={},
        payee_name=None,
        submit_attempts=1,
        created_at_age=timedelta(0),
    )


def _order() -> payouts.LineOrder:
    return payouts.LineOrder(
        line_number=1,
        reference=str(uuid.uuid4()),
        amount=5000,
        currency="XOF",
        phone="+221770000100",
        payee_name=None,
        provider_payment_id=None,
        submitted_at=None,
        maybe_sent=False,
    )


def _payment_verdict(result: Outcome | object) -> tuple[Verdict, str | None]:
    if not isinstance(result, Outcome):
        return Verdict.RETRY, None  # submission's "send again later"
    verdicts = {Status.FAILED: Verdict.FAILED, Status.PENDING: Verdict.PENDING, Status.SUCCEEDED: Verdict.SUCCEEDED}
    return verdicts[result.status], result.reason


_LINE_VERDICTS = {
    payouts.Verdict.FAILED: Verdict.FAILED,
    payouts.Verdict.PENDING: Verdict.PENDING,
    payouts.Verdict.RETRY: Verdict.RETRY,
    payouts.Verdict.COMPLETED: Verdict.SUCCEEDED,
}


@pytest.mark.parametrize("kind", list(SEND_ERRORS))
def test_the_table_reads_every_send_error(kind: str) -> None:
    error, verdict, reason = SEND_ERRORS[kind]
    outcome = of_send_error(error)
    assert (outcome.verdict, outcome.reason) == (verdict, reason)
    assert outcome.error == error.code
    if verdict is Verdict.FAILED:
        assert failure_message(reason, "fr") and failure_message(reason, "en")
    if kind == "rate limited":
        assert outcome.retry_after == 7


@pytest.mark.parametrize("kind", list(SEND_ERRORS))
async def test_a_single_payout_and_a_bulk_line_read_an_error_alike(kind: str, tmp_path: Path) -> None:
    error, verdict, reason = SEND_ERRORS[kind]
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", tmp_path)
    connector = Raising(error)

    single = await submission._submit_call(connector, _snapshot(), settings)
    link = payouts.ProviderLink("raising", [payouts.Lane(connector)], asyncio.Semaphore(1))
    line = await payouts.pay_line(link, _order(), cancelled=lambda: False, description="", metadata={})

    assert _payment_verdict(single) == (verdict, reason)
    assert (_LINE_VERDICTS[line.verdict], line.reason) == (verdict, reason)
    if verdict is Verdict.PENDING:
        assert line.provider_status == "unknown"
        assert isinstance(single, Outcome) and single.provider_status == "unknown"


@pytest.mark.parametrize(
    ("sent_for", "verdict", "reason"),
    [
        (None, Verdict.PENDING, None),
        (UNKNOWN_AT_PROVIDER_GRACE - timedelta(minutes=1), Verdict.PENDING, None),
        (UNKNOWN_AT_PROVIDER_GRACE + timedelta(minutes=1), Verdict.FAILED, "provider_error"),
    ],
)
async def test_a_provider_that_does_not_know_a_payment_is_believed_after_the_grace(
    sent_for: timedelta | None, verdict: Verdict, reason: str | None
) -> None:
    outcome = of_status_error(PaymentNotFound(), sent_for=sent_for)
    assert (outcome.verdict, outcome.reason) == (verdict, reason)

    link = payouts.ProviderLink("raising", [payouts.Lane(Raising(ConnectorError()))], asyncio.Semaphore(1))
    submitted_at = None if sent_for is None else utcnow() - sent_for
    order = dataclasses.replace(_order(), provider_payment_id="p-1", submitted_at=submitted_at, maybe_sent=True)
    line = await payouts.check_line(link, order)
    assert (_LINE_VERDICTS[line.verdict], line.reason) == (verdict, reason)
    assert of_status_error(Timeout(), sent_for=sent_for).verdict is Verdict.PENDING  # any other error: ask later


@pytest.mark.parametrize("reason", [*(r.value for r in FailureReason), *OWN_FAILURE_MESSAGES, "something_new"])
def test_every_failure_reason_has_its_french_and_english_words(reason: str) -> None:
    french, english = failure_message(reason, "fr"), failure_message(reason, "en")
    assert french and english and french != english
    assert failure_message(None) is None
