"""Bodies of the rentals API (Pydantic v2): inputs forbid unknown fields and carry their limits, so bad input is a
422 naming the field; meaning across fields (dates in order, a price range) is checked by the services."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

PropertyType = Literal["house", "apartment", "studio", "room", "villa", "shop", "office", "hotel", "land"]
RentalTypeName = Literal["short_term", "long_term"]
PropertyStatusName = Literal["draft", "published", "rented", "inactive"]
SortName = Literal["newest", "oldest", "price_asc", "price_desc", "featured"]

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=255)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Amenity = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Amount = Annotated[int, Field(ge=0, le=10**13, description="Integer minor units of the currency")]


class _PropertyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: LongText | None = None
    neighborhood: ShortText | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    bedrooms: Annotated[int, Field(ge=0, le=100)] | None = None
    bathrooms: Annotated[int, Field(ge=0, le=100)] | None = None
    surface_area: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    rules: LongText | None = None
    available_from: date | None = None
    available_to: date | None = None
    minimum_stay: Annotated[int, Field(ge=1, le=3650)] | None = None


class PropertyCreate(_PropertyFields):
    title: Title
    property_type: PropertyType
    rental_type: RentalTypeName
    price: Annotated[int, Field(gt=0, le=10**13, description="Per night (short term) or per month (long term)")]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "XOF"
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
    city: ShortText
    is_furnished: bool = False
    amenities: Annotated[list[Amenity], Field(max_length=50)] = []
    deposit_amount: Amount = 0
    status: Literal["draft", "published"] = "draft"

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class PropertyUpdate(_PropertyFields):
    title: Title | None = None
    property_type: PropertyType | None = None
    rental_type: RentalTypeName | None = None
    price: Annotated[int, Field(gt=0, le=10**13)] | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)] | None = None
    city: ShortText | None = None
    is_furnished: bool | None = None
    amenities: Annotated[list[Amenity], Field(max_length=50)] | None = None
    deposit_amount: Amount | None = None
    status: PropertyStatusName | None = None
    is_featured: bool | None = None  # the operator's admins only


class ImageRead(BaseModel):
    id: uuid.UUID
    is_primary: bool
    order_index: int
    width: int
    height: int
    urls: dict[str, str]  # thumb, medium, large


class PropertyRead(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str | None
    property_type: str
    rental_type: str
    price: int
    currency: str
    address: str
    city: str
    neighborhood: str | None
    latitude: float | None
    longitude: float | None
    bedrooms: int | None
    bathrooms: int | None
    surface_area: float | None
    is_furnished: bool
    amenities: list[str]
    rules: str | None
    status: str
    available_from: date | None
    available_to: date | None
    minimum_stay: int | None
    deposit_amount: int
    is_featured: bool
    views_count: int
    created_at: datetime
    updated_at: datetime
    images: list[ImageRead] = []
    distance_km: float | None = None
    owner_verified: bool = False  # the landlord's identity was verified by an admin (rentals.people)
    suspended_at: datetime | None = None  # moderation (rentals.admin): shown to the landlord with its reason
    suspension_reason: str | None = None


class PropertyPage(BaseModel):
    items: list[PropertyRead]
    next_cursor: str | None = None


class ImageOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: Annotated[list[uuid.UUID], Field(min_length=1, max_length=200)]
    primary_id: uuid.UUID | None = None


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    property_id: uuid.UUID
    start_date: date
    end_date: date
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class BookingAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class BookingRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    tenant_id: uuid.UUID
    landlord_id: uuid.UUID
    start_date: date
    end_date: date
    nights: int
    currency: str
    total_amount: int
    deposit_amount: int
    rent_paid: int
    deposit_paid: int
    status: str
    message: str | None
    cancellation_reason: str | None
    answer_by: datetime
    pay_by: datetime | None
    confirmed_at: datetime | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    deposit_state: str
    deposit_deduction: int
    deposit_deduction_reason: str | None
    created_at: datetime
    updated_at: datetime


class BookingPage(BaseModel):
    items: list[BookingRead]
    next_cursor: str | None = None


class BusyRange(BaseModel):
    start_date: date
    end_date: date  # exclusive: the departure day is free for the next arrival
    status: str


class Availability(BaseModel):
    property_id: uuid.UUID
    available_from: date | None
    available_to: date | None
    minimum_stay: int | None
    busy: list[BusyRange]


class BookingPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20)]


class PaymentRead(BaseModel):
    id: uuid.UUID
    purpose: str | None
    status: str
    amount: int
    currency: str
    provider: str
    created_at: datetime


class DepositDeduction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deduction: Annotated[int, Field(ge=0, le=10**13)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class DeductionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Literal["accept", "dispute"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class BalanceRead(BaseModel):
    account_id: uuid.UUID
    currency: str
    available: int


class LandlordPayout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "XOF"
    amount: Annotated[int, Field(gt=0, le=10**13)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20)] | None = None


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    booking_id: uuid.UUID
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None


class ReviewRead(BaseModel):
    id: uuid.UUID
    booking_id: uuid.UUID | None
    property_id: uuid.UUID | None
    service_request_id: uuid.UUID | None = None
    author_id: uuid.UUID
    subject_id: uuid.UUID
    side: str
    rating: int
    comment: str | None
    created_at: datetime
    published_at: datetime | None


class PropertyReviews(BaseModel):
    property_id: uuid.UUID
    rating: float | None
    count: int
    items: list[ReviewRead]


# Messaging

MessageText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class MessageCreate(BaseModel):
    """A message about a listing (``property_id``) or a booking (``booking_id``), to its landlord by default; or
    about a service request (``service_request_id``) between its requester and a provider who quoted."""

    model_config = ConfigDict(extra="forbid")

    content: MessageText
    recipient_id: uuid.UUID | None = None
    property_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None
    service_request_id: uuid.UUID | None = None


class MessageReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: MessageText


class MessageRead(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    receiver_id: uuid.UUID
    content: str
    created_at: datetime
    read_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None = None


class ConversationRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID | None
    service_request_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None
    other_user_id: uuid.UUID
    last_message_at: datetime
    unread: int
    last_message: MessageRead | None


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None = None


class ReadReceipt(BaseModel):
    marked: int  # messages marked read by this call
    unread: int  # what the caller has left unread, in every conversation


class UnreadCount(BaseModel):
    unread: int


# Calendars (iCal)


class CalendarImportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=10, max_length=2000, pattern=r"(?i)^(https?|webcal)://\S+$"
        ),
    ]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = "Calendrier externe"


class CalendarImportRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    name: str
    url: str
    status: str  # pending, synced, failed
    last_error: str | None
    last_attempt_at: datetime | None
    last_synced_at: datetime | None
    blocks: int
    conflicts: list[dict[str, str]]


class CalendarExport(BaseModel):
    url: str  # shown once: only a digest of its token is kept
    created_at: datetime


class CalendarSettings(BaseModel):
    property_id: uuid.UUID
    export_enabled: bool
    export_created_at: datetime | None
    imports: list[CalendarImportRead]


# Long-term leases


class LeaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    property_id: uuid.UUID
    tenant_id: uuid.UUID
    monthly_rent: Annotated[int, Field(gt=0, le=10**13, description="Integer minor units of the currency")]
    due_day: Annotated[int, Field(ge=1, le=28)] = 5
    start_date: date
    end_date: date | None = None
    late_fee_fixed: Amount = 0
    late_fee_bps: Annotated[int, Field(ge=0, le=5000, description="Share of the month's rent, basis points")] = 0
    grace_days: Annotated[int, Field(ge=0, le=27)] = 5


class LeaseEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: date


class LeaseRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    landlord_id: uuid.UUID
    tenant_id: uuid.UUID
    currency: str
    monthly_rent: int
    due_day: int
    start_date: date
    end_date: date | None
    late_fee_fixed: int
    late_fee_bps: int
    grace_days: int
    status: str
    created_at: datetime


class LeasePage(BaseModel):
    items: list[LeaseRead]
    next_cursor: str | None = None


class RentCallRead(BaseModel):
    id: uuid.UUID
    lease_id: uuid.UUID
    period: date
    due_date: date
    currency: str
    rent: int
    carried: int
    late_fee: int
    amount_due: int
    paid: int
    balance: int
    status: str  # open, partial, paid, carried
    reminded_at: datetime | None
    late_fee_at: datetime | None
    paid_at: datetime | None


class RentPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=20)]
    amount: Annotated[int, Field(gt=0, le=10**13)] | None = None  # default: everything owed


# --- The services marketplace -------------------------------------------------------------------------------------

ServiceCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
UrgencyName = Literal["low", "normal", "high", "urgent"]


class ServiceCategoryRead(BaseModel):
    code: str
    name_fr: str
    name_en: str


class ProviderProfileWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = None
    bio: LongText | None = None
    services: Annotated[list[ServiceCode], Field(min_length=1, max_length=20)]
    areas: Annotated[list[City], Field(min_length=1, max_length=30)]
    hourly_rate: Amount | None = None
    currency: Currency = "XOF"


class ProviderRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    company_name: str | None
    bio: str | None
    services: list[str]
    areas: list[str]
    hourly_rate: int | None
    currency: str
    is_verified: bool
    rating: float | None
    reviews_count: int
    total_jobs: int
    created_at: datetime


class ProviderPage(BaseModel):
    items: list[ProviderRead]
    next_cursor: str | None = None


class ProviderVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verified: bool = True


class ServiceRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: ServiceCode
    property_id: uuid.UUID | None = None
    title: Title
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=10_000)]
    urgency: UrgencyName = "normal"
    city: City | None = None  # default: the property's city
    wanted_date: date | None = None


class ServiceRequestRead(BaseModel):
    id: uuid.UUID
    requester_id: uuid.UUID
    service: str = Field(validation_alias="service_code")
    property_id: uuid.UUID | None
    title: str
    description: str
    urgency: str
    city: str
    wanted_date: date | None
    status: str
    accepted_quote_id: uuid.UUID | None
    provider_id: uuid.UUID | None
    currency: str | None
    amount: int
    paid_amount: int
    done_at: datetime | None
    confirm_by: datetime | None
    completed_at: datetime | None
    cancellation_reason: str | None
    dispute_reason: str | None = None
    refunded_amount: int = 0
    created_at: datetime


class ServiceRequestPage(BaseModel):
    items: list[ServiceRequestRead]
    next_cursor: str | None = None


class QuoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[int, Field(gt=0, le=10**13, description="Integer minor units of the currency")]
    currency: Currency = "XOF"
    message: LongText | None = None
    valid_until: AwareDatetime | None = None


class QuoteRead(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    provider_id: uuid.UUID
    amount: int
    currency: str
    message: str | None
    valid_until: datetime | None
    status: str
    created_at: datetime


class JobDispute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class DisputeResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refund: Annotated[int, Field(ge=0, le=10**13, description="Given back to the requester, minor units")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class JobReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None


class ProviderReviews(BaseModel):
    provider_id: uuid.UUID
    rating: float | None
    count: int
    items: list[ReviewRead]
