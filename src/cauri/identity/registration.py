"""Sign up: an account, optionally its organisation (with the new user as owner), and a first login session."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.phone import GIVEN_REGION, PLATFORM_REGION, normalise_phone
from cauri.identity import errors
from cauri.identity.audit import record_audit
from cauri.identity.organizations import add_membership, create_organization
from cauri.identity.schemas import OrganizationCreate, OrganizationRead, RegisterRequest, RegisterResult, UserRead
from cauri.identity.service import create_user, hash_password_off_loop, open_login_session, user_actor


async def register(
    session: AsyncSession,
    settings: Settings,
    data: RegisterRequest,
    *,
    ip: str | None,
    user_agent: str | None,
    join: tuple[uuid.UUID, str] | None = None,
) -> RegisterResult:
    """``join``: (organisation, role) the new account becomes a member of, as on a product's own sign-up page."""
    if not data.email and not data.phone:
        raise errors.email_or_phone_required()
    region = data.region or settings.default_region
    reason = GIVEN_REGION if data.region else PLATFORM_REGION
    phone = normalise_phone(data.phone, region, field="phone", region_reason=reason) if data.phone else None
    user = await create_user(
        session,
        email=data.email,
        phone=phone,
        password_hash=await hash_password_off_loop(data.password),
        full_name=data.full_name,
        language=data.language,
    )
    actor = user_actor(user)
    await record_audit(
        session,
        action="user.registered",
        organization_id=None,
        actor=actor,
        target_type="user",
        target_id=str(user.id),
        ip=ip,
    )
    if join is not None:
        organization_id, role = join
        await add_membership(session, organization_id, user, role=role, actor=actor, ip=ip, account_created=True)
    organization = None
    if data.organization_name:
        organization = await create_organization(
            session,
            settings,
            owner=user,
            data=OrganizationCreate(name=data.organization_name, default_region=region, default_language=data.language),
            actor=actor,
            ip=ip,
        )
    tokens = await open_login_session(session, settings, user, ip=ip, user_agent=user_agent)
    return RegisterResult(
        user=UserRead.model_validate(user),
        organization=OrganizationRead.model_validate(organization) if organization else None,
        tokens=tokens,
    )
