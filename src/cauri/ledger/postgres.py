"""The PostgreSQL fast path: one function call (migration 0004) per :func:`create_transfers`, post or void.

``ledger_create_transfer`` handles a single transfer with straight-line statements; ``ledger_create_transfers``
a list.

Each locks the accounts in id order, decides with set-based running sums whether every transfer is
allowed (same rules and order of checks as the Python path), and only then inserts the transfers and moves the
balances, in one round trip whatever the number of transfers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.ledger.errors import transfer_error
from cauri.ledger.types import PENDING, SINGLE, Transfer, TransferSpec

CREATE_TRANSFER = text(
    "SELECT error, error_index, differs, id, seq, organization_id, currency, status, created_at, expires_at "
    "FROM ledger_create_transfer(:id, :debit, :credit, :amount, :code, :pending, :timeout, :linked, :metadata)"
)
CREATE_TRANSFERS = text(
    "SELECT error, error_index, differs, ids, seqs, organization_ids, currencies, statuses, created_ats, expires_ats "
    "FROM ledger_create_transfers(:ids, :debits, :credits, :amounts, :codes, :pending, :timeouts, :linked, :metadata)"
)

RESOLVE_PENDING = text("SELECT * FROM ledger_resolve_pending(:id, :pending_id, :amount, :post, :metadata)")


async def resolve_pending_sql(
    session: AsyncSession,
    *,
    transfer_id: uuid.UUID,
    pending_id: uuid.UUID,
    amount: int | None,
    post: bool,
    metadata: str,
) -> Transfer:
    """Post or void in one round trip (``ledger_resolve_pending``)."""
    from cauri.ledger.transfers import transfer_from_row

    row = (
        await session.execute(
            RESOLVE_PENDING,
            {"id": transfer_id, "pending_id": pending_id, "amount": amount, "post": post, "metadata": metadata},
        )
    ).one()
    if row.error is not None:
        raise transfer_error(row.error, transfer_id=transfer_id, differs=list(row.differs) if row.differs else None)
    return transfer_from_row(row)


async def create_transfers_sql(
    session: AsyncSession, specs: Sequence[TransferSpec], metadata: list[str]
) -> list[Transfer]:
    if len(specs) == 1:
        [spec] = specs
        row = (
            await session.execute(
                CREATE_TRANSFER,
                {
                    "id": spec.id,
                    "debit": spec.debit_account_id,
                    "credit": spec.credit_account_id,
                    "amount": spec.amount,
                    "code": spec.code,
                    "pending": spec.pending,
                    "timeout": spec.timeout_seconds,
                    "linked": spec.linked,
                    "metadata": metadata[0],
                },
            )
        ).one()
        _raise_failure(row, specs)
        stored = {row.id: (row.seq, row.organization_id, row.currency, row.status, row.created_at, row.expires_at)}
    else:
        row = (
            await session.execute(
                CREATE_TRANSFERS,
                {
                    "ids": [spec.id for spec in specs],
                    "debits": [spec.debit_account_id for spec in specs],
                    "credits": [spec.credit_account_id for spec in specs],
                    "amounts": [spec.amount for spec in specs],
                    "codes": [spec.code for spec in specs],
                    "pending": [spec.pending for spec in specs],
                    "timeouts": [spec.timeout_seconds for spec in specs],
                    "linked": [spec.linked for spec in specs],
                    "metadata": metadata,
                },
            )
        ).one()
        _raise_failure(row, specs)
        stored = {
            transfer_id: tuple(values)
            for transfer_id, *values in zip(
                row.ids,
                row.seqs,
                row.organization_ids,
                row.currencies,
                row.statuses,
                row.created_ats,
                row.expires_ats,
                strict=True,
            )
        }
    transfers = []
    parsed: dict[str, dict[str, Any]] = {}
    for spec, encoded in zip(specs, metadata, strict=True):
        seq, organization_id, currency, status, created_at, expires_at = stored[spec.id]
        if encoded not in parsed:
            parsed[encoded] = json.loads(encoded)
        transfers.append(
            Transfer(
                id=spec.id,
                seq=seq,
                organization_id=organization_id,
                debit_account_id=spec.debit_account_id,
                credit_account_id=spec.credit_account_id,
                amount=spec.amount,
                currency=currency,
                code=spec.code,
                kind=PENDING if spec.pending else SINGLE,
                status=status,
                pending_id=None,
                linked=spec.linked,
                timeout_seconds=spec.timeout_seconds,
                expires_at=expires_at,
                metadata=dict(parsed[encoded]),
                created_at=created_at,
            )
        )
    return transfers


def _raise_failure(row: Any, specs: Sequence[TransferSpec]) -> None:
    """Raise the error a function reported for one transfer of the call (nothing was written)."""
    if row.error is None:
        return
    spec = specs[row.error_index]
    at_fault: uuid.UUID | None = None
    if row.error == "insufficient_funds":
        at_fault = spec.debit_account_id
    elif row.error == "credits_exceed_debits":
        at_fault = spec.credit_account_id
    raise transfer_error(
        row.error,
        index=row.error_index,
        transfer_id=spec.id,
        account_id=at_fault,
        differs=list(row.differs) if row.differs else None,
    )
