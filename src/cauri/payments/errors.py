"""Payments errors (the wording of failure reasons is :func:`cauri.payments.outcomes.failure_message`)."""

from __future__ import annotations

from cauri.core.errors import Conflict, NotFound, ValidationFailed, field_error


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


def idempotency_key_reused(existing_id: str) -> ValidationFailed:
    error = field_error(
        "idempotency_key",
        "idempotency_key_reused",
        "Cette clé d'idempotence a déjà servi pour un autre paiement, avec d'autres données.",
        "This idempotency key was already used for another payment, with other data.",
    )
    error.extra = {"existing_id": existing_id}
    return error


def not_cancellable(status: str) -> Conflict:
    return Conflict(
        "Ce paiement a déjà été envoyé au fournisseur (ou est terminé) : il ne peut plus être annulé.",
        "This payment was already sent to the provider (or is over): it can no longer be cancelled.",
        code="payment_not_cancellable",
        extra={"status": status},
    )


def invalid_field(field: str, code: str, message_fr: str, message_en: str) -> ValidationFailed:
    return field_error(field, code, message_fr, message_en)


def check_idempotency_key(key: str, max_length: int) -> None:
    """A caller's idempotency key: 1 to ``max_length`` printable characters, or a 422 naming the field."""
    if not 1 <= len(key) <= max_length or not key.isprintable():
        raise field_error(
            "idempotency_key",
            "invalid_idempotency_key",
            f"La clé d'idempotence doit faire de 1 à {max_length} caractères imprimables.",
            f"The idempotency key must be 1 to {max_length} printable characters.",
        )
