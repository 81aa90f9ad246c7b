"""Errors of bulk disbursements, each with a stable code and its French and English wording."""

from __future__ import annotations

from typing import Any

from cauri.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from cauri.core.money import Money, format_money


class BatchNotFound(NotFound):
    code = "bulk_batch_not_found"
    message_fr = "Lot de paiements introuvable."
    message_en = "Payment batch not found."


class InvalidBulkFile(ValidationFailed):
    """The file as a whole cannot be read as a payment list; ``extra.report`` says why (nothing was stored)."""

    code = "invalid_bulk_file"

    def __init__(self, report: dict[str, Any]) -> None:
        issues = report.get("file_issues") or []
        first = issues[0] if issues else {}
        super().__init__(
            first.get("message_fr") or "Le fichier n'est pas une liste de paiements lisible.",
            first.get("message_en") or "The file is not a readable payment list.",
            field="file",
            extra={"report": report},
        )


class WrongState(Conflict):
    code = "bulk_batch_wrong_state"

    def __init__(self, state: str, action_fr: str, action_en: str) -> None:
        super().__init__(
            f"Impossible de {action_fr} un lot à l'état {state}.",
            f"Cannot {action_en} a batch in state {state}.",
            extra={"state": state},
        )


class MakerCheckerViolation(Forbidden):
    code = "maker_checker_violation"
    message_fr = "Votre organisation exige qu'une autre personne approuve ce lot que vous avez créé ou soumis."
    message_en = "Your organisation requires someone else to approve this batch, which you created or submitted."


class NothingToPay(ValidationFailed):
    code = "bulk_batch_empty"
    message_fr = "Ce lot ne contient aucune ligne valide à payer : corrigez le fichier et chargez-le de nouveau."
    message_en = "This batch has no valid line to pay: fix the file and upload it again."


class NothingToRetry(ValidationFailed):
    code = "bulk_nothing_to_retry"
    message_fr = "Aucune ligne en échec à relancer dans ce lot."
    message_en = "No failed line to retry in this batch."


def insufficient_funds(needed: int, available: int, currency: str) -> ValidationFailed:
    """Not enough available money on the operating account: nothing is held."""
    have = max(available, 0)

    def fr(amount: int) -> str:
        return format_money(Money(amount, currency), "fr_SN")

    def en(amount: int) -> str:
        return format_money(Money(amount, currency), "en")

    error = field_error(
        "account",
        "insufficient_funds",
        f"Solde disponible insuffisant : le lot demande {fr(needed)}, le compte n'a que {fr(have)} disponibles "
        f"(il manque {fr(needed - have)}). Rien n'a été réservé.",
        f"Insufficient available balance: the batch needs {en(needed)}, the account has only {en(have)} "
        f"available ({en(needed - have)} missing). Nothing was reserved.",
    )
    error.extra = {"needed": needed, "available": available, "currency": currency}
    return error


def transfer_ids_already_used(examples: list[str]) -> Conflict:
    listed = ", ".join(examples)
    return Conflict(
        f"Des identifiants de transfert de ce lot ont déjà été utilisés dans un autre lot soumis ({listed}) : "
        "corrigez le fichier et chargez-le de nouveau.",
        f"Transfer ids of this batch were already used in another submitted batch ({listed}): "
        "fix the file and upload it again.",
        code="transfer_id_already_used",
        extra={"transfer_ids": examples},
    )


def provider_not_configured(provider: str) -> ValidationFailed:
    return field_error(
        "provider",
        "provider_not_configured",
        f"Le fournisseur « {provider} » n'est pas configuré pour votre organisation.",
        f"Provider '{provider}' is not configured for your organisation.",
    )


def provider_cannot_pay_out(provider: str) -> ValidationFailed:
    return field_error(
        "provider",
        "provider_cannot_pay_out",
        f"Le fournisseur « {provider} » ne permet pas d'envoyer de l'argent.",
        f"Provider '{provider}' cannot send money.",
    )


def invalid_callback_url() -> ValidationFailed:
    return field_error(
        "callback_url",
        "invalid_callback_url",
        "Adresse de rappel invalide : une URL http(s) complète est attendue (2000 caractères au plus).",
        "Invalid callback URL: a full http(s) URL is expected (at most 2000 characters).",
    )
