"""The demo that ``make run`` seeds: a funded pension fund with the people a newcomer needs to try every flow.

Idempotent: running it again finds what exists and creates only what is missing (the funding transfer has a
fixed id, so the ledger credits it once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.identity.models import Membership, Organization, User
from cauri.identity.organizations import create_organization
from cauri.identity.permissions import Role
from cauri.identity.schemas import OrganizationCreate
from cauri.identity.service import create_user, hash_password_off_loop, user_actor
from cauri.ledger import service as ledger

DEMO_PASSWORD = "demo-cauri-2026"  # noqa: S105  (printed on purpose: demo data only)
DEMO_ORG_SLUG = "caisse-retraite-demo"
DEMO_ORG_NAME = "Caisse de Retraite du Sahel (démo)"
DEMO_CURRENCY = "XOF"
DEMO_FUNDING = 500_000_000  # 500 million F CFA, enough for many bulk payments
# A fixed id makes the funding transfer happen once however often the demo is seeded.
DEMO_FUNDING_TRANSFER = uuid.UUID("6c1b5f0e-3f4e-4a55-9a57-2f4c0de0a001")


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: Role | None  # None: platform administrator, member of no organisation
    platform_admin: bool = False


DEMO_USERS = (
    DemoUser("admin@cauri.africa", "Administrateur Cauri", None, platform_admin=True),
    DemoUser("directrice@demo.cauri.africa", "Awa Ndiaye", Role.OWNER),
    DemoUser("gestionnaire1@demo.cauri.africa", "Moussa Diop", Role.GESTIONNAIRE),
    DemoUser("gestionnaire2@demo.cauri.africa", "Fatou Sow", Role.GESTIONNAIRE),
    DemoUser("superviseur@demo.cauri.africa", "Ibrahima Fall", Role.SUPERVISEUR),
)


async def _user(session: AsyncSession, spec: DemoUser) -> User:
    existing = (await session.execute(select(User).where(User.email == spec.email))).scalar_one_or_none()
    if existing is not None:
        return existing
    return await create_user(
        session,
        email=spec.email,
        phone=None,
        password_hash=await hash_password_off_loop(DEMO_PASSWORD),
        full_name=spec.full_name,
        language="fr",
        is_platform_admin=spec.platform_admin,
    )


async def _organization(session: AsyncSession, settings: Settings, owner: User) -> Organization:
    existing = (
        await session.execute(select(Organization).where(Organization.slug == DEMO_ORG_SLUG))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    data = OrganizationCreate(name=DEMO_ORG_NAME, slug=DEMO_ORG_SLUG, default_region="SN", require_maker_checker=True)
    return await create_organization(session, settings, owner=owner, data=data, actor=user_actor(owner), ip=None)


async def _membership(session: AsyncSession, organization: Organization, user: User, role: Role) -> None:
    found = await session.execute(
        select(Membership).where(Membership.organization_id == organization.id, Membership.user_id == user.id)
    )
    if found.scalar_one_or_none() is None:
        session.add(Membership(organization_id=organization.id, user_id=user.id, role=role.value))
        await session.flush()


async def _fund(session: AsyncSession, organization: Organization) -> int:
    wallet = await ledger.operating_account(session, organization.id, DEMO_CURRENCY)
    bank = await ledger.bank_deposits_account(session, organization.id, DEMO_CURRENCY)
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=DEMO_FUNDING_TRANSFER,
                debit_account_id=bank.id,
                credit_account_id=wallet.id,
                amount=DEMO_FUNDING,
                code="deposit",
                metadata={"bank_reference": "DEMO-VIREMENT-0001", "note": "demo funding"},
            )
        ],
    )
    return (await ledger.balance(session, wallet.id)).available


@dataclass(frozen=True)
class DemoSummary:
    organization: str
    organization_id: uuid.UUID
    available_balance: int
    currency: str
    users: tuple[DemoUser, ...]
    password: str


async def seed_demo(settings: Settings) -> DemoSummary:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            users = {spec.email: await _user(session, spec) for spec in DEMO_USERS}
            owner = next(users[s.email] for s in DEMO_USERS if s.role is Role.OWNER)
            organization = await _organization(session, settings, owner)
            for spec in DEMO_USERS:
                if spec.role is not None and spec.role is not Role.OWNER:
                    await _membership(session, organization, users[spec.email], spec.role)
            available = await _fund(session, organization)
    finally:
        await engine.dispose()
    return DemoSummary(organization.name, organization.id, available, DEMO_CURRENCY, DEMO_USERS, DEMO_PASSWORD)
