"""What every rentals route file shares: the marketplace a caller acts in, paging, and the read shapes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header

from cauri.core.deps import OptionalPrincipal
from cauri.core.errors import field_error
from cauri.core.pagination import PageParams, page_params
from cauri.core.principal import CurrentPrincipal
from cauri.core.routing import SessionDep
from cauri.payments.public import PaymentView
from cauri.rentals import people, properties
from cauri.rentals.access import marketplace_of
from cauri.rentals.models import Booking, Property
from cauri.rentals.schemas import BookingRead, PaymentRead, PropertyRead

Paging = Annotated[PageParams, Depends(page_params)]


async def marketplace(
    principal: OptionalPrincipal,
    x_organization_id: Annotated[
        uuid.UUID | None, Header(description="The marketplace (operator organisation), for anonymous callers")
    ] = None,
) -> uuid.UUID:
    """A logged-in member's organisation, or the one an anonymous caller names."""
    if principal is not None and principal.organization_id is not None:
        return principal.organization_id
    if x_organization_id is None:
        raise field_error(
            "X-Organization-ID",
            "missing",
            "Indiquez la place de marché dans l'en-tête X-Organization-ID.",
            "Name the marketplace in the X-Organization-ID header.",
        )
    return x_organization_id


async def member_marketplace(principal: CurrentPrincipal) -> uuid.UUID:
    """The logged-in member's marketplace (their organisation)."""
    return marketplace_of(principal)


Marketplace = Annotated[uuid.UUID, Depends(marketplace)]
MemberMarketplace = Annotated[uuid.UUID, Depends(member_marketplace)]


async def property_reads(
    session: SessionDep, props: list[Property], distances: list[float] | None = None
) -> list[PropertyRead]:
    images = await properties.images_of(session, [p.id for p in props])
    verified = await people.verified_among(session, {(p.organization_id, p.owner_id) for p in props})
    return [
        properties.property_read(
            p,
            images[p.id],
            None if distances is None else round(distances[n], 3),
            owner_verified=(p.organization_id, p.owner_id) in verified,
        )
        for n, p in enumerate(props)
    ]


def booking_read(booking: Booking) -> BookingRead:
    return BookingRead.model_validate(booking, from_attributes=True)


def payment_read(view: PaymentView) -> PaymentRead:
    return PaymentRead(
        id=view.id,
        purpose=view.purpose,
        status=view.status,
        amount=view.amount,
        currency=view.currency,
        provider=view.provider,
        created_at=view.created_at,
    )
