"""The marketplace's administration (the operator's owners and admins, rentals.access): moderation of listings
and reviews, and the platform's statistics. The verification queue is in :mod:`cauri.rentals.people`.

Moderation keeps a trail: every suspension, reinstatement, hiding and restoring is an audit event (identity's
audit log, with the admin and the reason) and the current state is on the row, so the landlord sees why their
listing is suspended. A suspended listing is ``inactive``, so it leaves search, ``nearby``, the LokaHome surface
and booking at once, and its landlord cannot republish it (rentals.properties); reinstating brings back the status
it had. A hidden review counts in no rating and shows nowhere.

Statistics are SQL aggregates (``GROUP BY`` on indexed columns: ``ix_rental_properties_search`` for listings,
``ix_rental_bookings_org_created`` for months), the same answers on PostgreSQL and SQLite; the money figures come
from the ledger's accounts (``platform_fees``, ``landlord``), the one source of truth for money.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import Conflict
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.identity.audit import AuditEvent, record_audit
from cauri.identity.models import Membership
from cauri.ledger import service as ledger
from cauri.rentals import money, notices
from cauri.rentals.errors import PropertyNotFound, ReviewNotFound
from cauri.rentals.models import Booking, BookingStatus, Profile, Property, PropertyStatus, Review
from cauri.rentals.people import require_admin

REVIEW_TARGET = "rental_review"
LISTING_TARGET = "rental_property"


def _moderation_conflict(fr: str, en: str) -> Conflict:
    return Conflict(fr, en, code="rental_moderation_state")


# Listings


async def listing_queue(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    status: str | None,
    suspended: bool | None,
    params: PageParams,
) -> tuple[list[Property], str | None]:
    """Every listing of the marketplace, whatever its status, newest first; filtered by status or suspension."""
    require_admin(principal)
    statement = select(Property).where(Property.organization_id == organization_id)
    if status is not None:
        statement = statement.where(Property.status == status)
    if suspended is not None:
        statement = statement.where(
            Property.suspended_at.is_not(None) if suspended else Property.suspended_at.is_(None)
        )
    return await paginate(session, statement, params, created_at=Property.created_at, row_id=Property.id)


async def _listing(session: AsyncSession, organization_id: uuid.UUID, property_id: uuid.UUID) -> Property:
    prop = (
        await session.execute(
            select(Property)
            .where(Property.id == property_id, Property.organization_id == organization_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if prop is None:
        raise PropertyNotFound()
    return prop


async def suspend_listing(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, property_id: uuid.UUID, reason: str
) -> Property:
    require_admin(principal)
    prop = await _listing(session, organization_id, property_id)
    if prop.suspended_at is not None:
        raise _moderation_conflict("Ce logement est déjà suspendu.", "This listing is already suspended.")
    now = utcnow()
    prop.status_before_suspension = prop.status
    prop.status = PropertyStatus.INACTIVE.value
    prop.suspended_at, prop.suspension_reason, prop.updated_at = now, reason, now
    await session.flush()
    await _moderated(session, principal, prop, action="suspended", reason=reason, at=now)
    return prop


async def reinstate_listing(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, property_id: uuid.UUID, reason: str
) -> Property:
    require_admin(principal)
    prop = await _listing(session, organization_id, property_id)
    if prop.suspended_at is None:
        raise _moderation_conflict("Ce logement n'est pas suspendu.", "This listing is not suspended.")
    now = utcnow()
    prop.status = prop.status_before_suspension or PropertyStatus.DRAFT.value
    prop.suspended_at = prop.suspension_reason = prop.status_before_suspension = None
    prop.updated_at = now
    await session.flush()
    await _moderated(session, principal, prop, action="reinstated", reason=reason, at=now)
    return prop


async def _moderated(
    session: AsyncSession, principal: Principal, prop: Property, *, action: str, reason: str, at: datetime
) -> None:
    await record_audit(
        session,
        action=f"rental.listing.{action}",
        organization_id=prop.organization_id,
        actor=principal,
        target_type=LISTING_TARGET,
        target_id=str(prop.id),
        changes={"reason": reason, "status": prop.status},
    )
    await notices.listing_moderated(session, prop, action=action, reason=reason, at=at)


# Reviews


async def review_queue(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    principal: Principal,
    hidden: bool | None,
    params: PageParams,
) -> tuple[list[Review], str | None]:
    """Every review of the marketplace (published or not yet), newest first; filtered by hidden or not."""
    require_admin(principal)
    statement = select(Review).where(Review.organization_id == organization_id)
    if hidden is not None:
        statement = statement.where(Review.hidden_at.is_not(None) if hidden else Review.hidden_at.is_(None))
    return await paginate(session, statement, params, created_at=Review.created_at, row_id=Review.id)


async def _review(session: AsyncSession, organization_id: uuid.UUID, review_id: uuid.UUID) -> Review:
    review = (
        await session.execute(
            select(Review).where(Review.id == review_id, Review.organization_id == organization_id).with_for_update()
        )
    ).scalar_one_or_none()
    if review is None:
        raise ReviewNotFound()
    return review


async def hide_review(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, review_id: uuid.UUID, reason: str
) -> Review:
    admin = require_admin(principal)
    review = await _review(session, organization_id, review_id)
    if review.hidden_at is not None:
        raise _moderation_conflict("Cet avis est déjà masqué.", "This review is already hidden.")
    review.hidden_at, review.hidden_reason, review.hidden_by = utcnow(), reason, admin
    await session.flush()
    await _review_audit(session, principal, review, "hidden", reason)
    return review


async def restore_review(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, review_id: uuid.UUID, reason: str
) -> Review:
    require_admin(principal)
    review = await _review(session, organization_id, review_id)
    if review.hidden_at is None:
        raise _moderation_conflict("Cet avis n'est pas masqué.", "This review is not hidden.")
    review.hidden_at = review.hidden_reason = review.hidden_by = None
    await session.flush()
    await _review_audit(session, principal, review, "restored", reason)
    return review


async def _review_audit(session: AsyncSession, principal: Principal, review: Review, action: str, reason: str) -> None:
    await record_audit(
        session,
        action=f"rental.review.{action}",
        organization_id=review.organization_id,
        actor=principal,
        target_type=REVIEW_TARGET,
        target_id=str(review.id),
        changes={"reason": reason},
    )


async def moderation_trail(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, target_type: str, target_id: uuid.UUID
) -> list[AuditEvent]:
    """The audit events of one listing or review, oldest first: who did what, when, and why."""
    require_admin(principal)
    rows = await session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.organization_id == organization_id,
            AuditEvent.target_type == target_type,
            AuditEvent.target_id == str(target_id),
        )
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    return list(rows.scalars())


# Statistics


@dataclass
class Stats:
    listings: list[dict[str, Any]] = field(default_factory=list)  # {status, city, count}
    listings_by_status: dict[str, int] = field(default_factory=dict)
    bookings_by_month: list[dict[str, Any]] = field(default_factory=list)  # {month, currency, bookings, …}
    payouts: list[dict[str, Any]] = field(default_factory=list)  # per currency
    fees: list[dict[str, Any]] = field(default_factory=list)  # per currency
    users_by_role: dict[str, int] = field(default_factory=dict)
    verified_users: int = 0


def _month(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a UTC timestamp, on either database (same text on both)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


async def platform_stats(session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal) -> Stats:
    require_admin(principal)
    stats = Stats()
    listing_rows = await session.execute(
        select(Property.status, Property.city, func.count())
        .where(Property.organization_id == organization_id)
        .group_by(Property.status, Property.city)
        .order_by(Property.status, Property.city)
    )
    by_status: dict[str, int] = defaultdict(int)
    for status, city, count in listing_rows:
        stats.listings.append({"status": status, "city": city, "count": int(count)})
        by_status[status] += int(count)
    stats.listings_by_status = dict(by_status)

    month = _month(session, Booking.created_at).label("month")
    confirmed = Booking.status.in_((BookingStatus.CONFIRMED.value, BookingStatus.COMPLETED.value))
    booking_rows = await session.execute(
        select(
            month,
            Booking.currency,
            func.count(),
            func.count().filter(confirmed),
            func.coalesce(func.sum(Booking.rent_paid), 0),
        )
        # Blocks imported from other calendars are nights taken elsewhere, not bookings of this marketplace.
        .where(Booking.organization_id == organization_id, Booking.status != BookingStatus.BLOCKED.value)
        .group_by(month, Booking.currency)
        .order_by(month, Booking.currency)
    )
    stats.bookings_by_month = [
        {"month": m, "currency": c, "bookings": int(n), "confirmed": int(k), "gmv": int(g)}
        for m, c, n, k, g in booking_rows
    ]

    accounts = await ledger.list_accounts(session, organization_id=organization_id)
    payouts: dict[str, dict[str, int]] = defaultdict(lambda: {"released": 0, "paid_out": 0, "in_flight": 0})
    for account in accounts:
        if account.code == money.LANDLORD:
            line = payouts[account.currency]
            line["released"] += account.credits_posted
            line["paid_out"] += account.debits_posted
            line["in_flight"] += account.debits_pending
        elif account.code == money.PLATFORM_FEES:
            balance = ledger.Balance.of(account)
            stats.fees.append({"currency": account.currency, "earned": account.credits_posted, "net": balance.posted})
    stats.payouts = [{"currency": c, **v} for c, v in sorted(payouts.items())]
    stats.fees.sort(key=lambda line: str(line["currency"]))

    role_rows = await session.execute(
        select(Membership.role, func.count())
        .where(Membership.organization_id == organization_id)
        .group_by(Membership.role)
        .order_by(Membership.role)
    )
    stats.users_by_role = {role: int(count) for role, count in role_rows}
    stats.verified_users = int(
        await session.scalar(
            select(func.count()).where(Profile.organization_id == organization_id, Profile.verified_at.is_not(None))
        )
        or 0
    )
    return stats
