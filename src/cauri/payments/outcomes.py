"""What a provider call taught us, in one table for every module that pays out or collects.

Single payments (:mod:`cauri.payments.submission`) and bulk lines (:mod:`cauri.disbursements.payouts`) send
money through the same connectors and must read their errors the same way: a difference here is a line paid
twice or a payment marked failed that the provider did pay. So the ladder lives here, once:

* :func:`of_send_error`: a connector error raised by a *send* (collect, payout, bulk payout);
* :func:`of_status_error`: a connector error raised by a *status query*, with the grace after which a provider
  that still does not know a payment is believed;
* :func:`of_status`: a provider's answer (succeeded, pending, failed…);
* :func:`failure_message`: the French/English wording of every failure reason, for the API, the console, the
  CLI and the outbound events alike.

Each caller turns a :class:`CallOutcome` into its own record (a payment transition, a line update); none
re-decides what an error means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import structlog

from cauri.connectors.base import PaymentStatus
from cauri.core.i18n import Language, pick
from cauri.kit.errors import (
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    PaymentNotFound,
    RateLimited,
    Unavailable,
    Unsupported,
)

log = structlog.get_logger(__name__)

# A provider that still does not know a payment this long after we sent it never received it.
UNKNOWN_AT_PROVIDER_GRACE = timedelta(minutes=10)
# Delay before re-sending a payment the provider refused to take yet (rate limit, down before sending), by attempt.
SUBMIT_BACKOFF_SECONDS: tuple[int, ...] = (2, 5, 15, 30, 60, 120, 300)
UNKNOWN = "unknown"  # provider_status of a payment whose fate the provider has not told us


class Verdict(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # final: ``reason`` says why
    PENDING = "pending"  # the provider has it, or may have it: ask its status later, never re-send it as new
    RETRY = "retry"  # it surely did not reach the provider: send it again (same reference) after a delay


@dataclass(frozen=True, slots=True)
class CallOutcome:
    verdict: Verdict
    reason: str | None = None  # a FailureReason value or one of OWN_FAILURE_MESSAGES, when failed
    provider_status: str | None = None
    error: str | None = None  # the connector error's code, when an error told us this
    retry_after: float | None = None  # seconds the provider asked us to wait (RETRY)

    @property
    def unknown(self) -> bool:
        """Pending because we cannot tell, not because the provider said so."""
        return self.verdict is Verdict.PENDING and self.provider_status == UNKNOWN


def _failed(exc: ConnectorError, reason: str) -> CallOutcome:
    return CallOutcome(Verdict.FAILED, reason=reason, provider_status=exc.provider_code, error=exc.code)


def _unknown(exc: ConnectorError) -> CallOutcome:
    return CallOutcome(Verdict.PENDING, provider_status=UNKNOWN, error=exc.code)


def of_send_error(exc: ConnectorError) -> CallOutcome:  # noqa: PLR0911 - one answer per kind of provider error
    """The outcome of a send that raised ``exc``."""
    if isinstance(exc, Declined):
        return _failed(exc, exc.reason.value)
    if isinstance(exc, InvalidRequest):
        return _failed(exc, exc.reason.value if exc.reason else "invalid_request")
    if isinstance(exc, Unsupported):
        return _failed(exc, "unsupported")
    if isinstance(exc, AuthError):
        # Our credentials, not the payment: loud in the logs, since every following payment fails the same way.
        log.error("provider_auth_failed", provider=exc.provider, code=exc.code)
        return _failed(exc, "provider_auth_failed")
    if isinstance(exc, RateLimited | Unavailable):
        if exc.outcome_unknown:
            return _unknown(exc)
        return CallOutcome(Verdict.RETRY, provider_status=exc.code, error=exc.code, retry_after=_retry_after(exc))
    # A timeout after sending, or an answer we could not read: the provider may have it. Pending; ask later.
    return _unknown(exc)


def _retry_after(exc: ConnectorError) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if value is not None else None


def of_status_error(exc: ConnectorError, *, sent_for: timedelta | None) -> CallOutcome:
    """The outcome of a status query that raised ``exc`` for a payment sent ``sent_for`` ago (None: unknown)."""
    if isinstance(exc, PaymentNotFound):
        if sent_for is not None and sent_for > UNKNOWN_AT_PROVIDER_GRACE:
            return CallOutcome(Verdict.FAILED, reason=FailureReason.PROVIDER_ERROR.value, provider_status="not_found")
        # It may still be on its way into the provider's books: ask again later.
        return CallOutcome(Verdict.PENDING, provider_status="not_found", error=exc.code)
    return _unknown(exc)


_VERDICT_OF: dict[PaymentStatus, Verdict] = {
    PaymentStatus.SUCCEEDED: Verdict.SUCCEEDED,
    PaymentStatus.PENDING: Verdict.PENDING,
    PaymentStatus.FAILED: Verdict.FAILED,
    PaymentStatus.EXPIRED: Verdict.FAILED,
    PaymentStatus.CANCELLED: Verdict.FAILED,
}


def of_status(status: PaymentStatus, provider_status: str | None, failure: FailureReason | None) -> CallOutcome:
    """A provider's answer about a payment; a final answer without a reason fails with the status's name."""
    verdict = _VERDICT_OF[status]
    reason = (failure.value if failure else status.value) if verdict is Verdict.FAILED else None
    return CallOutcome(verdict, reason=reason, provider_status=provider_status)


def submit_retry_delay(outcome: CallOutcome, attempts: int) -> timedelta:
    """When to send again a payment the provider did not take (``RETRY``): its wish, else our backoff."""
    if outcome.retry_after is not None:
        return timedelta(seconds=outcome.retry_after)
    index = min(attempts, len(SUBMIT_BACKOFF_SECONDS)) - 1
    return timedelta(seconds=SUBMIT_BACKOFF_SECONDS[max(index, 0)])


# -- failure messages --------------------------------------------------------------------------------------------

# Reasons Cauri itself gives, next to the providers' FailureReason values (their wording is in connectors.errors).
OWN_FAILURE_MESSAGES: dict[str, tuple[str, str]] = {
    "provider_unavailable": (
        "Le fournisseur est resté indisponible ; le paiement n'a pas été envoyé.",
        "The provider stayed unavailable; the payment was not sent.",
    ),
    "provider_auth_failed": (
        "Le fournisseur a refusé nos identifiants ; vérifiez la configuration du connecteur.",
        "The provider rejected our credentials; check the connector configuration.",
    ),
    "invalid_request": (
        "Le fournisseur a refusé la requête : données invalides.",
        "The provider refused the request: invalid data.",
    ),
    "unsupported": (
        "Ce fournisseur ne prend pas en charge cette opération.",
        "This provider does not support this operation.",
    ),
    "failed": ("Le paiement a échoué.", "The payment failed."),
}


def failure_message(reason: str | None, language: Language | None = None) -> str | None:
    """The explanation of a failure reason, in ``language`` (default: the request's)."""
    if reason is None:
        return None
    if reason in FailureReason.__members__.values():
        return FailureReason(reason).message(language)
    fr, en = OWN_FAILURE_MESSAGES.get(reason, OWN_FAILURE_MESSAGES["failed"])
    return pick(fr, en, language)
