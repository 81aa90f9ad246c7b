"""Payments errors and the French/English wording of the failure reasons that are ours, not a provider's."""

from __future__ import annotations

from cauri.core.errors import Conflict, NotFound, ValidationFailed, field_error
from cauri.core.i18n import pick
from cauri.kit.errors import FailureReason


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    message_fr = "Paiement introuvable."
    message_en = "Payment not found."


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    message_fr = "Livraison de webhook introuvable."
    message_en = "Webhook delivery not found."


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    message_fr = "Point de réception de webhooks introuvable."
    message_en = "Webhook endpoint not found."


class UnknownProvider(NotFound):
    code = "unknown_provider"
    message_fr = "Fournisseur de paiement inconnu."
    message_en = "Unknown payment provider."


def duplicate_reference(reference: str, existing_id: str) -> Conflict:
    return Conflict(
        f"La référence {reference!r} est déjà utilisée par un autre paiement de votre organisation.",
        f"The reference {reference!r} is already used by another payment of your organisation.",
        code="duplicate_reference",
        field="reference",
        extra={"existing_id": existing_id},
    )


def invalid_field(field: str, code: str, message_fr: str, message_en: str) -> ValidationFailed:
    return field_error(field, code, message_fr, message_en)


# Reasons Cauri itself gives, next to the providers' FailureReason values.
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
}


def failure_message(reason: str | None) -> str | None:
    if reason is None:
        return None
    if reason in FailureReason.__members__.values():
        return FailureReason(reason).message()
    fr, en = OWN_FAILURE_MESSAGES.get(reason, ("Le paiement a échoué.", "The payment failed."))
    return pick(fr, en)
