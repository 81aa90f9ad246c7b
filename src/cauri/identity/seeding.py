"""Idempotent seeding of demo people and organisations, for each module's ``demo.py`` (``cauri demo``).

Running a seed again finds what exists (users by e-mail, organisations by slug, memberships by pair) and creates
only what is missing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.identity.models import Membership, Organization, User
from cauri.identity.organizations import create_organization
from cauri.identity.permissions import Role
from cauri.identity.schemas import OrganizationCreate
from cauri.identity.service import create_user, hash_password_off_loop, user_actor

DEMO_PASSWORD = "demo-cauri-2026"  # noqa: S105  (printed on purpose: demo data only)


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: Role | None  # None: platform administrator, member of no organisation
    platform_admin: bool = False


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    region: str
    maker_checker: bool
    users: tuple[DemoUser, ...]  # exactly one OWNER, who creates the organisation


@dataclass(frozen=True)
class DemoSummary:
    """What ``cauri demo`` prints for one seeded organisation."""

    organization: str
    organization_id: uuid.UUID
    available_balance: int
    currency: str
    users: tuple[DemoUser, ...]
    password: str = DEMO_PASSWORD


async def ensure_user(session: AsyncSession, spec: DemoUser) -> User:
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


async def _membership(session: AsyncSession, organization: Organization, user: User, role: Role) -> None:
    found = await session.execute(
        select(Membership).where(Membership.organization_id == organization.id, Membership.user_id == user.id)
    )
    if found.scalar_one_or_none() is None:
        session.add(Membership(organization_id=organization.id, user_id=user.id, role=role.value))
        await session.flush()


async def ensure_organization(session: AsyncSession, settings: Settings, spec: DemoOrganization) -> Organization:
    """The organisation (created by its owner) with every listed user a member in their role."""
    users = {user.email: await ensure_user(session, user) for user in spec.users}
    organization = (
        await session.execute(select(Organization).where(Organization.slug == spec.slug))
    ).scalar_one_or_none()
    if organization is None:
        owner = next(users[user.email] for user in spec.users if user.role is Role.OWNER)
        data = OrganizationCreate(
            name=spec.name, slug=spec.slug, default_region=spec.region, require_maker_checker=spec.maker_checker
        )
        organization = await create_organization(
            session, settings, owner=owner, data=data, actor=user_actor(owner), ip=None
        )
    for user in spec.users:
        if user.role is not None and user.role is not Role.OWNER:
            await _membership(session, organization, users[user.email], user.role)
    return organization
