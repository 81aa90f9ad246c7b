"""Tables of the rentals marketplace: listings, their images, favourites, bookings, reviews and messages.

Money is in integer minor units of the listing's currency. Every row carries the operator organisation
(``organization_id``): the marketplace is one organisation, its tenants, landlords and providers are its members.

No double booking: a booking that *holds* its dates (``pending`` or ``confirmed``) excludes any other holding
booking of the same listing on overlapping nights. PostgreSQL enforces it with an exclusion constraint
(``rental_bookings_no_overlap``, created by migration 0016, btree_gist); SQLite with a guarded write under its
single writer (:mod:`cauri.rentals.bookings`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow


class PropertyStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RENTED = "rented"
    INACTIVE = "inactive"


class RentalType(StrEnum):
    SHORT_TERM = "short_term"  # price per night
    LONG_TERM = "long_term"  # price per month


class BookingStatus(StrEnum):
    PENDING = "pending"  # requested, waiting for the landlord; holds the dates
    CONFIRMED = "confirmed"  # accepted by the landlord; holds the dates
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"  # the landlord did not answer in time
    EXPIRED = "expired"  # accepted but not paid in time
    COMPLETED = "completed"
    BLOCKED = "blocked"  # nights taken in another calendar (an imported iCal feed); holds the dates


HOLDING_STATUSES: tuple[str, ...] = (
    BookingStatus.PENDING.value,
    BookingStatus.CONFIRMED.value,
    BookingStatus.BLOCKED.value,
)
# What a listing's own calendar feed exports: its bookings, not the blocks it imported (no echo between platforms).
EXPORTED_STATUSES: tuple[str, ...] = (BookingStatus.PENDING.value, BookingStatus.CONFIRMED.value)


class Property(IdMixin, TimestampMixin, Base):
    __tablename__ = "rental_properties"
    __table_args__ = (
        Index("ix_rental_properties_search", "organization_id", "status", "city"),
        Index("ix_rental_properties_geo", "latitude", "longitude"),
        Index("ix_rental_properties_owner", "owner_id"),
        Index("ix_rental_properties_listing", "organization_id", "status", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID]
    owner_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    property_type: Mapped[str] = mapped_column(String(50))
    rental_type: Mapped[str] = mapped_column(String(20))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    address: Mapped[str] = mapped_column(Text)
    city: Mapped[str] = mapped_column(String(100))
    neighborhood: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    bedrooms: Mapped[int | None] = mapped_column(Integer)
    bathrooms: Mapped[int | None] = mapped_column(Integer)
    surface_area: Mapped[float | None] = mapped_column(Float)
    is_furnished: Mapped[bool] = mapped_column(Boolean, default=False)
    amenities: Mapped[list[str]] = mapped_column(JSON, default=list)
    rules: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=PropertyStatus.DRAFT.value)
    available_from: Mapped[date | None] = mapped_column(Date)
    available_to: Mapped[date | None] = mapped_column(Date)
    minimum_stay: Mapped[int | None] = mapped_column(Integer)
    deposit_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    views_count: Mapped[int] = mapped_column(Integer, default=0)
    commission_bps: Mapped[int] = mapped_column(Integer, default=1000)  # the platform's share, basis points
    # Moderation (rentals.admin): a suspended listing is inactive, its landlord sees why and cannot republish it.
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    status_before_suspension: Mapped[str | None] = mapped_column(String(20))


class PropertyImage(IdMixin, Base):
    __tablename__ = "rental_property_images"
    __table_args__ = (Index("ix_rental_property_images_property", "property_id", "order_index"),)

    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id", ondelete="CASCADE"))
    # Storage keys of the seed's three sizes (thumb 150×150, medium 600×400, large 1200×800), all JPEG.
    thumb_key: Mapped[str] = mapped_column(String(512))
    medium_key: Mapped[str] = mapped_column(String(512))
    large_key: Mapped[str] = mapped_column(String(512))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    order_index: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Favorite(IdMixin, Base):
    __tablename__ = "rental_favorites"
    __table_args__ = (UniqueConstraint("user_id", "property_id", name="uq_rental_favorites_user_property"),)

    organization_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Booking(IdMixin, TimestampMixin, Base):
    __tablename__ = "rental_bookings"
    __table_args__ = (
        Index("ix_rental_bookings_property_dates", "property_id", "start_date", "end_date"),
        Index("ix_rental_bookings_tenant", "tenant_id", "created_at"),
        Index("ix_rental_bookings_landlord", "landlord_id", "created_at"),
        Index("ix_rental_bookings_status", "status"),
        # Platform statistics by month (rentals.admin): the marketplace's bookings in creation order.
        Index("ix_rental_bookings_org_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id"))
    tenant_id: Mapped[uuid.UUID]
    landlord_id: Mapped[uuid.UUID]  # the listing's owner when it was requested
    start_date: Mapped[date] = mapped_column(Date)  # first night
    end_date: Mapped[date] = mapped_column(Date)  # departure day (not a night)
    nights: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)  # the rent
    deposit_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    rent_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default=BookingStatus.PENDING.value)
    message: Mapped[str | None] = mapped_column(Text)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    answer_by: Mapped[datetime]  # a pending request lapses after this
    pay_by: Mapped[datetime | None]  # a confirmed, unpaid booking expires after this
    confirmed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    # Escrow of the deposit and its outcome at the end of the stay.
    deposit_state: Mapped[str] = mapped_column(String(20), default="none")  # none, held, released, returned
    deposit_deduction: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_deduction_reason: Mapped[str | None] = mapped_column(Text)
    rent_released: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A block imported from another calendar: its import and the event's UID there (None for real bookings).
    calendar_import_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    external_uid: Mapped[str | None] = mapped_column(String(255))


class Review(IdMixin, Base):
    """One review per booking (or service job) and side, double-blind: hidden until both sides wrote, or 14 days
    after the stay ended or the job was completed (``published_at``). A stay: the tenant reviews the stay, the
    landlord the guest. A job (``service_request_id``, migration 0021): the requester reviews the provider, the
    provider the requester."""

    __tablename__ = "rental_reviews"
    __table_args__ = (
        UniqueConstraint("booking_id", "author_id", name="uq_rental_reviews_booking_author"),
        UniqueConstraint("service_request_id", "author_id", name="uq_rental_reviews_request_author"),
        Index("ix_rental_reviews_property", "property_id", "published_at"),
        Index("ix_rental_reviews_subject", "subject_id", "published_at"),
    )

    organization_id: Mapped[uuid.UUID]
    booking_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_bookings.id"))
    property_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_properties.id"))
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_service_requests.id"))
    author_id: Mapped[uuid.UUID]
    subject_id: Mapped[uuid.UUID]  # the person reviewed (landlord, tenant, provider or requester)
    # "tenant" (reviews the stay), "landlord" (the guest), "requester" (the provider), "provider" (the requester)
    side: Mapped[str] = mapped_column(String(10))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    publish_after: Mapped[datetime]
    published_at: Mapped[datetime | None]
    # Moderation (rentals.admin): a hidden review counts nowhere; the reason and the admin are kept.
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by: Mapped[uuid.UUID | None]


class Conversation(IdMixin, TimestampMixin, Base):
    """Two people of the marketplace talking about one listing, or about one service request (then
    ``property_id`` is None, migration 0021). The pair is stored in a fixed order (``first_user_id`` <
    ``second_user_id`` as strings) so a pair and a listing (or a request) make one conversation."""

    __tablename__ = "rental_conversations"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "first_user_id", "second_user_id", "property_id", name="uq_rental_conversations_pair"
        ),
        UniqueConstraint(
            "organization_id",
            "first_user_id",
            "second_user_id",
            "service_request_id",
            name="uq_rental_conversations_request",
        ),
        Index("ix_rental_conversations_first", "first_user_id", "last_message_at"),
        Index("ix_rental_conversations_second", "second_user_id", "last_message_at"),
    )

    organization_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_properties.id"))
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_service_requests.id"))
    booking_id: Mapped[uuid.UUID | None]  # the booking (or request) that lets them talk, the latest one
    first_user_id: Mapped[uuid.UUID]
    second_user_id: Mapped[uuid.UUID]
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(IdMixin, Base):
    __tablename__ = "rental_messages"
    __table_args__ = (
        Index("ix_rental_messages_conversation", "conversation_id", "created_at", "id"),
        Index("ix_rental_messages_unread", "receiver_id", "read_at"),
    )

    organization_id: Mapped[uuid.UUID]
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_conversations.id", ondelete="CASCADE"))
    sender_id: Mapped[uuid.UUID]
    receiver_id: Mapped[uuid.UUID]
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]  # the read receipt


class CalendarFeed(IdMixin, Base):
    """A listing's exported iCal feed: the URL's token is shown once, only its keyed digest is kept."""

    __tablename__ = "rental_calendar_feeds"

    organization_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id", ondelete="CASCADE"), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarImport(IdMixin, TimestampMixin, Base):
    """An external calendar (Airbnb, Booking…) whose events block a listing's nights, fetched by a job."""

    __tablename__ = "rental_calendar_imports"
    __table_args__ = (UniqueConstraint("property_id", "url", name="uq_rental_calendar_imports_property_url"),)

    organization_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, synced, failed
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    blocks: Mapped[int] = mapped_column(Integer, default=0)
    # Events that fell on nights already held by a booking here: not blocked, shown to the landlord.
    conflicts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class LeaseStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class RentCallStatus(StrEnum):
    OPEN = "open"  # nothing paid yet
    PARTIAL = "partial"  # part paid
    PAID = "paid"  # nothing left to pay (a receipt can be issued)
    CARRIED = "carried"  # closed by the next month's call, which took over what was left to pay


class Lease(IdMixin, TimestampMixin, Base):
    """A long-term lease: a tenant rents a landlord's listing for a monthly rent due on ``due_day``."""

    __tablename__ = "rental_leases"
    __table_args__ = (
        Index("ix_rental_leases_tenant", "tenant_id", "created_at"),
        Index("ix_rental_leases_landlord", "landlord_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID]
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_properties.id"))
    landlord_id: Mapped[uuid.UUID]
    tenant_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(String(3))
    monthly_rent: Mapped[int] = mapped_column(BigInteger)
    due_day: Mapped[int] = mapped_column(Integer)  # 1..28: every month has it
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # Late fee, once per month when the rent is still not paid ``grace_days`` after it was due: a fixed amount plus
    # a share of the month's rent (basis points).
    late_fee_fixed: Mapped[int] = mapped_column(BigInteger, default=0)
    late_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    grace_days: Mapped[int] = mapped_column(Integer, default=5)
    commission_bps: Mapped[int] = mapped_column(Integer, default=1000)
    status: Mapped[str] = mapped_column(String(20), default=LeaseStatus.ACTIVE.value)
    payment_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # settled events, attempts


class RentCall(IdMixin, TimestampMixin, Base):
    """One month's rent call (appel de loyer): the rent, what the previous month left to pay, a late fee."""

    __tablename__ = "rental_rent_calls"
    __table_args__ = (
        UniqueConstraint("lease_id", "period", name="uq_rental_rent_calls_lease_period"),
        Index("ix_rental_rent_calls_status", "status", "due_date"),
    )

    organization_id: Mapped[uuid.UUID]
    lease_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_leases.id", ondelete="CASCADE"))
    period: Mapped[date] = mapped_column(Date)  # the first day of the month
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    rent: Mapped[int] = mapped_column(BigInteger)
    carried: Mapped[int] = mapped_column(BigInteger, default=0)  # brought forward (negative: a credit)
    late_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default=RentCallStatus.OPEN.value)
    reminded_at: Mapped[datetime | None]
    late_fee_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]

    @property
    def amount_due(self) -> int:
        return self.rent + self.carried + self.late_fee

    @property
    def balance(self) -> int:
        return self.amount_due - self.paid


class Profile(IdMixin, TimestampMixin, Base):
    """A member's public profile on the marketplace (rentals.people); ``verified_at`` is set when an admin approved
    an identity verification."""

    __tablename__ = "rental_profiles"
    __table_args__ = (UniqueConstraint("organization_id", "user_id", name="uq_rental_profiles_member"),)

    organization_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    display_name: Mapped[str | None] = mapped_column(String(100))
    bio: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(100))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    avatar_small_key: Mapped[str | None] = mapped_column(String(512))
    avatar_large_key: Mapped[str | None] = mapped_column(String(512))
    verified_at: Mapped[datetime | None]


class VerificationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class IdentityVerification(IdMixin, TimestampMixin, Base):
    """A member's request to be verified, with their identity document (stored, never served publicly)."""

    __tablename__ = "rental_identity_verifications"
    __table_args__ = (
        Index("ix_rental_identity_verifications_queue", "organization_id", "status", "created_at"),
        Index("ix_rental_identity_verifications_user", "user_id", "created_at"),
        # One request under review per member: two uploads at once make one (the other is a 409).
        Index(
            "uq_rental_identity_verifications_pending",
            "organization_id",
            "user_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    organization_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    document_type: Mapped[str] = mapped_column(String(30))
    document_key: Mapped[str] = mapped_column(String(512))
    document_media_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=VerificationStatus.PENDING.value)
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class ServiceRequestStatus(StrEnum):
    OPEN = "open"  # waiting for quotes
    ASSIGNED = "assigned"  # a quote accepted, waiting for the payment
    PAID = "paid"  # the price is in the job's escrow
    DONE = "done"  # the provider says the work is done; the requester confirms (or it auto-confirms) or disputes
    DISPUTED = "disputed"  # the requester contests the work; the operator decides what is refunded
    COMPLETED = "completed"  # confirmed: the provider was paid from escrow
    CANCELLED = "cancelled"


class QuoteStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # another quote was accepted, or the request was cancelled


class ServiceCategory(IdMixin, Base):
    """The services catalogue (plumbing, electricity, cleaning, moving…), seeded by migration 0021; shared by every
    marketplace."""

    __tablename__ = "rental_service_categories"

    code: Mapped[str] = mapped_column(String(50), unique=True)
    name_fr: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class ServiceProvider(IdMixin, TimestampMixin, Base):
    """A provider's public profile: the services they offer in which cities, their rate, verification, rating."""

    __tablename__ = "rental_service_providers"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id", name="uq_rental_service_providers_user"),
        Index("ix_rental_service_providers_listing", "organization_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    company_name: Mapped[str | None] = mapped_column(String(255))
    bio: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)  # catalogue codes
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)  # cities, as written by the provider
    hourly_rate: Mapped[int | None] = mapped_column(BigInteger)  # minor units of ``currency``
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[float | None] = mapped_column(Float)
    reviews_count: Mapped[int] = mapped_column(Integer, default=0)
    total_jobs: Mapped[int] = mapped_column(Integer, default=0)


class ProviderCoverage(IdMixin, Base):
    """One (service, city) a provider covers: what search and "requests I may quote" join on (a JSON list cannot be
    indexed the same way on both databases). ``city_key`` is the case-folded city."""

    __tablename__ = "rental_provider_coverage"
    __table_args__ = (
        UniqueConstraint("provider_id", "service_code", "city_key", name="uq_rental_provider_coverage"),
        Index("ix_rental_provider_coverage_match", "service_code", "city_key"),
    )

    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_service_providers.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(String(50))
    city_key: Mapped[str] = mapped_column(String(100))


class ServiceRequest(IdMixin, TimestampMixin, Base):
    """A tenant's or landlord's request for a service (about one of their properties or not), its accepted quote,
    and the job's money: the price collected into the job's escrow, released to the provider on completion."""

    __tablename__ = "rental_service_requests"
    __table_args__ = (
        Index("ix_rental_service_requests_requester", "requester_id", "created_at"),
        Index("ix_rental_service_requests_match", "organization_id", "service_code", "city_key", "status"),
        Index("ix_rental_service_requests_provider", "provider_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID]
    requester_id: Mapped[uuid.UUID]
    service_code: Mapped[str] = mapped_column(String(50))
    property_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rental_properties.id"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(20), default="normal")  # low, normal, high, urgent
    city: Mapped[str] = mapped_column(String(100))
    city_key: Mapped[str] = mapped_column(String(100))
    wanted_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=ServiceRequestStatus.OPEN.value)
    accepted_quote_id: Mapped[uuid.UUID | None]
    provider_id: Mapped[uuid.UUID | None]  # the person whose quote was accepted
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # the accepted quote's price
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    commission_bps: Mapped[int] = mapped_column(Integer, default=1000)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None]
    confirm_by: Mapped[datetime | None]  # a job marked done auto-confirms after this
    completed_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # given back by a dispute's resolution
    payment_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ServiceQuote(IdMixin, TimestampMixin, Base):
    """A provider's price for a request; one per provider and request."""

    __tablename__ = "rental_service_quotes"
    __table_args__ = (
        UniqueConstraint("request_id", "provider_id", name="uq_rental_service_quotes_provider"),
        Index("ix_rental_service_quotes_provider", "provider_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID]
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rental_service_requests.id", ondelete="CASCADE"))
    provider_id: Mapped[uuid.UUID]  # the provider (person) quoting
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    message: Mapped[str | None] = mapped_column(Text)
    valid_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=QuoteStatus.PENDING.value)


# Made by migration 0016 for one database only, so absent from these models (tests/core/test_schema.py skips them):
# SQLite's FTS5 index of listings (and its shadow tables), PostgreSQL's French full-text GIN index.
FTS_TABLE = "rental_properties_fts"
UNMANAGED = frozenset(
    {
        FTS_TABLE,
        *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config", "content")),
        *(f"{FTS_TABLE}_{op}" for op in ("insert", "update", "delete")),  # its triggers
        "ix_rental_properties_fulltext",
    }
)
Base.metadata.info.setdefault("unmanaged", set()).update(UNMANAGED)
