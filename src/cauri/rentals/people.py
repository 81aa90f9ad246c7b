"""People of the marketplace: public profiles, avatars and identity verification.

A profile is a member's face on the marketplace (display name, bio, city, languages), read by the other members
with what the platform knows of them: their role (the seed's ``user_type``), since when they are a member, the
``verified`` badge and the rating their published reviews give. E-mail and phone never show.

Identity verification: a member sends a document (PDF, JPEG or PNG, checked by its bytes, at most 10 MB), stored
through ``core`` storage under a random key and served to the marketplace's admins only. An admin approves or
rejects it with a reason; the maker is never the checker (an admin cannot decide their own request). The member is
told through ``notifications`` (in-app and e-mail, in their language), the decision is in the audit log, and an
approval sets the badge shown on the profile and on every listing of that person.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.core.storage import Storage, check_upload, new_key
from cauri.identity import organizations
from cauri.identity.audit import record_audit
from cauri.identity.errors import MemberNotFound
from cauri.rentals import notices
from cauri.rentals.access import is_admin, person_of
from cauri.rentals.errors import (
    AlreadyVerified,
    OwnRequest,
    ProfileNotFound,
    VerificationDecided,
    VerificationNotFound,
    VerificationPending,
    admins_only,
)
from cauri.rentals.images import ProcessedImage, store_renditions
from cauri.rentals.models import IdentityVerification, Profile, Review, VerificationStatus

DOCUMENT_TYPES: Final = frozenset({"application/pdf", "image/jpeg", "image/png"})
MAX_DOCUMENT_BYTES: Final = 10_000_000
# Avatars: the seed's 500×500 and a small one for lists and messages; made by the listing photos' pipeline.
AVATAR_SIZES: Final[dict[str, tuple[int, int]]] = {"small": (96, 96), "large": (500, 500)}
AVATAR_PATH: Final = "/api/v1/rentals/people/{user_id}/avatar/{size}"
_EXTENSIONS: Final = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


@dataclass(frozen=True, slots=True)
class Person:
    user_id: uuid.UUID
    display_name: str
    bio: str | None
    city: str | None
    languages: list[str]
    user_type: str
    member_since: datetime
    is_verified: bool
    rating: float | None
    reviews_count: int
    avatar_urls: dict[str, str] | None


def require_admin(principal: Principal) -> uuid.UUID:
    """An admin of the operator (owner or admin role, or a platform admin); answers the acting person."""
    if not is_admin(principal):
        raise admins_only()
    return person_of(principal)


async def _profile(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> Profile | None:
    statement = select(Profile).where(Profile.organization_id == organization_id, Profile.user_id == user_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def _own_profile(session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID) -> Profile:
    """The member's profile row, made on first change (a new member has none: defaults come from their account)."""
    profile = await _profile(session, organization_id, user_id)
    if profile is None:
        profile = Profile(organization_id=organization_id, user_id=user_id, languages=[])
        session.add(profile)
        await session.flush()
    return profile


async def rating_of_person(
    session: AsyncSession, organization_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[float | None, int]:
    """The average of the published, not hidden reviews of this person (as landlord or as guest)."""
    average, count = (
        await session.execute(
            select(func.avg(Review.rating), func.count()).where(
                Review.organization_id == organization_id,
                Review.subject_id == user_id,
                Review.published_at.is_not(None),
                Review.hidden_at.is_(None),
            )
        )
    ).one()
    return (round(float(average), 2) if average is not None else None), int(count)


async def verified_among(
    session: AsyncSession, members: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Which of these (marketplace, person) pairs are verified: one query for a page of listings."""
    pairs = list(members)
    if not pairs:
        return set()
    rows = await session.execute(
        select(Profile.organization_id, Profile.user_id).where(
            tuple_(Profile.organization_id, Profile.user_id).in_(pairs), Profile.verified_at.is_not(None)
        )
    )
    return {(row[0], row[1]) for row in rows}


async def person(session: AsyncSession, *, organization_id: uuid.UUID, user_id: uuid.UUID) -> Person:
    """A member's public profile; someone who is not a member of this marketplace is a 404."""
    try:
        membership, user = await organizations.member_by_user(session, organization_id, user_id)
    except MemberNotFound:
        raise ProfileNotFound() from None
    profile = await _profile(session, organization_id, user_id)
    rating, count = await rating_of_person(session, organization_id, user_id)
    has_avatar = profile is not None and profile.avatar_large_key is not None
    return Person(
        user_id=user.id,
        display_name=(profile.display_name if profile and profile.display_name else user.full_name),
        bio=profile.bio if profile else None,
        city=profile.city if profile else None,
        languages=list(profile.languages or []) if profile else [],
        user_type=membership.role,
        member_since=membership.created_at,
        is_verified=profile is not None and profile.verified_at is not None,
        rating=rating,
        reviews_count=count,
        avatar_urls={size: AVATAR_PATH.format(user_id=user.id, size=size) for size in AVATAR_SIZES}
        if has_avatar
        else None,
    )


async def update_my_profile(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, changes: dict[str, Any]
) -> Person:
    """Change the caller's display name, bio, city or languages (only the fields sent)."""
    me = person_of(principal)
    await person(session, organization_id=organization_id, user_id=me)  # a member of this marketplace
    profile = await _own_profile(session, organization_id, me)
    for name in ("display_name", "bio", "city", "languages"):
        if name in changes:
            setattr(profile, name, changes[name] if name != "languages" else list(changes[name] or []))
    profile.updated_at = utcnow()
    await session.flush()
    return await person(session, organization_id=organization_id, user_id=me)


async def set_avatar(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    storage: Storage,
    image: ProcessedImage,
) -> Person:
    """Store an avatar already checked and resized by rentals.images (``AVATAR_SIZES``) as the caller's."""
    me = person_of(principal)
    await person(session, organization_id=organization_id, user_id=me)
    keys = await store_renditions(storage, organization_id, image, namespace="rentals/avatars")
    profile = await _own_profile(session, organization_id, me)
    # The previous files stay: deleting them before this transaction commits could leave a profile pointing at
    # nothing if the commit failed. They are unreachable (random keys, no row names them).
    profile.avatar_small_key, profile.avatar_large_key = keys["small"], keys["large"]
    profile.updated_at = utcnow()
    await session.flush()
    return await person(session, organization_id=organization_id, user_id=me)


async def avatar_key(session: AsyncSession, *, organization_id: uuid.UUID, user_id: uuid.UUID, size: str) -> str:
    profile = await _profile(session, organization_id, user_id)
    key = None if profile is None else (profile.avatar_small_key if size == "small" else profile.avatar_large_key)
    if key is None:
        raise ProfileNotFound("Cette personne n'a pas de photo de profil.", "This person has no profile picture.")
    return key


# Identity verification


async def request_verification(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    storage: Storage,
    document: bytes,
    document_type: str,
) -> IdentityVerification:
    """File the caller's request with their document (checked by content before anything is stored)."""
    me = person_of(principal)
    await person(session, organization_id=organization_id, user_id=me)
    profile = await _profile(session, organization_id, me)
    if profile is not None and profile.verified_at is not None:
        raise AlreadyVerified()
    pending = await session.scalar(
        select(IdentityVerification.id).where(
            IdentityVerification.organization_id == organization_id,
            IdentityVerification.user_id == me,
            IdentityVerification.status == VerificationStatus.PENDING.value,
        )
    )
    if pending is not None:
        raise VerificationPending()
    media_type = check_upload(document, allowed=DOCUMENT_TYPES, max_bytes=MAX_DOCUMENT_BYTES, field="document")
    # Stored before the row: if the transaction then fails, an unreferenced file under a random key is left,
    # never a row pointing at a missing document. Never under a public path: only admins read it, through the API.
    stored = await storage.put(
        new_key("rentals/identity", organization_id, _EXTENSIONS[media_type]), document, content_type=media_type
    )
    verification = IdentityVerification(
        organization_id=organization_id,
        user_id=me,
        document_type=document_type,
        document_key=stored.key,
        document_media_type=media_type,
        status=VerificationStatus.PENDING.value,
    )
    session.add(verification)
    await session.flush()
    await record_audit(
        session,
        action="rental.identity_verification.requested",
        organization_id=organization_id,
        actor=principal,
        target_type="rental_identity_verification",
        target_id=str(verification.id),
        changes={"document_type": document_type},
    )
    return verification


async def my_verifications(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal
) -> list[IdentityVerification]:
    rows = await session.execute(
        select(IdentityVerification)
        .where(
            IdentityVerification.organization_id == organization_id,
            IdentityVerification.user_id == person_of(principal),
        )
        .order_by(IdentityVerification.created_at.desc())
    )
    return list(rows.scalars())


async def verification_queue(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    status: str | None,
    params: PageParams,
) -> tuple[list[IdentityVerification], str | None]:
    """The marketplace's requests (pending ones by default), newest first: the admins' queue."""
    require_admin(principal)
    statement = select(IdentityVerification).where(IdentityVerification.organization_id == organization_id)
    if status is not None:
        statement = statement.where(IdentityVerification.status == status)
    return await paginate(
        session, statement, params, created_at=IdentityVerification.created_at, row_id=IdentityVerification.id
    )


async def _verification(
    session: AsyncSession, organization_id: uuid.UUID, verification_id: uuid.UUID, *, for_update: bool = False
) -> IdentityVerification:
    statement = select(IdentityVerification).where(
        IdentityVerification.id == verification_id, IdentityVerification.organization_id == organization_id
    )
    if for_update:
        statement = statement.with_for_update()
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is None:
        raise VerificationNotFound()
    return found


async def verification_document(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, verification_id: uuid.UUID
) -> tuple[str, str]:
    """(storage key, media type) of a request's document: for the marketplace's admins only."""
    require_admin(principal)
    found = await _verification(session, organization_id, verification_id)
    return found.document_key, found.document_media_type


async def decide_verification(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    verification_id: uuid.UUID,
    approve: bool,
    reason: str | None,
) -> IdentityVerification:
    """An admin approves or rejects (with a reason) a pending request that is not their own."""
    checker = require_admin(principal)
    # Locked: two admins deciding at once, the second finds it decided (PostgreSQL; SQLite's writer is single).
    found = await _verification(session, organization_id, verification_id, for_update=True)
    if found.user_id == checker:
        raise OwnRequest()
    if found.status != VerificationStatus.PENDING.value:
        raise VerificationDecided(found.status)
    if not approve and not reason:
        raise field_error("reason", "missing", "Indiquez le motif du refus.", "Give the reason for the rejection.")
    now = utcnow()
    found.status = (VerificationStatus.APPROVED if approve else VerificationStatus.REJECTED).value
    found.reason, found.decided_by, found.decided_at, found.updated_at = reason, checker, now, now
    if approve:
        profile = await _own_profile(session, organization_id, found.user_id)
        profile.verified_at = profile.verified_at or now
        profile.updated_at = now
    await session.flush()
    await record_audit(
        session,
        action=f"rental.identity_verification.{found.status}",
        organization_id=organization_id,
        actor=principal,
        target_type="rental_identity_verification",
        target_id=str(found.id),
        changes={"user_id": str(found.user_id), "reason": reason},
    )
    await notices.identity_decided(session, found)
    return found
