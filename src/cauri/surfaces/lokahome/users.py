"""LokaHome's ``GET /api/v1/users/{user_id}``: another person's public profile (names, type, verified), never
their e-mail or phone."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import Request
from pydantic import BaseModel

from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import organizations
from cauri.surfaces.account_routes import seed_user
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/users")


class PublicProfile(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    user_type: str
    is_verified: bool
    created_at: datetime


@router.get("/{user_id}", summary="A person's public profile")
async def public_profile(
    user_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> PublicProfile:
    membership, user = await organizations.member_by_user(session, operator_id(request), user_id)
    profile = seed_user(user, membership.role)
    return PublicProfile(
        id=profile.id,
        first_name=profile.first_name,
        last_name=profile.last_name,
        user_type=membership.role,
        is_verified=profile.is_verified,
        created_at=profile.created_at,
    )
