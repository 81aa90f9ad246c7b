"""Accounts: one per (organisation, currency, code, owner), created on demand, never deleted."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.money import currency_exponent
from cauri.core.pagination import PageParams, paginate
from cauri.ledger.errors import AccountExists, AccountNotFound
from cauri.ledger.models import LedgerAccount
from cauri.ledger.types import BANK_DEPOSITS, OPERATING, PROVIDER_CLEARING, Account, Balance

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
MAX_OWNER_REF = 120

ACCOUNT_COLUMNS = (
    LedgerAccount.id,
    LedgerAccount.organization_id,
    LedgerAccount.currency,
    LedgerAccount.code,
    LedgerAccount.owner_ref,
    LedgerAccount.debits_must_not_exceed_credits,
    LedgerAccount.credits_must_not_exceed_debits,
    LedgerAccount.debits_pending,
    LedgerAccount.debits_posted,
    LedgerAccount.credits_pending,
    LedgerAccount.credits_posted,
    LedgerAccount.created_at,
)


def account_from_row(row: Any) -> Account:
    """An :class:`Account` from a row of :data:`ACCOUNT_COLUMNS`."""
    return Account(
        id=row.id,
        organization_id=row.organization_id,
        currency=row.currency,
        code=row.code,
        owner_ref=row.owner_ref or None,
        debits_must_not_exceed_credits=bool(row.debits_must_not_exceed_credits),
        credits_must_not_exceed_debits=bool(row.credits_must_not_exceed_debits),
        debits_pending=row.debits_pending,
        debits_posted=row.debits_posted,
        credits_pending=row.credits_pending,
        credits_posted=row.credits_posted,
        created_at=row.created_at,
    )


def _validate(currency: str, code: str, owner_ref: str | None, debits_flag: bool, credits_flag: bool) -> str:
    currency_exponent(currency)
    if not CODE_PATTERN.match(code):
        raise field_error(
            "code",
            "invalid_code",
            "Code de compte invalide (lettres minuscules, chiffres, « _ », « . », « - » ; 40 au plus).",
            "Invalid account code (lowercase letters, digits, '_', '.', '-'; at most 40).",
        )
    owner = owner_ref or ""
    if len(owner) > MAX_OWNER_REF:
        raise field_error("owner_ref", "too_long", "Référence de titulaire trop longue.", "Owner reference too long.")
    if debits_flag and credits_flag:
        raise field_error(
            "credits_must_not_exceed_debits",
            "flags_are_mutually_exclusive",
            "Un compte ne peut pas interdire à la fois le découvert en débit et en crédit.",
            "An account cannot forbid both debits exceeding credits and credits exceeding debits.",
        )
    return owner


def _key_query(organization_id: uuid.UUID, currency: str, code: str, owner: str) -> Any:
    return select(*ACCOUNT_COLUMNS).where(
        LedgerAccount.organization_id == organization_id,
        LedgerAccount.currency == currency,
        LedgerAccount.code == code,
        LedgerAccount.owner_ref == owner,
    )


async def _insert_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless the (organisation, currency, code, owner) key exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(LedgerAccount)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["organization_id", "currency", "code", "owner_ref"])
        .returning(LedgerAccount.id)
    )
    return (await session.execute(statement)).first() is not None


def _new_values(
    organization_id: uuid.UUID, currency: str, code: str, owner: str, *, debits_flag: bool, credits_flag: bool
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "organization_id": organization_id,
        "currency": currency,
        "code": code,
        "owner_ref": owner,
        "debits_must_not_exceed_credits": debits_flag,
        "credits_must_not_exceed_debits": credits_flag,
        "debits_pending": 0,
        "debits_posted": 0,
        "credits_pending": 0,
        "credits_posted": 0,
        "created_at": utcnow(),
    }


async def create_account(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    currency: str,
    code: str,
    owner_ref: str | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """A new account; :class:`AccountExists` (409) if the organisation already has this (currency, code, owner)."""
    owner = _validate(currency, code, owner_ref, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
    values = _new_values(
        organization_id,
        currency,
        code,
        owner,
        debits_flag=debits_must_not_exceed_credits,
        credits_flag=credits_must_not_exceed_debits,
    )
    if not await _insert_if_absent(session, values):
        raise AccountExists(
            "Ce compte existe déjà pour cette organisation.",
            "This account already exists for this organisation.",
            field="code",
        )
    return account_from_row((await session.execute(_key_query(organization_id, currency, code, owner))).one())


async def get_or_create_account(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    currency: str,
    code: str,
    owner_ref: str | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """The account with this (organisation, currency, code, owner), created with these flags when missing.

    Safe under concurrency (insert-if-absent on the unique key). An existing account with other flags is an
    :class:`AccountExists` conflict: flags are part of what an account is.
    """
    owner = _validate(currency, code, owner_ref, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
    query = _key_query(organization_id, currency, code, owner)
    row = (await session.execute(query)).first()
    if row is None:
        values = _new_values(
            organization_id,
            currency,
            code,
            owner,
            debits_flag=debits_must_not_exceed_credits,
            credits_flag=credits_must_not_exceed_debits,
        )
        await _insert_if_absent(session, values)
        row = (await session.execute(query)).one()
    account = account_from_row(row)
    if (account.debits_must_not_exceed_credits, account.credits_must_not_exceed_debits) != (
        debits_must_not_exceed_credits,
        credits_must_not_exceed_debits,
    ):
        raise AccountExists(field="code", extra={"account_id": str(account.id)})
    return account


async def find_account(
    session: AsyncSession, *, organization_id: uuid.UUID, currency: str, code: str, owner_ref: str | None = None
) -> Account | None:
    """The account with this (organisation, currency, code, owner), or None: a lookup that never writes, for reads
    (a GET runs in a read-only transaction, where :func:`get_or_create_account` cannot create a missing one)."""
    row = (await session.execute(_key_query(organization_id, currency, code, owner_ref or ""))).first()
    return account_from_row(row) if row is not None else None


async def operating_account(session: AsyncSession, organization_id: uuid.UUID, currency: str) -> Account:
    """The organisation's wallet in ``currency`` (created on first use); it can never go below zero."""
    return await get_or_create_account(
        session,
        organization_id=organization_id,
        currency=currency,
        code=OPERATING,
        debits_must_not_exceed_credits=True,
    )


async def clearing_account(session: AsyncSession, organization_id: uuid.UUID, provider: str, currency: str) -> Account:
    """What ``provider`` owes the organisation in ``currency``; collections debit it, so it may go negative."""
    return await get_or_create_account(
        session, organization_id=organization_id, currency=currency, code=PROVIDER_CLEARING, owner_ref=provider
    )


async def bank_deposits_account(session: AsyncSession, organization_id: uuid.UUID, currency: str) -> Account:
    """The external funding side of deposits received by bank transfer for this organisation."""
    return await get_or_create_account(session, organization_id=organization_id, currency=currency, code=BANK_DEPOSITS)


async def get_account(
    session: AsyncSession, account_id: uuid.UUID, *, organization_id: uuid.UUID | None = None
) -> Account:
    """The account; with ``organization_id``, another organisation's account is :class:`AccountNotFound` too."""
    query = select(*ACCOUNT_COLUMNS).where(LedgerAccount.id == account_id)
    if organization_id is not None:
        query = query.where(LedgerAccount.organization_id == organization_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise AccountNotFound(field="account_id")
    return account_from_row(row)


async def list_accounts(
    session: AsyncSession, *, organization_id: uuid.UUID, currency: str | None = None
) -> Sequence[Account]:
    query = select(*ACCOUNT_COLUMNS).where(LedgerAccount.organization_id == organization_id)
    if currency is not None:
        query = query.where(LedgerAccount.currency == currency)
    query = query.order_by(LedgerAccount.currency, LedgerAccount.code, LedgerAccount.owner_ref, LedgerAccount.id)
    return [account_from_row(row) for row in (await session.execute(query)).all()]


async def accounts_page(
    session: AsyncSession, *, organization_id: uuid.UUID, params: PageParams, currency: str | None = None
) -> tuple[list[Account], str | None]:
    """The organisation's accounts, newest first, a page at a time."""
    query = select(LedgerAccount).where(LedgerAccount.organization_id == organization_id)
    if currency is not None:
        query = query.where(LedgerAccount.currency == currency)
    rows, cursor = await paginate(session, query, params, created_at=LedgerAccount.created_at, row_id=LedgerAccount.id)
    return [account_from_row(row) for row in rows], cursor


async def balance(session: AsyncSession, account_id: uuid.UUID) -> Balance:
    """Posted, pending and available balances of the account, as committed now (or by this transaction)."""
    return Balance.of(await get_account(session, account_id))
