"""The reservation book's API shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, Field, SecretStr

from cauri.connectors.restaurant.base import AvailabilitySlot, ReservationStatus
from cauri.restaurant.models import BookedReservation, DiningService
from cauri.restaurant.schemas import Input


class ServiceWrite(Input):
    starts: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["12:00"])
    ends: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["14:30"])
    capacity: int = Field(ge=0, le=10_000)
    timezone: str = Field(default="Europe/Paris", max_length=60)


class ServiceRead(BaseModel):
    name: str
    starts: str
    ends: str
    capacity: int
    timezone: str

    @classmethod
    def of(cls, row: DiningService) -> ServiceRead:
        return cls(name=row.name, starts=row.starts, ends=row.ends, capacity=row.capacity, timezone=row.timezone)


class ReservationWrite(Input):
    party_size: int = Field(ge=1, le=200)
    starts_at: AwareDatetime
    guest_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)
    notes: str = Field(default="", max_length=2000)
    marketing_consent: bool = False


class ReservationStatusWrite(Input):
    status: ReservationStatus


class ReservationRead(BaseModel):
    id: uuid.UUID
    channel: str
    external_id: str
    service: str
    service_date: date
    starts_at: datetime
    party_size: int
    status: str
    refused: str | None
    guest_name: str
    marketing_consent: bool

    @classmethod
    def of(cls, row: BookedReservation) -> ReservationRead:
        return cls(
            id=row.id,
            channel=row.channel,
            external_id=row.external_id,
            service=row.service_name,
            service_date=row.service_date,
            starts_at=row.starts_at,
            party_size=row.party_size,
            status=row.status,
            refused=row.refused,
            guest_name=row.guest_name,
            marketing_consent=row.marketing_consent,
        )


class SlotRead(BaseModel):
    starts_at: datetime
    covers: int

    @classmethod
    def of(cls, slot: AvailabilitySlot) -> SlotRead:
        return cls(starts_at=slot.starts_at, covers=slot.covers)


class ChannelWrite(Input):
    """A booking channel's partner credentials (secrets write-only, encrypted at rest). ``base_url`` and
    ``auth_url`` default to the channel's production hosts."""

    restaurant_id: str = Field(min_length=1, max_length=100)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr
    webhook_secret: SecretStr
    base_url: str | None = Field(default=None, max_length=500, pattern="^https?://")
    auth_url: str | None = Field(default=None, max_length=500, pattern="^https?://")


class ChannelRead(BaseModel):
    name: str
    status: str
    webhook_url: str
    last_success_at: datetime | None
    last_error_code: str | None
