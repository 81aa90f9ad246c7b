"""The connector error tree and the stable failure reasons every provider maps onto.

Modelled on stripe-python: one base class carrying what a caller needs to decide what to do next
(``retryable``, ``outcome_unknown``) and what support needs to investigate (``provider``, ``provider_code``,
``request_id``). Every message exists in French (default) and English.

The rule that keeps money safe: when ``outcome_unknown`` is true (a timeout or a 5xx after the request may have
reached the provider), the caller must treat the payment as *pending* and settle it with a status query; it
must never mark it failed nor send it again under a new reference.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cauri.core.errors import AppError
from cauri.core.i18n import Language, pick


class FailureReason(StrEnum):
    """Why a provider refused or failed a payment, in Cauri's words. Stable: clients and stored rows use them."""

    PAYER_NOT_FOUND = "payer_not_found"
    PAYEE_NOT_FOUND = "payee_not_found"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LIMIT_REACHED = "limit_reached"
    NOT_ALLOWED = "not_allowed"
    INVALID_CURRENCY = "invalid_currency"
    INVALID_AMOUNT = "invalid_amount"
    EXPIRED = "expired"
    REJECTED_BY_PAYER = "rejected_by_payer"
    CANCELLED = "cancelled"
    ACCOUNT_INACTIVE = "account_inactive"
    DUPLICATE = "duplicate"
    PROVIDER_ERROR = "provider_error"

    @property
    def message_fr(self) -> str:
        return FAILURE_MESSAGES[self][0]

    @property
    def message_en(self) -> str:
        return FAILURE_MESSAGES[self][1]

    def message(self, language: Language | None = None) -> str:
        return pick(self.message_fr, self.message_en, language)


FAILURE_MESSAGES: dict[FailureReason, tuple[str, str]] = {
    FailureReason.PAYER_NOT_FOUND: (
        "Le numéro du payeur n'a pas de compte mobile money.",
        "The payer's number has no mobile-money account.",
    ),
    FailureReason.PAYEE_NOT_FOUND: (
        "Le numéro du bénéficiaire n'a pas de compte mobile money.",
        "The payee's number has no mobile-money account.",
    ),
    FailureReason.INSUFFICIENT_FUNDS: ("Solde insuffisant.", "Insufficient funds."),
    FailureReason.LIMIT_REACHED: (
        "Plafond de transaction ou de compte atteint.",
        "Transaction or account limit reached.",
    ),
    FailureReason.NOT_ALLOWED: (
        "Opération non autorisée pour ce compte.",
        "Operation not allowed for this account.",
    ),
    FailureReason.INVALID_CURRENCY: (
        "Devise non prise en charge par le fournisseur.",
        "Currency not supported by the provider.",
    ),
    FailureReason.INVALID_AMOUNT: (
        "Montant hors des limites acceptées par le fournisseur.",
        "Amount outside the limits the provider accepts.",
    ),
    FailureReason.EXPIRED: (
        "Le payeur n'a pas confirmé à temps ; la demande a expiré.",
        "The payer did not confirm in time; the request expired.",
    ),
    FailureReason.REJECTED_BY_PAYER: ("Le payeur a refusé le paiement.", "The payer rejected the payment."),
    FailureReason.CANCELLED: ("Le paiement a été annulé.", "The payment was cancelled."),
    FailureReason.ACCOUNT_INACTIVE: (
        "Le compte mobile money est inactif ou bloqué.",
        "The mobile-money account is inactive or blocked.",
    ),
    FailureReason.DUPLICATE: (
        "Le fournisseur a refusé une transaction en double.",
        "The provider refused a duplicate transaction.",
    ),
    FailureReason.PROVIDER_ERROR: (
        "Le fournisseur n'a pas pu traiter la transaction.",
        "The provider could not process the transaction.",
    ),
}


class ConnectorError(Exception):
    """Any failure talking to a provider.

    * ``retryable``: the same call may succeed later (with the *same* reference / idempotency key).
    * ``outcome_unknown``: the provider may have acted on the request; settle it with a status query.
    """

    code: str = "connector_error"
    retryable: bool = False
    message_fr: str = "Erreur du fournisseur de paiement."
    message_en: str = "Payment provider error."
    http_status: int = 502  # what an API answers when this error reaches a caller

    def __init__(
        self,
        message_fr: str | None = None,
        message_en: str | None = None,
        *,
        provider: str = "",
        provider_code: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        outcome_unknown: bool = False,
        reason: FailureReason | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message_fr = message_fr or self.message_fr
        self.message_en = message_en or self.message_en
        self.provider = provider
        self.provider_code = provider_code
        self.request_id = request_id
        self.code = code or self.code
        if retryable is not None:
            self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.reason = reason
        self.status_code = status_code  # the provider's HTTP status, when there was an answer
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.code}: {self.message_en}"]
        if self.provider:
            parts.append(f"provider={self.provider}")
        if self.provider_code:
            parts.append(f"provider_code={self.provider_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.reason is not None:
            parts.append(f"reason={self.reason.value}")
        return " ".join(parts)

    @property
    def message(self) -> str:
        return pick(self.message_fr, self.message_en)

    def to_app_error(self) -> AppError:
        """The problem+json answer for an API caller (no secrets, no raw provider payload)."""
        extra: dict[str, Any] = {"provider": self.provider, "retryable": self.retryable}
        if self.reason is not None:
            extra["reason"] = self.reason.value
        if self.outcome_unknown:
            extra["outcome_unknown"] = True
        return AppError(self.message_fr, self.message_en, code=self.code, status=self.http_status, extra=extra)


class AuthError(ConnectorError):
    """The provider refused our credentials (wrong, expired or revoked): fix the configuration."""

    code = "provider_auth_failed"
    message_fr = "Le fournisseur a refusé nos identifiants ; vérifiez la configuration du connecteur."
    message_en = "The provider rejected our credentials; check the connector configuration."
    http_status = 502


class RateLimited(ConnectorError):
    """Too many requests: the provider (or our own limiter) asks to come back after ``retry_after`` seconds."""

    code = "provider_rate_limited"
    retryable = True
    message_fr = "Le fournisseur limite le nombre de requêtes ; réessayez plus tard."
    message_en = "The provider is rate limiting requests; try again later."
    http_status = 503

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)

    def to_app_error(self) -> AppError:
        error = super().to_app_error()
        if self.retry_after is not None:
            error.headers["Retry-After"] = str(max(1, round(self.retry_after)))
        return error


class Timeout(ConnectorError):
    """No answer in time. After the request was sent, the outcome is unknown: treat it as pending, query status."""

    code = "provider_timeout"
    retryable = True
    message_fr = "Le fournisseur n'a pas répondu à temps ; le résultat sera vérifié."
    message_en = "The provider did not answer in time; the outcome will be checked."
    http_status = 504


class Declined(ConnectorError):
    """The provider refused this payment for a business reason (``reason``). Final: do not retry as is."""

    code = "payment_declined"
    http_status = 422

    def __init__(self, reason: FailureReason, *args: Any, **kwargs: Any) -> None:
        kwargs["reason"] = reason
        if not args and "message_fr" not in kwargs:
            args = (reason.message_fr, reason.message_en)
        super().__init__(*args, **kwargs)
        self.reason: FailureReason = reason


class InvalidRequest(ConnectorError):
    """The request is wrong for this provider (bad field, unsupported currency, amount out of range)."""

    code = "provider_invalid_request"
    message_fr = "Requête refusée par le fournisseur : données invalides."
    message_en = "Request refused by the provider: invalid data."
    http_status = 422


class Unavailable(ConnectorError):
    """The provider is down, failing (5xx) or our circuit breaker is open. Retry later with the same reference."""

    code = "provider_unavailable"
    retryable = True
    message_fr = "Le fournisseur de paiement est momentanément indisponible."
    message_en = "The payment provider is temporarily unavailable."
    http_status = 503


class PaymentNotFound(ConnectorError):
    """The provider does not know this reference (e.g. a create that never reached it)."""

    code = "provider_payment_not_found"
    message_fr = "Le fournisseur ne connaît pas ce paiement."
    message_en = "The provider does not know this payment."
    http_status = 404


class InvalidSignature(ConnectorError):
    """A callback whose signature, or timestamp, does not check out: answer 401 and ignore it."""

    code = "invalid_callback_signature"
    message_fr = "Notification refusée : signature ou horodatage invalide."
    message_en = "Callback refused: invalid signature or timestamp."
    http_status = 401


class Unsupported(ConnectorError):
    """The provider does not offer this capability. Not a bug: choose another provider or another flow."""

    code = "capability_unsupported"
    http_status = 422

    def __init__(self, provider: str, capability: str) -> None:
        self.capability = capability
        super().__init__(
            f"Le fournisseur « {provider} » ne prend pas en charge l'opération « {capability} ».",
            f"Provider '{provider}' does not support '{capability}'.",
            provider=provider,
        )


def refund_refused(provider: str, provider_code: str | None, *, status_code: int | None = None) -> InvalidRequest:
    """The provider refused a refund outright (nothing refundable left, not a paid collection, another currency)."""
    return InvalidRequest(
        "Le fournisseur a refusé le remboursement (montant remboursable dépassé ou paiement non remboursable).",
        "The provider refused the refund (refundable amount exceeded or payment not refundable).",
        provider=provider,
        provider_code=provider_code,
        code="refund_refused",
        status_code=status_code,
    )


def unreadable_answer(provider: str, detail: str | Exception) -> ConnectorError:
    """An answer that is not what the provider documents (a body Cauri cannot read): an error, never a success.
    ``detail`` names what was wrong; for an exception, only its type (its text may quote the provider's data)."""
    what = type(detail).__name__ if isinstance(detail, Exception) else detail
    return ConnectorError(
        "Réponse illisible du fournisseur.",
        f"Unreadable answer from {provider}: {what}.",
        provider=provider,
        code="provider_unreadable_answer",
    )


Wire = TypeVar("Wire", bound=BaseModel)


def read_wire(model: type[Wire], raw: object, provider: str) -> Wire:
    """``raw`` (a decoded JSON answer) read as the provider's wire model; an answer of another shape is
    :func:`unreadable_answer`, never taken for a success with missing fields."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise unreadable_answer(provider, exc) from None
