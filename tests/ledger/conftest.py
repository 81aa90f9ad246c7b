"""Ledger test helpers: organisations to own accounts, sessions on either transfer path, the books' invariants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work, utcnow
from cauri.identity.models import Organization
from cauri.ledger import service as ledger
from cauri.ledger.models import LedgerAccount
from cauri.ledger.transfers import PYTHON_PATH
from cauri.ledger.types import TransferSpec

PATHS = ("sql", "python")


@pytest.fixture(params=PATHS)
def ledger_path(request: pytest.FixtureRequest) -> str:
    """``sql``: the PostgreSQL functions; ``python``: the portable path (SQLite's, also run on PostgreSQL)."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the meaningless combinations instead of skipping them: SQLite with the SQL functions (it has none).
    (``postgres_only`` tests are dropped on SQLite by tests/conftest.py.)"""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("backend") == "sqlite" and params.get("ledger_path") == "sql":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


class LedgerDB:
    """Opens units of work on the chosen transfer path."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], path: str) -> None:
        self.sessionmaker = sessionmaker
        self.path = path

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with unit_of_work(self.sessionmaker) as session:
            session.info[PYTHON_PATH] = self.path == "python"
            yield session

    async def new_org(self) -> uuid.UUID:
        async with self.session() as session:
            return await create_org(session)


@pytest.fixture
def db(sessionmaker: async_sessionmaker[AsyncSession], ledger_path: str) -> LedgerDB:
    return LedgerDB(sessionmaker, ledger_path)


async def create_org(session: AsyncSession) -> uuid.UUID:
    org_id = uuid.uuid4()
    now = utcnow()
    session.add(
        Organization(
            id=org_id,
            name=f"Org {org_id.hex[:8]}",
            slug=f"org-{org_id.hex}",
            default_region="SN",
            default_language="fr",
            require_maker_checker=False,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return org_id


async def books_by_currency(session: AsyncSession, organization_ids: list[uuid.UUID]) -> dict[str, tuple[int, ...]]:
    """Per currency: (debits_pending, debits_posted, credits_pending, credits_posted) over these organisations."""
    a = LedgerAccount
    rows = (
        await session.execute(
            select(
                a.currency,
                func.sum(a.debits_pending),
                func.sum(a.debits_posted),
                func.sum(a.credits_pending),
                func.sum(a.credits_posted),
            )
            .where(a.organization_id.in_(organization_ids))
            .group_by(a.currency)
        )
    ).all()
    return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


@dataclass
class Books:
    org: uuid.UUID
    source: uuid.UUID  # no limits: the outside world
    wallet: uuid.UUID  # cannot be overdrawn
    other: uuid.UUID  # cannot be overdrawn
    asset: uuid.UUID  # credits may not exceed debits
    euro: uuid.UUID  # another currency


@pytest.fixture
async def books(db: LedgerDB) -> Books:
    org = await db.new_org()
    async with db.session() as session:
        source = await ledger.create_account(session, organization_id=org, currency="XOF", code="source")
        wallet = await ledger.operating_account(session, org, "XOF")
        other = await ledger.create_account(
            session, organization_id=org, currency="XOF", code="other", debits_must_not_exceed_credits=True
        )
        asset = await ledger.create_account(
            session, organization_id=org, currency="XOF", code="asset", credits_must_not_exceed_debits=True
        )
        euro = await ledger.operating_account(session, org, "EUR")
    return Books(org, source.id, wallet.id, other.id, asset.id, euro.id)


def spec(debit: uuid.UUID, credit: uuid.UUID, amount: int, **options: Any) -> TransferSpec:
    return TransferSpec(
        id=uuid.uuid4(), debit_account_id=debit, credit_account_id=credit, amount=amount, code="test", **options
    )


async def balances(db: LedgerDB, *accounts: uuid.UUID) -> list[ledger.Balance]:
    async with db.session() as session:
        return [await ledger.balance(session, account) for account in accounts]
