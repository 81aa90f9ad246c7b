"""Reviews, double-blind: only after a completed stay or service job, one per booking (or job) and side, rating
1 to 5.

Neither side sees the other's review before writing their own: both are published together when the second one
is written, or 14 days after the stay ended or the job was completed (``rentals.publish_reviews``). A listing's
rating is the average of its published reviews by tenants; a provider's (kept on their profile) the average of
their published reviews by requesters.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import Conflict
from cauri.core.principal import Principal
from cauri.rentals.bookings import get_booking
from cauri.rentals.errors import NotAllowed
from cauri.rentals.models import Booking, BookingStatus, Review, ServiceProvider, ServiceRequestStatus
from cauri.rentals.services import get_request

REVEAL_AFTER: Final = timedelta(days=14)


class StayNotCompleted(Conflict):
    code = "rental_stay_not_completed"
    message_fr = "Un avis ne se donne qu'après un séjour terminé."
    message_en = "A review can only follow a completed stay."

    def __init__(self) -> None:
        super().__init__(field="booking_id")


class AlreadyReviewed(Conflict):
    code = "rental_already_reviewed"
    message_fr = "Vous avez déjà donné votre avis."
    message_en = "You have already given your review."

    def __init__(self, field: str = "booking_id") -> None:
        super().__init__(field=field)


class JobNotCompleted(Conflict):
    code = "rental_job_not_completed"
    message_fr = "Un avis ne se donne qu'après un service terminé."
    message_en = "A review can only follow a completed job."

    def __init__(self) -> None:
        super().__init__(field="request_id")


async def write_review(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    booking_id: uuid.UUID,
    rating: int,
    comment: str | None,
    now: datetime | None = None,
) -> Review:
    booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal, for_update=True
    )
    author = principal.person_id
    if author == booking.tenant_id:
        side, subject = "tenant", booking.landlord_id
    elif author == booking.landlord_id:
        side, subject = "landlord", booking.tenant_id
    else:
        raise NotAllowed(
            "Seuls le locataire et le propriétaire donnent leur avis.",
            "Only the tenant and the landlord review a stay.",
        )
    if booking.status != BookingStatus.COMPLETED or booking.checked_out_at is None:
        raise StayNotCompleted()
    now = now or utcnow()
    review = Review(
        organization_id=organization_id,
        booking_id=booking.id,
        property_id=booking.property_id,
        author_id=author,
        subject_id=subject,
        side=side,
        rating=rating,
        comment=comment,
        created_at=now,
        publish_after=booking.checked_out_at + REVEAL_AFTER,
        published_at=None,
    )
    return await _double_blind(
        session, select(Review).where(Review.booking_id == booking.id), review, now=now, field="booking_id"
    )


async def write_job_review(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    request_id: uuid.UUID,
    rating: int,
    comment: str | None,
    now: datetime | None = None,
) -> Review:
    """The requester reviews the provider, the provider the requester, after the job was completed."""
    job = await get_request(
        session, organization_id=organization_id, principal=principal, request_id=request_id, for_update=True
    )
    author = principal.person_id
    if author == job.requester_id and job.provider_id is not None:
        side, subject = "requester", job.provider_id
    elif author is not None and author == job.provider_id:
        side, subject = "provider", job.requester_id
    else:
        raise NotAllowed(
            "Seuls le demandeur et le prestataire donnent leur avis.",
            "Only the requester and the provider review a job.",
        )
    if job.status != ServiceRequestStatus.COMPLETED or job.completed_at is None:
        raise JobNotCompleted()
    now = now or utcnow()
    review = Review(
        organization_id=organization_id,
        service_request_id=job.id,
        property_id=job.property_id,
        author_id=author,
        subject_id=subject,
        side=side,
        rating=rating,
        comment=comment,
        created_at=now,
        publish_after=job.completed_at + REVEAL_AFTER,
        published_at=None,
    )
    return await _double_blind(
        session, select(Review).where(Review.service_request_id == job.id), review, now=now, field="request_id"
    )


async def _double_blind(
    session: AsyncSession, same_subject: Select[Review], review: Review, *, now: datetime, field: str
) -> Review:
    """Record ``review`` next to the other side's of the same stay or job (``same_subject``): once per author;
    when the other side already wrote, both are revealed at once."""
    existing = await session.execute(same_subject.with_for_update())
    reviews = list(existing.scalars())
    if any(r.author_id == review.author_id for r in reviews):
        raise AlreadyReviewed(field)
    session.add(review)
    if reviews:  # the other side already wrote: both are revealed at once
        review.published_at = now
        for other in reviews:
            other.published_at = other.published_at or now
    await session.flush()
    for revealed in (review, *reviews):
        if revealed.side == "requester":
            await refresh_provider_rating(session, revealed.organization_id, revealed.subject_id)
    return review


async def reviews_of_booking(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, booking_id: uuid.UUID
) -> list[Review]:
    """The caller's own review, and the other side's once published."""
    booking: Booking = await get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=principal
    )
    rows = await session.execute(select(Review).where(Review.booking_id == booking.id).order_by(Review.created_at))
    return [r for r in rows.scalars() if r.author_id == principal.person_id or r.published_at is not None]


async def reviews_of_job(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, request_id: uuid.UUID
) -> list[Review]:
    """The caller's own review of a job, and the other side's once published."""
    job = await get_request(session, organization_id=organization_id, principal=principal, request_id=request_id)
    rows = await session.execute(select(Review).where(Review.service_request_id == job.id).order_by(Review.created_at))
    return [r for r in rows.scalars() if r.author_id == principal.person_id or r.published_at is not None]


def _provider_reviews(organization_id: uuid.UUID, provider_id: uuid.UUID) -> Select[Review]:
    return select(Review).where(
        Review.organization_id == organization_id,
        Review.subject_id == provider_id,
        Review.side == "requester",
        Review.published_at.is_not(None),
    )


async def provider_reviews(
    session: AsyncSession, *, organization_id: uuid.UUID, provider_id: uuid.UUID, limit: int = 100
) -> list[Review]:
    """A provider's (person's) published reviews by requesters, newest first."""
    rows = await session.execute(
        _provider_reviews(organization_id, provider_id).order_by(Review.published_at.desc()).limit(limit)
    )
    return list(rows.scalars())


async def refresh_provider_rating(session: AsyncSession, organization_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    """The rating kept on a provider's profile: the average of their published reviews by requesters."""
    reviews = _provider_reviews(organization_id, provider_id).subquery()
    row = (await session.execute(select(func.avg(reviews.c.rating), func.count()).select_from(reviews))).one()
    await session.execute(
        update(ServiceProvider)
        .where(ServiceProvider.organization_id == organization_id, ServiceProvider.user_id == provider_id)
        .values(rating=round(float(row[0]), 2) if row[0] is not None else None, reviews_count=int(row[1]))
        .execution_options(synchronize_session=False)
    )


async def published_reviews(session: AsyncSession, *, property_id: uuid.UUID, limit: int = 100) -> list[Review]:
    rows = await session.execute(
        select(Review)
        .where(
            Review.property_id == property_id,
            Review.side == "tenant",
            Review.published_at.is_not(None),
            Review.hidden_at.is_(None),  # hidden by moderation (rentals.admin)
        )
        .order_by(Review.published_at.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def rating_of(session: AsyncSession, property_id: uuid.UUID) -> tuple[float | None, int]:
    row = (
        await session.execute(
            select(func.avg(Review.rating), func.count()).where(
                Review.property_id == property_id,
                Review.side == "tenant",
                Review.published_at.is_not(None),
                Review.hidden_at.is_(None),
            )
        )
    ).one()
    return (round(float(row[0]), 2) if row[0] is not None else None), int(row[1])


async def publish_due(session: AsyncSession, *, now: datetime) -> int:
    due = (Review.published_at.is_(None), Review.publish_after <= now)
    # The providers whose rating changes with this publication, read before the reviews are marked published.
    providers = (
        await session.execute(
            select(Review.organization_id, Review.subject_id).where(*due, Review.side == "requester").distinct()
        )
    ).all()
    result = await session.execute(
        update(Review).where(*due).values(published_at=now).execution_options(synchronize_session=False)
    )
    for organization_id, provider_id in providers:
        await refresh_provider_rating(session, organization_id, provider_id)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
