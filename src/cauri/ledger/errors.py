"""The ledger's failures: a stable ``code`` each (TigerBeetle's result names where they exist), French and English.

A transfer error raised by :func:`cauri.ledger.service.create_transfers` carries, in ``extra``, the ``index`` of the
transfer at fault in the call and its ``transfer_id``; nothing of that call was written.
"""

from __future__ import annotations

import uuid
from typing import Any

from cauri.core.errors import AppError, Conflict, FieldError, NotFound, ValidationFailed


class LedgerError(AppError):
    """Base of the ledger's errors."""


def _extra(index: int | None, transfer_id: uuid.UUID | None, **more: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {key: value for key, value in more.items() if value is not None}
    if index is not None:
        extra["index"] = index
    if transfer_id is not None:
        extra["transfer_id"] = str(transfer_id)
    return extra


class AccountNotFound(NotFound, LedgerError):
    code = "account_not_found"
    message_fr = "Compte introuvable."
    message_en = "Account not found."


class AccountExists(Conflict, LedgerError):
    code = "account_exists"
    message_fr = "Ce compte existe déjà avec d'autres réglages."
    message_en = "This account already exists with other settings."


class TransferExists(Conflict, LedgerError):
    """The transfer id was already used for a transfer with other content."""

    code = "transfer_exists"
    message_fr = "Un autre transfert porte déjà cet identifiant."
    message_en = "Another transfer already uses this id."


class PendingTransferNotFound(NotFound, LedgerError):
    code = "pending_transfer_not_found"
    message_fr = "Transfert en attente introuvable."
    message_en = "Pending transfer not found."


class PendingTransferResolved(Conflict, LedgerError):
    """Posting or voiding a pending transfer that is already posted, voided or expired."""

    code = "pending_transfer_resolved"
    message_fr = "Ce transfert en attente est déjà clos."
    message_en = "This pending transfer is already closed."


class InsufficientFunds(ValidationFailed, LedgerError):
    status = 422
    code = "insufficient_funds"
    message_fr = "Solde insuffisant sur le compte à débiter."
    message_en = "Insufficient funds on the account to debit."


class CreditsExceedDebits(ValidationFailed, LedgerError):
    status = 422
    code = "credits_exceed_debits"
    message_fr = "Ce crédit dépasserait les débits du compte à créditer, ce que ses règles interdisent."
    message_en = "This credit would exceed the debits of the account to credit, which its rules forbid."


class TransferInvalid(ValidationFailed, LedgerError):
    """A transfer the ledger refuses (bad amount, currencies that differ, unknown account…)."""

    status = 422
    code = "transfer_invalid"


# code -> (field at fault, French, English) of the transfer errors that are plain validation failures.
TRANSFER_RULES: dict[str, tuple[str, str, str]] = {
    "amount_must_be_positive": (
        "amount",
        "Le montant doit être un nombre entier d'unités mineures supérieur à zéro.",
        "The amount must be a whole number of minor units greater than zero.",
    ),
    "amount_too_large": ("amount", "Montant trop grand.", "Amount too large."),
    "accounts_must_be_different": (
        "credit_account_id",
        "Le compte débité et le compte crédité doivent être différents.",
        "The debit and credit accounts must be different.",
    ),
    "debit_account_not_found": ("debit_account_id", "Compte à débiter introuvable.", "Debit account not found."),
    "credit_account_not_found": ("credit_account_id", "Compte à créditer introuvable.", "Credit account not found."),
    "currency_mismatch": (
        "credit_account_id",
        "Les deux comptes doivent être dans la même devise.",
        "Both accounts must be in the same currency.",
    ),
    "invalid_code": (
        "code",
        "Code de transfert invalide (lettres minuscules, chiffres, « _ », « . », « - » ; 40 au plus).",
        "Invalid transfer code (lowercase letters, digits, '_', '.', '-'; at most 40).",
    ),
    "timeout_reserved_for_pending_transfer": (
        "timeout_seconds",
        "Un délai d'expiration n'a de sens que pour un transfert en attente.",
        "A timeout only applies to a pending transfer.",
    ),
    "invalid_timeout": (
        "timeout_seconds",
        "Le délai d'expiration doit être un nombre entier de secondes entre 1 et 31 536 000.",
        "The timeout must be a whole number of seconds between 1 and 31,536,000.",
    ),
    "linked_event_chain_open": (
        "linked",
        "Le dernier transfert d'une chaîne liée ne doit pas être marqué « lié ».",
        "The last transfer of a linked chain must not be marked linked.",
    ),
    "invalid_metadata": (
        "metadata",
        "Les métadonnées doivent être un objet JSON de 4 Ko au plus.",
        "Metadata must be a JSON object of at most 4 KB.",
    ),
    "too_many_transfers": (
        "transfers",
        "Trop de transferts en un appel (8 190 au plus).",
        "Too many transfers in one call (at most 8,190).",
    ),
    "no_transfers": ("transfers", "Aucun transfert à créer.", "No transfer to create."),
    "balance_overflow": (
        "amount",
        "Ce transfert ferait dépasser la capacité d'un solde.",
        "This transfer would overflow a balance.",
    ),
    "exceeds_pending_transfer_amount": (
        "amount",
        "Le montant dépasse celui du transfert en attente.",
        "The amount exceeds the pending transfer's amount.",
    ),
    "pending_transfer_not_pending": (
        "pending_id",
        "Ce transfert n'est pas un transfert en attente.",
        "This transfer is not a pending transfer.",
    ),
}

# Resolution states of a pending transfer -> (code, French, English).
RESOLVED_MESSAGES: dict[str, tuple[str, str, str]] = {
    "posted": (
        "pending_transfer_already_posted",
        "Ce transfert en attente a déjà été validé.",
        "This pending transfer was already posted.",
    ),
    "voided": (
        "pending_transfer_already_voided",
        "Ce transfert en attente a déjà été annulé.",
        "This pending transfer was already voided.",
    ),
    "expired": (
        "pending_transfer_expired",
        "Ce transfert en attente a expiré.",
        "This pending transfer has expired.",
    ),
}


def transfer_error(
    code: str,
    *,
    index: int | None = None,
    transfer_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    differs: list[str] | None = None,
) -> LedgerError:
    """The error for a transfer result ``code`` (shared by the Python path and the PostgreSQL functions)."""
    extra = _extra(index, transfer_id, account_id=str(account_id) if account_id else None, differs=differs)
    if code == "insufficient_funds":
        return InsufficientFunds(field="debit_account_id", extra=extra)
    if code == "credits_exceed_debits":
        return CreditsExceedDebits(field="credit_account_id", extra=extra)
    if code == "transfer_exists":
        fields = ", ".join(differs or [])
        return TransferExists(
            f"Un autre transfert porte déjà cet identifiant (différences : {fields}).",
            f"Another transfer already uses this id (differences: {fields}).",
            field="id",
            extra=extra,
        )
    if code == "pending_transfer_not_found":
        return PendingTransferNotFound(field="pending_id", extra=extra)
    for state, (resolved_code, fr, en) in RESOLVED_MESSAGES.items():
        if code == resolved_code:
            return PendingTransferResolved(fr, en, code=code, field="pending_id", extra={**extra, "state": state})
    field, fr, en = TRANSFER_RULES[code]
    return TransferInvalid(fr, en, code=code, field=field, errors=[FieldError(field, code, fr, en)], extra=extra)
