"""The PostgreSQL fast path: one function call (migration 0004) per :func:`create_transfers`.

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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.ledger.errors import transfer_error
from cauri.ledger.types import PENDING, SINGLE, Transfer, TransferSpec

CREATE_TRANSFER = text(
    "SELECT error, error_index, differs, id, seq, organization_id, currency, status, created_at, expires_at "
    "FROM ledger_create_transfer(:id, :debit, :credit, :amount, :code, :pending, :timeout, :linked, :metadata)"
)
CREATE_TRANSFERS = text(
    "SELECT error, error_index, differs, id, seq, organization_id, currency, status, created_at, expires_at "
    "FROM ledger_create_transfers(:ids, :debits, :credits, :amounts, :codes, :pending, :timeouts, :linked, :metadata)"
)


async def create_transfers_sql(
    session: AsyncSession, specs: Sequence[TransferSpec], metadata: list[str]
) -> list[Transfer]:
    if len(specs) == 1:
        [spec] = specs
        result = await session.execute(
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
    else:
        result = await session.execute(
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
    rows = result.all()
    if rows and rows[0].error is not None:
        failure = rows[0]
        spec = specs[failure.error_index]
        at_fault: uuid.UUID | None = None
        if failure.error == "insufficient_funds":
            at_fault = spec.debit_account_id
        elif failure.error == "credits_exceed_debits":
            at_fault = spec.credit_account_id
        raise transfer_error(
            failure.error,
            index=failure.error_index,
            transfer_id=spec.id,
            account_id=at_fault,
            differs=list(failure.differs) if failure.differs else None,
        )
    by_id = {row.id: row for row in rows}
    transfers = []
    parsed: dict[str, dict[str, object]] = {}
    for spec, encoded in zip(specs, metadata, strict=True):
        row = by_id[spec.id]
        if encoded not in parsed:
            parsed[encoded] = json.loads(encoded)
        transfers.append(
            Transfer(
                id=spec.id,
                seq=row.seq,
                organization_id=row.organization_id,
                debit_account_id=spec.debit_account_id,
                credit_account_id=spec.credit_account_id,
                amount=spec.amount,
                currency=row.currency,
                code=spec.code,
                kind=PENDING if spec.pending else SINGLE,
                status=row.status,
                pending_id=None,
                linked=spec.linked,
                timeout_seconds=spec.timeout_seconds,
                expires_at=row.expires_at,
                metadata=dict(parsed[encoded]),
                created_at=row.created_at,
            )
        )
    return transfers
