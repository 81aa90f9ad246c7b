"""LokaHome's ``/api/v1/users``: another person's public profile (``GET /{user_id}``: names, type, verified, never
their e-mail or phone), ``POST /me/avatar`` and ``POST /me/verify-identity`` (thin adapters over
:mod:`cauri.rentals.people`, for the operator organisation this surface serves)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import File, Form, Request, UploadFile, status
from pydantic import BaseModel

from cauri.core.deps import StorageDep
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.identity import organizations
from cauri.rentals import people
from cauri.rentals.images import MAX_IMAGE_BYTES, process_image
from cauri.rentals.routes.people import FILE_PROBLEMS, DocumentType, VerificationRead, verification_read
from cauri.surfaces.account_routes import seed_user
from cauri.surfaces.registry import operator_id

router = api_router(prefix="/api/v1/users")


class PublicProfile(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    user_type: str
    is_verified: bool  # e-mail or phone verified (the account)
    identity_verified: bool  # identity document approved by the marketplace (rentals.people)
    avatar_url: str | None
    created_at: datetime


class AvatarUploaded(BaseModel):
    avatar_url: str


@router.get("/{user_id}", summary="A person's public profile")
async def public_profile(
    user_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> PublicProfile:
    membership, user = await organizations.member_by_user(session, operator_id(request), user_id)
    profile = seed_user(user, membership.role)
    person = await people.person(session, organization_id=operator_id(request), user_id=user_id)
    return PublicProfile(
        id=profile.id,
        first_name=profile.first_name,
        last_name=profile.last_name,
        user_type=membership.role,
        is_verified=profile.is_verified,
        identity_verified=person.is_verified,
        avatar_url=person.avatar_urls["large"] if person.avatar_urls else None,
        created_at=profile.created_at,
    )


@router.post(
    "/me/avatar",
    responses=FILE_PROBLEMS,
    summary="Upload my avatar (JPEG, PNG or WebP, 500×500 at most after resizing)",
)
async def upload_avatar(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    file: Annotated[UploadFile, File()],
) -> AvatarUploaded:
    data = await file.read(MAX_IMAGE_BYTES + 1)
    image = await asyncio.to_thread(process_image, data, field="file", sizes=people.AVATAR_SIZES)
    person = await people.set_avatar(
        session, organization_id=operator_id(request), principal=principal, storage=storage, image=image
    )
    return AvatarUploaded(avatar_url=people.AVATAR_PATH.format(user_id=person.user_id, size="large"))


@router.post(
    "/me/verify-identity",
    status_code=status.HTTP_201_CREATED,
    responses=FILE_PROBLEMS,
    summary="Ask for identity verification with a document (PDF, JPEG or PNG, 10 MB)",
)
async def verify_identity(
    *,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    document: Annotated[UploadFile, File()],
    document_type: Annotated[DocumentType, Form()] = "national_id",
) -> VerificationRead:
    found = await people.request_verification(
        session,
        organization_id=operator_id(request),
        principal=principal,
        storage=storage,
        document=await document.read(people.MAX_DOCUMENT_BYTES + 1),
        document_type=document_type,
    )
    return verification_read(found)
