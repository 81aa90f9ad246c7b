"""Deposits received by bank transfer: a platform admin records them, the organisation's wallet is credited.

The transfer moves the amount from the organisation's ``bank_deposits`` account (external funding: it goes
negative by what was deposited) into its operating account. The bank reference is unique per organisation, and the
transfer id is derived from it, so recording the same deposit twice — a retry, a double click, two admins — credits
the wallet once.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import Conflict, field_error
from cauri.core.money import currency_exponent
from cauri.core.pagination import PageParams, paginate
from cauri.identity.models import Organization
from cauri.ledger.accounts import bank_deposits_account, operating_account
from cauri.ledger.errors import TransferExists
from cauri.ledger.models import LedgerDeposit
from cauri.ledger.transfers import create_transfers, validate_amount
from cauri.ledger.types import TransferSpec

deposits = cast(Table, LedgerDeposit.__table__)
DEPOSIT_NAMESPACE = uuid.UUID("5c0b1f0e-4a8e-4c57-9d0e-1e6f3f0a7c21")
DEPOSIT_CODE = "bank_deposit"
MAX_REFERENCE = 100
MAX_FILE_NAME = 255


@dataclass(frozen=True, slots=True)
class Deposit:
    id: uuid.UUID
    organization_id: uuid.UUID
    account_id: uuid.UUID
    transfer_id: uuid.UUID
    amount: int
    currency: str
    bank_reference: str
    proof_file_name: str | None
    recorded_by: uuid.UUID | None
    created_at: datetime


class DepositReferenceExists(Conflict):
    code = "deposit_reference_exists"
    message_fr = "Un autre dépôt de cette organisation porte déjà cette référence bancaire."
    message_en = "Another deposit of this organisation already has this bank reference."


def _deposit(row: Any) -> Deposit:
    return Deposit(
        id=row.id,
        organization_id=row.organization_id,
        account_id=row.account_id,
        transfer_id=row.transfer_id,
        amount=row.amount,
        currency=row.currency,
        bank_reference=row.bank_reference,
        proof_file_name=row.proof_file_name,
        recorded_by=row.recorded_by,
        created_at=row.created_at,
    )


async def _existing(session: AsyncSession, organization_id: uuid.UUID, reference: str) -> Deposit | None:
    row = (
        await session.execute(
            select(deposits).where(
                deposits.c.organization_id == organization_id, deposits.c.bank_reference == reference
            )
        )
    ).first()
    return _deposit(row) if row else None


def _same_or_conflict(existing: Deposit, amount: int, currency: str, proof_file_name: str | None) -> Deposit:
    if (existing.amount, existing.currency, existing.proof_file_name) != (amount, currency, proof_file_name):
        raise DepositReferenceExists(field="bank_reference", extra={"deposit_id": str(existing.id)})
    return existing


async def record_deposit(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    amount: int,
    currency: str,
    bank_reference: str,
    proof_file_name: str | None = None,
    recorded_by: uuid.UUID | None = None,
) -> tuple[Deposit, bool]:
    """Credit the organisation's operating account; the deposit, and whether this call recorded it.

    The same (organisation, bank reference) with the same amount, currency and proof returns the first deposit
    (``False``); with other values it is a 409 ``deposit_reference_exists``.
    """
    validate_amount(amount)
    currency_exponent(currency)
    reference = bank_reference.strip()
    if not 1 <= len(reference) <= MAX_REFERENCE:
        raise field_error(
            "bank_reference",
            "invalid_bank_reference",
            f"La référence bancaire doit compter de 1 à {MAX_REFERENCE} caractères.",
            f"The bank reference must have 1 to {MAX_REFERENCE} characters.",
        )
    file_name = (proof_file_name or "").strip() or None
    if file_name is not None and len(file_name) > MAX_FILE_NAME:
        raise field_error("proof_file_name", "too_long", "Nom de fichier trop long.", "File name too long.")
    if (await session.get(Organization, organization_id)) is None:
        raise field_error(
            "organization_id",
            "organization_not_found",
            "Organisation introuvable.",
            "Organisation not found.",
        )
    existing = await _existing(session, organization_id, reference)
    if existing is not None:
        return _same_or_conflict(existing, amount, currency, file_name), False

    wallet = await operating_account(session, organization_id, currency)
    bank = await bank_deposits_account(session, organization_id, currency)
    transfer_id = uuid.uuid5(DEPOSIT_NAMESPACE, f"{organization_id}:{reference}")
    try:
        await create_transfers(
            session,
            [
                TransferSpec(
                    id=transfer_id,
                    debit_account_id=bank.id,
                    credit_account_id=wallet.id,
                    amount=amount,
                    code=DEPOSIT_CODE,
                    metadata={"bank_reference": reference, "proof_file_name": file_name},
                )
            ],
        )
    except TransferExists:
        # Another request recorded this reference with other values while we waited for the accounts.
        raise DepositReferenceExists(field="bank_reference") from None
    # The accounts are locked by now: a concurrent recording of the same deposit has committed, or never will.
    existing = await _existing(session, organization_id, reference)
    if existing is not None:
        return _same_or_conflict(existing, amount, currency, file_name), False
    deposit = Deposit(
        id=uuid.uuid4(),
        organization_id=organization_id,
        account_id=wallet.id,
        transfer_id=transfer_id,
        amount=amount,
        currency=currency,
        bank_reference=reference,
        proof_file_name=file_name,
        recorded_by=recorded_by,
        created_at=utcnow(),
    )
    await session.execute(insert(deposits).values(**asdict(deposit)))
    return deposit, True


async def list_deposits(
    session: AsyncSession, *, organization_id: uuid.UUID | None, params: PageParams
) -> tuple[list[Deposit], str | None]:
    """Deposits, newest first (of one organisation, or all of them)."""
    query = select(LedgerDeposit)
    if organization_id is not None:
        query = query.where(LedgerDeposit.organization_id == organization_id)
    rows, cursor = await paginate(session, query, params, created_at=LedgerDeposit.created_at, row_id=LedgerDeposit.id)
    return [_deposit(row) for row in rows], cursor


async def fund_operating_account(
    session: AsyncSession, organization_id: uuid.UUID, amount: int, currency: str, reference: str
) -> Deposit:
    """Seed an organisation's wallet (demo, tests): a deposit with ``reference``, recorded once however often called."""
    deposit, _ = await record_deposit(
        session, organization_id=organization_id, amount=amount, currency=currency, bank_reference=reference
    )
    return deposit
