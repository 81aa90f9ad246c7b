"""The batch's money on the ledger: one pending reservation of what is still unpaid, posted as lines are paid.

The ledger resolves a pending transfer once (TigerBeetle's rule): a partial post releases the rest of the hold.
So a batch keeps a **chain** of reservations, exactly one of them pending at any time:

* reserve: pending ``org_wallet → provider_clearing(provider)`` of the batch total (``R1``); not enough available
  money raises and nothing is held;
* settle ``paid`` (the lines a worker just saw paid): post ``paid`` from ``Rk`` and, in the same transaction and
  under the same account locks, reserve the rest as ``Rk+1`` — the released money never becomes available to
  anyone else, and the posted amount is exactly the sum of the lines marked COMPLETED in that transaction;
* release: void the last reservation (end of the batch, cancel);
* retry of failed lines: a new reservation of their total, continuing the chain.

Every transfer id is derived from the batch id and the chain index, so a replayed step is a harmless replay.
Callers hold the batch row lock (:func:`cauri.disbursements.service.lock_batch`), which serialises the chain.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.disbursements.errors import insufficient_funds
from cauri.disbursements.models import BulkBatch
from cauri.ledger import service as ledger
from cauri.ledger.errors import InsufficientFunds

TRANSFER_CODE = "bulk_disbursement"
_NAMESPACE = uuid.UUID("0b7e4a52-6d43-4b1e-9f0c-5f1f4c1d7a10")


def reservation_transfer_id(batch_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{batch_id}:reserve:{index}")


def post_transfer_id(batch_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{batch_id}:post:{index}")


def void_transfer_id(batch_id: uuid.UUID, index: int) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{batch_id}:void:{index}")


async def _accounts(session: AsyncSession, batch: BulkBatch) -> tuple[uuid.UUID, uuid.UUID]:
    assert batch.currency is not None
    wallet = await ledger.operating_account(session, batch.organization_id, batch.currency)
    clearing = await ledger.clearing_account(session, batch.organization_id, batch.provider, batch.currency)
    return wallet.id, clearing.id


async def _hold(session: AsyncSession, batch: BulkBatch, amount: int, index: int) -> None:
    debit, credit = await _accounts(session, batch)
    transfer_id = reservation_transfer_id(batch.id, index)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer_id,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                code=TRANSFER_CODE,
                pending=True,
                metadata={"bulk_batch_id": str(batch.id), "step": "reserve", "index": index},
            )
        ],
    )
    batch.account_id = debit
    batch.reservation_id = transfer_id
    batch.reservation_index = index
    batch.reserved_amount = amount


async def reserve(session: AsyncSession, batch: BulkBatch, amount: int) -> None:
    """Hold ``amount`` more for the batch (first reservation or a retry); a 422 and nothing held when short."""
    if batch.reservation_id is not None:
        raise RuntimeError("the batch already holds a reservation")
    assert batch.currency is not None
    try:
        await _hold(session, batch, amount, batch.reservation_index + 1)
    except InsufficientFunds:
        wallet = await ledger.operating_account(session, batch.organization_id, batch.currency)
        available = (await ledger.balance(session, wallet.id)).available
        raise insufficient_funds(amount, available, batch.currency) from None


async def settle(session: AsyncSession, batch: BulkBatch, paid: int) -> int | None:
    """Post ``paid`` from the current reservation and hold the rest again; the index of the posted one."""
    if paid <= 0:
        return None
    if batch.reservation_id is None or paid > batch.reserved_amount:
        raise RuntimeError(f"batch {batch.id}: {paid} paid exceeds the {batch.reserved_amount} reserved")
    index = batch.reservation_index
    await ledger.post_pending(
        session,
        id=post_transfer_id(batch.id, index),
        pending_id=batch.reservation_id,
        amount=paid,
        metadata={"bulk_batch_id": str(batch.id), "step": "post", "index": index},
    )
    rest = batch.reserved_amount - paid
    if rest > 0:
        await _hold(session, batch, rest, index + 1)
    else:
        batch.reservation_id = None
        batch.reserved_amount = 0
    return index


async def release(session: AsyncSession, batch: BulkBatch) -> int:
    """Void the current reservation (nothing more will be paid from it); the amount released."""
    if batch.reservation_id is None:
        return 0
    released = batch.reserved_amount
    index = batch.reservation_index
    await ledger.void_pending(
        session,
        id=void_transfer_id(batch.id, index),
        pending_id=batch.reservation_id,
        metadata={"bulk_batch_id": str(batch.id), "step": "void", "index": index},
    )
    batch.reservation_id = None
    batch.reserved_amount = 0
    return released
