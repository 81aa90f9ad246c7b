"""Transfers: create (single-phase or pending), post or void a pending transfer, expire what timed out.

Rules (TigerBeetle's): a call of :func:`create_transfers` is applied in order and atomically — every transfer
sees the balances left by the ones before it, and if one fails, the call raises and writes nothing. A transfer id
already used with the same content is a replay (the original is returned, nothing changes); with other content it
is :class:`~cauri.ledger.errors.TransferExists`.

Concurrency: every call locks all the accounts it touches **in id order** before reading anything it decides on,
so two calls never wait on each other in a cycle, and checks happen on the latest committed balances. On
PostgreSQL, :mod:`cauri.ledger.postgres` does the same in one round trip (a PL/pgSQL function); on SQLite, writes
are serialised by ``BEGIN IMMEDIATE`` and the Python path below runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.ledger.accounts import CODE_PATTERN
from cauri.ledger.errors import transfer_error
from cauri.ledger.models import LedgerAccount, LedgerTransfer
from cauri.ledger.types import (
    EXPIRED,
    MAX_BALANCE,
    MAX_METADATA_BYTES,
    MAX_TIMEOUT_SECONDS,
    MAX_TRANSFERS_PER_CALL,
    PENDING,
    POST_PENDING,
    POSTED,
    SINGLE,
    VOID_PENDING,
    VOIDED,
    Transfer,
    TransferSpec,
)

# Set ``session.info[PYTHON_PATH] = True`` to run the portable Python path on PostgreSQL too (tests prove both
# paths behave the same).
PYTHON_PATH = "ledger.python_path"

transfers_table = cast(Table, LedgerTransfer.__table__)
accounts_table = cast(Table, LedgerAccount.__table__)


def uses_sql_functions(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql" and not session.info.get(PYTHON_PATH, False)


# --- validation shared by both paths -------------------------------------------------------------------------


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def canonical_metadata(metadata: object, index: int, transfer_id: uuid.UUID) -> str:
    """Metadata as canonical JSON text (what is stored and compared on replay)."""
    if not isinstance(metadata, dict):
        raise transfer_error("invalid_metadata", index=index, transfer_id=transfer_id)
    if not metadata:
        return "{}"
    try:
        encoded = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise transfer_error("invalid_metadata", index=index, transfer_id=transfer_id) from None
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise transfer_error("invalid_metadata", index=index, transfer_id=transfer_id)
    return encoded


def validate_amount(amount: object, *, index: int | None = None, transfer_id: uuid.UUID | None = None) -> int:
    if not _is_count(amount) or amount <= 0:  # type: ignore[operator]
        raise transfer_error("amount_must_be_positive", index=index, transfer_id=transfer_id)
    assert isinstance(amount, int)
    if amount > MAX_BALANCE:
        raise transfer_error("amount_too_large", index=index, transfer_id=transfer_id)
    return amount


def validate_specs(specs: Sequence[TransferSpec]) -> list[str]:
    """Check what needs no database; return each transfer's canonical metadata."""
    if not specs:
        raise transfer_error("no_transfers")
    if len(specs) > MAX_TRANSFERS_PER_CALL:
        raise transfer_error("too_many_transfers")
    metadata: list[str] = []
    for index, spec in enumerate(specs):
        validate_amount(spec.amount, index=index, transfer_id=spec.id)
        if spec.debit_account_id == spec.credit_account_id:
            raise transfer_error("accounts_must_be_different", index=index, transfer_id=spec.id)
        if not isinstance(spec.code, str) or not CODE_PATTERN.match(spec.code):
            raise transfer_error("invalid_code", index=index, transfer_id=spec.id)
        if spec.timeout_seconds is not None:
            if not spec.pending:
                raise transfer_error("timeout_reserved_for_pending_transfer", index=index, transfer_id=spec.id)
            if not _is_count(spec.timeout_seconds) or not 1 <= spec.timeout_seconds <= MAX_TIMEOUT_SECONDS:
                raise transfer_error("invalid_timeout", index=index, transfer_id=spec.id)
        metadata.append(canonical_metadata(spec.metadata, index, spec.id))
    if specs[-1].linked:
        raise transfer_error("linked_event_chain_open", index=len(specs) - 1, transfer_id=specs[-1].id)
    return metadata


def spec_differences(spec: TransferSpec, metadata: str, existing: Transfer) -> list[str]:
    """The fields in which a replayed transfer differs from the stored one (empty: a true replay)."""
    differs = []
    if existing.debit_account_id != spec.debit_account_id:
        differs.append("debit_account_id")
    if existing.credit_account_id != spec.credit_account_id:
        differs.append("credit_account_id")
    if existing.amount != spec.amount:
        differs.append("amount")
    if existing.code != spec.code:
        differs.append("code")
    if existing.kind != (PENDING if spec.pending else SINGLE):
        differs.append("pending")
    if existing.timeout_seconds != spec.timeout_seconds:
        differs.append("timeout_seconds")
    if existing.linked != spec.linked:
        differs.append("linked")
    if existing.metadata != json.loads(metadata):
        differs.append("metadata")
    return differs


# --- reading -----------------------------------------------------------------------------------------------------


def transfer_from_row(row: Row[Any]) -> Transfer:
    metadata = row.metadata
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return Transfer(
        id=row.id,
        seq=row.seq,
        organization_id=row.organization_id,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount=row.amount,
        currency=row.currency,
        code=row.code,
        kind=row.kind,
        status=row.status,
        pending_id=row.pending_id,
        linked=bool(row.linked),
        timeout_seconds=row.timeout_seconds,
        expires_at=row.expires_at,
        metadata=metadata or {},
        created_at=row.created_at,
    )


async def load_transfers(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Transfer]:
    wanted = list(set(ids))
    found: dict[uuid.UUID, Transfer] = {}
    for start in range(0, len(wanted), 1000):
        query = select(transfers_table).where(transfers_table.c.id.in_(wanted[start : start + 1000]))
        for row in (await session.execute(query)).all():
            found[row.id] = transfer_from_row(row)
    return found


async def get_transfer(session: AsyncSession, transfer_id: uuid.UUID) -> Transfer | None:
    return (await load_transfers(session, [transfer_id])).get(transfer_id)


# --- the portable path -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Balances:
    organization_id: uuid.UUID
    currency: str
    debits_flag: bool
    credits_flag: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    changed: bool = False


async def lock_accounts(session: AsyncSession, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Balances]:
    """Lock the accounts in id order (the ledger's one lock order) and read their latest committed balances."""
    ids = sorted(set(account_ids))
    query = (
        select(accounts_table)
        .where(accounts_table.c.id.in_(ids))
        .order_by(accounts_table.c.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: foreign-key checks of other inserts need not wait
    )
    return {
        row.id: _Balances(
            organization_id=row.organization_id,
            currency=row.currency,
            debits_flag=bool(row.debits_must_not_exceed_credits),
            credits_flag=bool(row.credits_must_not_exceed_debits),
            debits_pending=row.debits_pending,
            debits_posted=row.debits_posted,
            credits_pending=row.credits_pending,
            credits_posted=row.credits_posted,
        )
        for row in (await session.execute(query)).all()
    }


def _apply(debit: _Balances, credit: _Balances, amount: int, pending: bool) -> str | None:
    """Apply one new transfer to the in-memory balances; the failure code if a rule forbids it (nothing applied)."""
    if pending:
        debit_total = debit.debits_pending + amount + debit.debits_posted
        credit_total = credit.credits_pending + amount + credit.credits_posted
    else:
        debit_total = debit.debits_pending + debit.debits_posted + amount
        credit_total = credit.credits_pending + credit.credits_posted + amount
    if debit_total > MAX_BALANCE:
        return "balance_overflow"
    if debit.debits_flag and debit_total > debit.credits_posted:
        return "insufficient_funds"
    if credit_total > MAX_BALANCE:
        return "balance_overflow"
    if credit.credits_flag and credit_total > credit.debits_posted:
        return "credits_exceed_debits"
    if pending:
        debit.debits_pending += amount
        credit.credits_pending += amount
    else:
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.changed = credit.changed = True
    return None


async def _write_balances(session: AsyncSession, accounts: dict[uuid.UUID, _Balances]) -> None:
    changed = [(account_id, state) for account_id, state in accounts.items() if state.changed]
    if not changed:
        return
    statement = (
        update(accounts_table)
        .where(accounts_table.c.id == bindparam("account_id"))
        .values(
            debits_pending=bindparam("new_debits_pending"),
            debits_posted=bindparam("new_debits_posted"),
            credits_pending=bindparam("new_credits_pending"),
            credits_posted=bindparam("new_credits_posted"),
        )
    )
    await session.execute(
        statement,
        [
            {
                "account_id": account_id,
                "new_debits_pending": state.debits_pending,
                "new_debits_posted": state.debits_posted,
                "new_credits_pending": state.credits_pending,
                "new_credits_posted": state.credits_posted,
            }
            for account_id, state in changed
        ],
    )


async def _insert_transfers(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert in order; the ``seq`` each row got."""
    statement = insert(transfers_table).returning(transfers_table.c.seq, sort_by_parameter_order=True)
    result = await session.execute(statement, rows)
    return [row.seq for row in result.all()]


async def create_transfers_python(
    session: AsyncSession, specs: Sequence[TransferSpec], metadata: list[str]
) -> list[Transfer]:
    accounts = await lock_accounts(
        session, [spec.debit_account_id for spec in specs] + [spec.credit_account_id for spec in specs]
    )
    # Read after locking: a concurrent call with the same id and accounts has committed by now.
    existing = await load_transfers(session, [spec.id for spec in specs])
    now = utcnow()
    first_seen: dict[uuid.UUID, int] = {}
    new_rows: list[dict[str, Any]] = []
    results: list[Transfer | int] = []  # a Transfer, or the index of the new row it will be
    for index, spec in enumerate(specs):
        original = existing.get(spec.id)
        if original is None and spec.id in first_seen:
            original_index = first_seen[spec.id]
            differs = _spec_vs_spec(spec, metadata[index], specs[original_index], metadata[original_index])
            if differs:
                raise transfer_error("transfer_exists", index=index, transfer_id=spec.id, differs=differs)
            results.append(results[original_index])
            continue
        if original is not None:
            differs = spec_differences(spec, metadata[index], original)
            if differs:
                raise transfer_error("transfer_exists", index=index, transfer_id=spec.id, differs=differs)
            results.append(original)
            continue
        debit = accounts.get(spec.debit_account_id)
        credit = accounts.get(spec.credit_account_id)
        if debit is None:
            raise transfer_error("debit_account_not_found", index=index, transfer_id=spec.id)
        if credit is None:
            raise transfer_error("credit_account_not_found", index=index, transfer_id=spec.id)
        if debit.currency != credit.currency:
            raise transfer_error("currency_mismatch", index=index, transfer_id=spec.id)
        failure = _apply(debit, credit, spec.amount, spec.pending)
        if failure is not None:
            at_fault = spec.credit_account_id if failure == "credits_exceed_debits" else spec.debit_account_id
            raise transfer_error(failure, index=index, transfer_id=spec.id, account_id=at_fault)
        first_seen[spec.id] = index
        results.append(len(new_rows))
        new_rows.append(
            {
                "id": spec.id,
                "organization_id": debit.organization_id,
                "debit_account_id": spec.debit_account_id,
                "credit_account_id": spec.credit_account_id,
                "amount": spec.amount,
                "currency": debit.currency,
                "code": spec.code,
                "kind": PENDING if spec.pending else SINGLE,
                "status": PENDING if spec.pending else POSTED,
                "pending_id": None,
                "linked": spec.linked,
                "timeout_seconds": spec.timeout_seconds,
                "expires_at": now + timedelta(seconds=spec.timeout_seconds) if spec.timeout_seconds else None,
                "metadata": json.loads(metadata[index]),
                "created_at": now,
            }
        )
    if not new_rows:
        return [result for result in results if isinstance(result, Transfer)]
    seqs = await _insert_transfers(session, new_rows)
    await _write_balances(session, accounts)
    created = [_transfer_from_values(values, seq) for values, seq in zip(new_rows, seqs, strict=True)]
    return [result if isinstance(result, Transfer) else created[result] for result in results]


def _spec_vs_spec(spec: TransferSpec, metadata: str, first: TransferSpec, first_metadata: str) -> list[str]:
    fields = ("debit_account_id", "credit_account_id", "amount", "code", "pending", "timeout_seconds", "linked")
    differs = [name for name in fields if getattr(spec, name) != getattr(first, name)]
    if json.loads(metadata) != json.loads(first_metadata):
        differs.append("metadata")
    return differs


def _transfer_from_values(values: dict[str, Any], seq: int) -> Transfer:
    return Transfer(
        id=values["id"],
        seq=seq,
        organization_id=values["organization_id"],
        debit_account_id=values["debit_account_id"],
        credit_account_id=values["credit_account_id"],
        amount=values["amount"],
        currency=values["currency"],
        code=values["code"],
        kind=values["kind"],
        status=values["status"],
        pending_id=values["pending_id"],
        linked=values["linked"],
        timeout_seconds=values["timeout_seconds"],
        expires_at=values["expires_at"],
        metadata=values["metadata"],
        created_at=values["created_at"],
    )


async def create_transfers(session: AsyncSession, specs: Sequence[TransferSpec]) -> list[Transfer]:
    """Create the transfers in order, atomically; one :class:`Transfer` per spec (replays return the original).

    Raises a :class:`~cauri.ledger.errors.LedgerError` naming the first transfer at fault (``extra.index``) and
    writes nothing when any transfer fails: :class:`InsufficientFunds` (422 ``insufficient_funds``),
    :class:`TransferExists` (409), a 422 for a bad amount, unknown account, currencies that differ….
    """
    specs = list(specs)
    metadata = validate_specs(specs)
    if uses_sql_functions(session):
        from cauri.ledger.postgres import create_transfers_sql

        return await create_transfers_sql(session, specs, metadata)
    return await create_transfers_python(session, specs, metadata)


# --- two-phase: post, void, expire -------------------------------------------------------------------------------


async def _resolve_pending(
    session: AsyncSession,
    *,
    transfer_id: uuid.UUID,
    pending_id: uuid.UUID,
    amount: int | None,
    post: bool,
    metadata: dict[str, Any] | None,
) -> Transfer:
    if amount is not None:
        validate_amount(amount, transfer_id=transfer_id)
    encoded = canonical_metadata(metadata or {}, 0, transfer_id)
    if uses_sql_functions(session):
        from cauri.ledger.postgres import resolve_pending_sql

        return await resolve_pending_sql(
            session, transfer_id=transfer_id, pending_id=pending_id, amount=amount, post=post, metadata=encoded
        )
    return await _resolve_pending_python(
        session, transfer_id=transfer_id, pending_id=pending_id, amount=amount, post=post, encoded=encoded
    )


async def _resolve_pending_python(
    session: AsyncSession,
    *,
    transfer_id: uuid.UUID,
    pending_id: uuid.UUID,
    amount: int | None,
    post: bool,
    encoded: str,
) -> Transfer:
    kind = POST_PENDING if post else VOID_PENDING

    def replay_or_conflict(existing: Transfer, pending: Transfer | None) -> Transfer:
        wanted_amount = amount if amount is not None else (pending.amount if pending else existing.amount)
        differs = []
        if existing.kind != kind:
            differs.append("kind")
        if existing.pending_id != pending_id:
            differs.append("pending_id")
        if existing.amount != wanted_amount:
            differs.append("amount")
        if existing.metadata != json.loads(encoded):
            differs.append("metadata")
        if differs:
            raise transfer_error("transfer_exists", transfer_id=transfer_id, differs=differs)
        return existing

    found = await load_transfers(session, [transfer_id, pending_id])
    pending = found.get(pending_id)
    if transfer_id in found:
        return replay_or_conflict(found[transfer_id], pending)
    if pending is None:
        raise transfer_error("pending_transfer_not_found", transfer_id=transfer_id)
    if pending.kind != PENDING:
        raise transfer_error("pending_transfer_not_pending", transfer_id=transfer_id)
    accounts = await lock_accounts(session, [pending.debit_account_id, pending.credit_account_id])
    # Locked: nobody else can resolve this pending transfer now; read its latest state (and a racing replay).
    found = await load_transfers(session, [transfer_id, pending_id])
    pending = found[pending_id]
    if transfer_id in found:
        return replay_or_conflict(found[transfer_id], pending)
    now = utcnow()
    if pending.status != PENDING:
        raise transfer_error(_resolved_code(pending.status), transfer_id=transfer_id)
    if pending.expires_at is not None and pending.expires_at <= now:
        raise transfer_error("pending_transfer_expired", transfer_id=transfer_id)
    if amount is not None and amount > pending.amount:
        raise transfer_error("exceeds_pending_transfer_amount", transfer_id=transfer_id)
    resolved_amount = amount if amount is not None else pending.amount
    debit, credit = accounts[pending.debit_account_id], accounts[pending.credit_account_id]
    debit.debits_pending -= pending.amount
    credit.credits_pending -= pending.amount
    if post:
        debit.debits_posted += resolved_amount
        credit.credits_posted += resolved_amount
    debit.changed = credit.changed = True
    marked = await session.execute(
        update(transfers_table)
        .where(transfers_table.c.id == pending_id, transfers_table.c.status == PENDING)
        .values(status=POSTED if post else VOIDED)
        .returning(transfers_table.c.seq)
    )
    if marked.first() is None:  # impossible while the accounts are locked; never resolve twice
        raise transfer_error("pending_transfer_already_posted", transfer_id=transfer_id)
    values = {
        "id": transfer_id,
        "organization_id": pending.organization_id,
        "debit_account_id": pending.debit_account_id,
        "credit_account_id": pending.credit_account_id,
        "amount": resolved_amount,
        "currency": pending.currency,
        "code": pending.code,
        "kind": kind,
        "status": POSTED if post else VOIDED,
        "pending_id": pending_id,
        "linked": False,
        "timeout_seconds": None,
        "expires_at": None,
        "metadata": json.loads(encoded),
        "created_at": now,
    }
    (seq,) = await _insert_transfers(session, [values])
    await _write_balances(session, accounts)
    return _transfer_from_values(values, seq)


def _resolved_code(status: str) -> str:
    return {
        POSTED: "pending_transfer_already_posted",
        VOIDED: "pending_transfer_already_voided",
        EXPIRED: "pending_transfer_expired",
    }[status]


async def post_pending(
    session: AsyncSession,
    *,
    id: uuid.UUID,
    pending_id: uuid.UUID,
    amount: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Transfer:
    """Post a pending transfer: ``amount`` (default: all of it) moves to posted, the rest of the hold is released.

    A pending transfer is resolved once: posting or voiding it again (with another id) is a 409
    (``pending_transfer_already_posted`` / ``…_voided`` / ``pending_transfer_expired``).
    """
    return await _resolve_pending(
        session, transfer_id=id, pending_id=pending_id, amount=amount, post=True, metadata=metadata
    )


async def void_pending(
    session: AsyncSession, *, id: uuid.UUID, pending_id: uuid.UUID, metadata: dict[str, Any] | None = None
) -> Transfer:
    """Void a pending transfer: its hold is released and nothing moves."""
    return await _resolve_pending(
        session, transfer_id=id, pending_id=pending_id, amount=None, post=False, metadata=metadata
    )


async def expire_pending_transfers(session: AsyncSession, now: datetime | None = None, *, limit: int = 500) -> int:
    """Release the holds of pending transfers whose timeout passed; how many expired. Each expires exactly once."""
    now = now or utcnow()
    due = (
        await session.execute(
            select(transfers_table.c.seq, transfers_table.c.debit_account_id, transfers_table.c.credit_account_id)
            .where(transfers_table.c.status == PENDING, transfers_table.c.expires_at <= now)
            .order_by(transfers_table.c.expires_at)
            .limit(limit)
        )
    ).all()
    if not due:
        return 0
    accounts = await lock_accounts(
        session, [row.debit_account_id for row in due] + [row.credit_account_id for row in due]
    )
    # Conditional on still being pending: a transfer posted, voided or expired meanwhile is left alone.
    expired = (
        await session.execute(
            update(transfers_table)
            .where(transfers_table.c.seq.in_([row.seq for row in due]), transfers_table.c.status == PENDING)
            .values(status=EXPIRED)
            .returning(
                transfers_table.c.debit_account_id, transfers_table.c.credit_account_id, transfers_table.c.amount
            )
        )
    ).all()
    for row in expired:
        debit, credit = accounts[row.debit_account_id], accounts[row.credit_account_id]
        debit.debits_pending -= row.amount
        credit.credits_pending -= row.amount
        debit.changed = credit.changed = True
    await _write_balances(session, accounts)
    return len(expired)
