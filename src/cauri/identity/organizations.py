"""Organisations and their members.

Every read and write is scoped to the organisation the caller acts for: another organisation's object is a
404, exactly as if it did not exist. Changes of members and roles go to the audit trail.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.errors import Conflict, field_error
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.identity import errors
from cauri.identity.audit import record_audit
from cauri.identity.models import Membership, Organization, User
from cauri.identity.permissions import ROLE_PERMISSIONS, Perm, Role
from cauri.identity.schemas import MemberAdd, MemberRead, OrganizationCreate, OrganizationUpdate
from cauri.identity.service import (
    Identifier,
    create_user,
    find_user,
    hash_password_off_loop,
    identifier_of,
    unusable_password_hash,
)
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify

SLUG_BASE_MAX = 60
# Essential (it carries no unsubscribe link and preferences cannot turn it off): a new account's only way in.
INVITATION = register_kind(
    NotificationKind(
        "identity.invitation",
        channels=("email", "sms"),
        mandatory=True,
        templates=Path(__file__).parent / "templates",
        sample={"organization": "CNSS Pensions", "url": "https://cauri.example", "identifier": "awa@example.org"},
    )
)


def slugify(name: str) -> str:
    """ "Caisse Nationale (CNSS) — Dakar" -> "caisse-nationale-cnss-dakar"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_BASE_MAX].strip("-") or "organisation"


async def _slug_taken(session: AsyncSession, slug: str) -> bool:
    return (await session.execute(select(Organization.id).where(Organization.slug == slug))).first() is not None


async def available_slug(session: AsyncSession, name: str) -> str:
    slug = slugify(name)
    while await _slug_taken(session, slug):
        slug = f"{slugify(name)}-{secrets.token_hex(3)}"
    return slug


async def create_organization(
    session: AsyncSession,
    settings: Settings,
    *,
    owner: User,
    data: OrganizationCreate,
    actor: Principal,
    ip: str | None,
) -> Organization:
    """A new organisation with ``owner`` as its first owner."""
    if data.slug is not None:
        if await _slug_taken(session, data.slug):
            raise Conflict(
                "Cet identifiant d'organisation est déjà pris.",
                "This organisation slug is already taken.",
                code="slug_taken",
                field="slug",
            )
        slug = data.slug
    else:
        slug = await available_slug(session, data.name)
    organization = Organization(
        name=data.name,
        slug=slug,
        default_region=data.default_region or settings.default_region,
        default_language=data.default_language,
        require_maker_checker=data.require_maker_checker,
        webhook_url=str(data.webhook_url) if data.webhook_url else None,
    )
    session.add(organization)
    await session.flush()
    session.add(Membership(organization_id=organization.id, user_id=owner.id, role=Role.OWNER.value))
    await record_audit(
        session,
        action="organization.created",
        organization_id=organization.id,
        actor=actor,
        target_type="organization",
        target_id=str(organization.id),
        changes={"name": organization.name, "slug": organization.slug, "owner_user_id": str(owner.id)},
        ip=ip,
    )
    await session.flush()
    return organization


def ensure_acting_for(principal: Principal, organization_id: uuid.UUID) -> None:
    """Only the organisation the caller acts for exists for them (platform admins see every one)."""
    if not principal.is_platform_admin and principal.organization_id != organization_id:
        raise errors.OrganizationNotFound()


async def get_organization(session: AsyncSession, principal: Principal, organization_id: uuid.UUID) -> Organization:
    ensure_acting_for(principal, organization_id)
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise errors.OrganizationNotFound()
    return organization


async def lock_organization(session: AsyncSession, principal: Principal, organization_id: uuid.UUID) -> Organization:
    """The organisation row, locked on PostgreSQL so that concurrent role changes are checked one at a time."""
    ensure_acting_for(principal, organization_id)
    organization = (
        await session.execute(select(Organization).where(Organization.id == organization_id).with_for_update())
    ).scalar_one_or_none()
    if organization is None:
        raise errors.OrganizationNotFound()
    return organization


async def update_organization(
    session: AsyncSession, organization: Organization, data: OrganizationUpdate, *, actor: Principal, ip: str | None
) -> Organization:
    changes: dict[str, Any] = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "webhook_url":
            value = str(value) if value is not None else None
        elif value is None:
            continue  # only the webhook can be cleared; other fields keep their value
        if getattr(organization, name) != value:
            changes[name] = [getattr(organization, name), value]
            setattr(organization, name, value)
    if changes:
        await record_audit(
            session,
            action="organization.updated",
            organization_id=organization.id,
            actor=actor,
            target_type="organization",
            target_id=str(organization.id),
            changes=changes,
            ip=ip,
        )
    await session.flush()
    return organization


async def find_organization(session: AsyncSession, slug_or_id: str) -> Organization | None:
    """The organisation a setting names, by its slug or its id (configuration, not a caller's input)."""
    try:
        return await session.get(Organization, uuid.UUID(slug_or_id))
    except ValueError:
        return (await session.execute(select(Organization).where(Organization.slug == slug_or_id))).scalar_one_or_none()


async def organizations_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[Organization]:
    rows = await session.execute(
        select(Organization)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return list(rows.scalars().all())


async def organizations_page(
    session: AsyncSession, user_id: uuid.UUID, params: PageParams
) -> tuple[list[Organization], str | None]:
    """A page of the organisations ``user_id`` belongs to, newest first."""
    statement = (
        select(Organization)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
    )
    return await paginate(session, statement, params, created_at=Organization.created_at, row_id=Organization.id)


async def all_organizations(session: AsyncSession, params: PageParams) -> tuple[list[Organization], str | None]:
    return await paginate(
        session, select(Organization), params, created_at=Organization.created_at, row_id=Organization.id
    )


# --- members -----------------------------------------------------------------------------------------------


def _member_read(membership: Membership, user: User) -> MemberRead:
    return MemberRead(
        id=membership.id,
        user_id=user.id,
        email=user.email,
        phone=user.phone,
        full_name=user.full_name,
        role=membership.role,
        created_at=membership.created_at,
    )


async def member_by_user(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Membership, User]:
    """A member and their account, by the account's id (a product's own API names people, not memberships)."""
    row = (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id, Membership.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise errors.MemberNotFound()
    return row[0], row[1]


async def members_slice(
    session: AsyncSession, organization_id: uuid.UUID, *, offset: int, limit: int
) -> list[tuple[Membership, User]]:
    """Members in joining order, ``offset``/``limit`` as the products' own APIs page them."""
    rows = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id)
        .order_by(Membership.created_at, Membership.id)
        .offset(offset)
        .limit(limit)
    )
    return [(membership, user) for membership, user in rows]


async def list_members(
    session: AsyncSession, organization_id: uuid.UUID, params: PageParams
) -> tuple[list[MemberRead], str | None]:
    """A page of the organisation's members, newest first."""
    statement = select(Membership).where(Membership.organization_id == organization_id)
    memberships, cursor = await paginate(
        session, statement, params, created_at=Membership.created_at, row_id=Membership.id
    )
    user_ids = [membership.user_id for membership in memberships]
    users = {user.id: user for user in (await session.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
    return [_member_read(membership, users[membership.user_id]) for membership in memberships], cursor


def _ensure_may_touch_owner_role(actor: Principal, *roles: str) -> None:
    """Admins manage members, but only an owner makes or unmakes an owner (no self-promotion to owner)."""
    if Role.OWNER.value in roles and not (actor.is_platform_admin or Role.OWNER.value in actor.roles):
        raise errors.OwnerOnly()


async def members_with_permission(session: AsyncSession, organization_id: uuid.UUID, perm: Perm) -> list[User]:
    """The organisation's people whose role grants ``perm`` (whom a module tells about what they run)."""
    roles = [role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    found = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id, Membership.role.in_(roles))
        .order_by(User.id)
    )
    return list(found)


async def _owner_count(session: AsyncSession, organization_id: uuid.UUID) -> int:
    count = await session.execute(
        select(func.count())
        .select_from(Membership)
        .where(Membership.organization_id == organization_id, Membership.role == Role.OWNER.value)
    )
    return int(count.scalar_one())


async def _send_invitation(
    session: AsyncSession,
    *,
    settings: Settings,
    organization: Organization,
    identifier: Identifier,
    user: User,
    membership_id: uuid.UUID,
    language: str,
) -> None:
    """Tell someone whose account was just created for them how to choose their password."""
    await notify(
        session,
        kind=INVITATION.name,
        recipient=Recipient(
            user.id,
            email=identifier.value if identifier.field == "email" else None,
            phone=identifier.value if identifier.field != "email" else None,
            language=language,
        ),
        context={"organization": organization.name, "url": settings.public_base_url, "identifier": identifier.value},
        object_id=membership_id,
        organization_id=organization.id,
    )


async def _invited_user(session: AsyncSession, identifier: Identifier, data: MemberAdd) -> User:
    if data.full_name is None:
        raise field_error(
            "full_name",
            "missing",
            "Aucun compte n'existe pour cette personne : indiquez son nom pour le créer.",
            "No account exists for this person: give their name to create it.",
        )
    password_hash = (
        await hash_password_off_loop(data.password) if data.password is not None else await unusable_password_hash()
    )
    return await create_user(
        session,
        email=identifier.value if identifier.field == "email" else None,
        phone=identifier.value if identifier.field == "phone" else None,
        password_hash=password_hash,
        full_name=data.full_name,
        language=data.language,
    )


async def add_member(
    session: AsyncSession,
    settings: Settings,
    organization: Organization,
    data: MemberAdd,
    *,
    actor: Principal,
    ip: str | None,
) -> tuple[MemberRead, bool]:
    """Add an existing account, or create one; returns the member and whether the account was created.

    An account created without a password gets an invitation telling its holder to choose one with the
    forgotten-password flow (which also proves they own the address).
    """
    _ensure_may_touch_owner_role(actor, data.role.value)
    identifier = identifier_of(data.email, data.phone, organization.default_region)
    user = await find_user(session, identifier)
    created = user is None
    if user is None:
        user = await _invited_user(session, identifier, data)
    elif data.password is not None:
        raise field_error(
            "password",
            "account_exists",
            "Ce compte existe déjà : son mot de passe reste celui de son titulaire.",
            "This account already exists: its password stays its holder's.",
        )
    membership = await add_membership(
        session,
        organization.id,
        user,
        role=data.role.value,
        actor=actor,
        ip=ip,
        account_created=created,
        field=identifier.field,
    )
    if created and data.password is None:
        await _send_invitation(
            session,
            settings=settings,
            organization=organization,
            identifier=identifier,
            user=user,
            membership_id=membership.id,
            language=data.language,
        )
    return _member_read(membership, user), created


async def add_membership(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user: User,
    *,
    role: str,
    actor: Principal,
    ip: str | None,
    account_created: bool,
    field: str = "email",
) -> Membership:
    """Make ``user`` a member with ``role`` (a 409 naming ``field`` when they already are), audited."""
    existing = await session.execute(
        select(Membership.id).where(Membership.organization_id == organization_id, Membership.user_id == user.id)
    )
    if existing.first() is not None:
        raise Conflict(
            "Cette personne est déjà membre de l'organisation.",
            "This person is already a member of the organisation.",
            code="already_member",
            field=field,
        )
    membership = Membership(organization_id=organization_id, user_id=user.id, role=role)
    session.add(membership)
    await session.flush()
    await record_audit(
        session,
        action="member.added",
        organization_id=organization_id,
        actor=actor,
        target_type="membership",
        target_id=str(membership.id),
        changes={"user_id": str(user.id), "role": membership.role, "account_created": account_created},
        ip=ip,
    )
    return membership


async def _membership_in(session: AsyncSession, organization_id: uuid.UUID, membership_id: uuid.UUID) -> Membership:
    membership = await session.get(Membership, membership_id)
    if membership is None or membership.organization_id != organization_id:
        raise errors.MemberNotFound()
    return membership


async def change_role(
    session: AsyncSession,
    organization: Organization,
    membership_id: uuid.UUID,
    role: Role,
    *,
    actor: Principal,
    ip: str | None,
) -> MemberRead:
    membership = await _membership_in(session, organization.id, membership_id)
    old_role = membership.role
    if old_role != role.value:
        _ensure_may_touch_owner_role(actor, old_role, role.value)
        if old_role == Role.OWNER.value and await _owner_count(session, organization.id) <= 1:
            raise errors.LastOwner()
        membership.role = role.value
        await record_audit(
            session,
            action="member.role_changed",
            organization_id=organization.id,
            actor=actor,
            target_type="membership",
            target_id=str(membership.id),
            changes={"user_id": str(membership.user_id), "role": [old_role, role.value]},
            ip=ip,
        )
        await session.flush()
    user = await session.get(User, membership.user_id)
    assert user is not None
    return _member_read(membership, user)


async def remove_member(
    session: AsyncSession, organization: Organization, membership_id: uuid.UUID, *, actor: Principal, ip: str | None
) -> None:
    membership = await _membership_in(session, organization.id, membership_id)
    _ensure_may_touch_owner_role(actor, membership.role)
    if membership.role == Role.OWNER.value and await _owner_count(session, organization.id) <= 1:
        raise errors.LastOwner()
    await session.delete(membership)
    await record_audit(
        session,
        action="member.removed",
        organization_id=organization.id,
        actor=actor,
        target_type="membership",
        target_id=str(membership.id),
        changes={"user_id": str(membership.user_id), "role": membership.role},
        ip=ip,
    )
    await session.flush()
