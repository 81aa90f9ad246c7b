"""People: public profiles of the marketplace's members, my profile and avatar, identity verification requests;
and the geocoder's autocomplete (``GET /rentals/geocode``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cauri.core.deps import StorageDep
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep, api_router
from cauri.rentals import people
from cauri.rentals.access import person_of
from cauri.rentals.geocoding import Place, geocoder
from cauri.rentals.images import MAX_IMAGE_BYTES, process_image
from cauri.rentals.routes.common import MemberMarketplace

router: APIRouter = api_router()
public_router: APIRouter = api_router()

# An upload can be too large (413) or not of an accepted kind by its bytes (415): problem+json naming the field.
FILE_PROBLEMS: dict[int | str, dict[str, Any]] = {413: {}, 415: {}}
DocumentType = Literal["national_id", "passport", "driving_licence", "residence_permit"]
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2}$")]


class PersonRead(BaseModel):
    user_id: uuid.UUID
    display_name: str
    bio: str | None
    city: str | None
    languages: list[str]
    user_type: str  # tenant, landlord, provider, or the operator's owner/admin
    member_since: datetime
    is_verified: bool
    rating: float | None  # average of the published reviews about this person; None without any
    reviews_count: int
    avatar_urls: dict[str, str] | None  # small (96×96), large (500×500)


class PersonUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=10)] | None = None


class VerificationRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    document_type: str
    status: str  # pending, approved, rejected
    reason: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime


class PlaceRead(BaseModel):
    name: str
    kind: str
    city: str
    country: str
    latitude: float
    longitude: float


class PlaceList(BaseModel):
    items: list[PlaceRead]


def person_read(found: people.Person) -> PersonRead:
    return PersonRead.model_validate(found, from_attributes=True)


def verification_read(found: object) -> VerificationRead:
    return VerificationRead.model_validate(found, from_attributes=True)


@router.get("/people/me", summary="My public profile, as the other members see it")
async def my_profile(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> PersonRead:
    me = person_of(principal)
    return person_read(await people.person(session, organization_id=organization_id, user_id=me))


@router.patch("/people/me", summary="Change my display name, bio, city or languages")
async def update_my_profile(
    body: PersonUpdate, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> PersonRead:
    found = await people.update_my_profile(
        session, organization_id=organization_id, principal=principal, changes=body.model_dump(exclude_unset=True)
    )
    return person_read(found)


@router.post(
    "/people/me/avatar",
    responses=FILE_PROBLEMS,
    summary=f"My profile picture (JPEG, PNG or WebP checked by content, {MAX_IMAGE_BYTES // 1_000_000} MB)",
)
async def upload_avatar(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    storage: StorageDep,
    file: Annotated[UploadFile, File(description="The picture")],
) -> PersonRead:
    data = await file.read(MAX_IMAGE_BYTES + 1)
    # The listing photos' pipeline: content check, bomb refusal, EXIF/GPS stripped, re-encoded at the avatar sizes.
    image = await asyncio.to_thread(process_image, data, field="file", sizes=people.AVATAR_SIZES)
    found = await people.set_avatar(
        session, organization_id=organization_id, principal=principal, storage=storage, image=image
    )
    return person_read(found)


@router.post(
    "/people/me/verification",
    status_code=status.HTTP_201_CREATED,
    responses=FILE_PROBLEMS,
    summary="Ask for identity verification with a document (PDF, JPEG or PNG, 10 MB)",
)
async def request_verification(
    *,
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    storage: StorageDep,
    document: Annotated[UploadFile, File(description="The identity document")],
    document_type: Annotated[DocumentType, Form()] = "national_id",
) -> VerificationRead:
    data = await document.read(people.MAX_DOCUMENT_BYTES + 1)
    found = await people.request_verification(
        session,
        organization_id=organization_id,
        principal=principal,
        storage=storage,
        document=data,
        document_type=document_type,
    )
    return verification_read(found)


@router.get("/people/me/verifications", summary="My verification requests and their decisions")
async def my_verifications(
    session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> list[VerificationRead]:
    found = await people.my_verifications(session, organization_id=organization_id, principal=principal)
    return [verification_read(v) for v in found]


@router.get("/people/{user_id}", summary="A member's public profile (never their e-mail or phone)")
async def public_profile(
    user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, organization_id: MemberMarketplace
) -> PersonRead:
    return person_read(await people.person(session, organization_id=organization_id, user_id=user_id))


@router.get(
    "/people/{user_id}/avatar/{size}",
    summary="A member's profile picture",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def avatar(
    *,
    user_id: uuid.UUID,
    size: Literal["small", "large"],
    session: SessionDep,
    principal: CurrentPrincipal,
    organization_id: MemberMarketplace,
    storage: StorageDep,
) -> Response:
    key = await people.avatar_key(session, organization_id=organization_id, user_id=user_id, size=size)
    return Response(await storage.get(key), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@public_router.get("/geocode", summary="Places matching what was typed (autocomplete), cities first")
async def geocode(
    q: Annotated[str, Query(min_length=2, max_length=100, description="What was typed: a city or a neighbourhood")],
    limit: Annotated[int, Query(ge=1, le=20)] = 10,
) -> PlaceList:
    found: list[Place] = await geocoder().suggest(q, limit=limit)
    return PlaceList(items=[PlaceRead.model_validate(p, from_attributes=True) for p in found])
