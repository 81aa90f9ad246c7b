"""Listings: create, read, change, publish, delete; their photos; favourites.

A published listing is public; a draft, rented or inactive one is seen only by its landlord and the operator's
admins (anyone else gets a 404, as for another organisation's object).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import field_error
from cauri.core.pagination import PageParams, paginate
from cauri.core.principal import Principal
from cauri.core.storage import Storage
from cauri.rentals.access import is_admin, person_of, require_landlord
from cauri.rentals.errors import ImageNotFound, ListingSuspended, NotAllowed, PropertyNotFound, dates_reversed
from cauri.rentals.geocoding import geocoder
from cauri.rentals.images import MAX_IMAGES_PER_UPLOAD, ProcessedImage, store_renditions
from cauri.rentals.models import Booking, Favorite, Property, PropertyImage, PropertyStatus
from cauri.rentals.schemas import ImageRead, PropertyCreate, PropertyRead, PropertyUpdate

MAX_IMAGES_PER_PROPERTY = 30
IMAGE_PATH = "/api/v1/rentals/images"


def image_read(image: PropertyImage) -> ImageRead:
    return ImageRead(
        id=image.id,
        is_primary=image.is_primary,
        order_index=image.order_index,
        width=image.width,
        height=image.height,
        urls={size: f"{IMAGE_PATH}/{image.id}/{size}" for size in ("thumb", "medium", "large")},
    )


def property_read(
    prop: Property,
    images: Sequence[PropertyImage] = (),
    distance_km: float | None = None,
    *,
    owner_verified: bool = False,
) -> PropertyRead:
    fields = {name: getattr(prop, name) for name in PropertyRead.model_fields if hasattr(prop, name)}
    fields["amenities"] = list(prop.amenities or [])
    fields["images"] = [image_read(image) for image in images]
    fields["distance_km"] = distance_km
    fields["owner_verified"] = owner_verified
    return PropertyRead(**fields)


async def images_of(session: AsyncSession, property_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[PropertyImage]]:
    found: dict[uuid.UUID, list[PropertyImage]] = {pid: [] for pid in property_ids}
    if not property_ids:
        return found
    rows = await session.execute(
        select(PropertyImage)
        .where(PropertyImage.property_id.in_(property_ids))
        .order_by(PropertyImage.property_id, PropertyImage.order_index, PropertyImage.created_at)
    )
    for image in rows.scalars():
        found[image.property_id].append(image)
    return found


def can_manage(principal: Principal | None, prop: Property) -> bool:
    return principal is not None and (is_admin(principal) or principal.person_id == prop.owner_id)


def _check_window(values: dict[str, Any], prop: Property | None = None) -> None:
    start = values.get("available_from", prop.available_from if prop else None)
    end = values.get("available_to", prop.available_to if prop else None)
    if start is not None and end is not None and end < start:
        raise dates_reversed("available_to")
    lat = values.get("latitude", prop.latitude if prop else None)
    lon = values.get("longitude", prop.longitude if prop else None)
    if (lat is None) != (lon is None):
        missing = "longitude" if lon is None else "latitude"
        raise field_error(
            missing,
            "coordinates_incomplete",
            "La latitude et la longitude vont ensemble.",
            "Latitude and longitude go together.",
        )


LOCATION_FIELDS = ("address", "neighborhood", "city")


async def _locate(prop: Property) -> None:
    """Coordinates from the address, neighbourhood and city when the landlord gave none (the geocoder's point,
    or none at all for a place it does not know: see rentals.geocoding)."""
    place = await geocoder().locate(address=prop.address, neighborhood=prop.neighborhood, city=prop.city)
    prop.latitude, prop.longitude = (place.latitude, place.longitude) if place is not None else (None, None)


async def create_property(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, body: PropertyCreate
) -> Property:
    owner_id = require_landlord(principal)
    values = body.model_dump()
    _check_window(values)
    prop = Property(organization_id=organization_id, owner_id=owner_id, views_count=0, is_featured=False, **values)
    if prop.latitude is None:
        await _locate(prop)
    session.add(prop)
    await session.flush()
    return prop


async def get_property(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal | None,
    for_update: bool = False,
) -> Property:
    statement = select(Property).where(Property.id == property_id, Property.organization_id == organization_id)
    if for_update:
        statement = statement.with_for_update()
    prop = (await session.execute(statement)).scalar_one_or_none()
    if prop is None or (prop.status != PropertyStatus.PUBLISHED and not can_manage(principal, prop)):
        raise PropertyNotFound()
    return prop


async def managed_property(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, principal: Principal
) -> Property:
    prop = await get_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal, for_update=True
    )
    if not can_manage(principal, prop):
        raise NotAllowed(
            "Seul le propriétaire de ce logement peut le modifier.", "Only this property's landlord can change it."
        )
    return prop


async def update_property(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal,
    body: PropertyUpdate,
) -> Property:
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    values = body.model_dump(exclude_unset=True)
    if "is_featured" in values and not is_admin(principal):
        raise NotAllowed("Seul l'opérateur met un logement en avant.", "Only the operator features a property.")
    for name in (
        "title",
        "property_type",
        "rental_type",
        "price",
        "address",
        "city",
        "is_furnished",
        "amenities",
        "deposit_amount",
        "status",
        "is_featured",
    ):
        if name in values and values[name] is None:
            raise field_error(name, "null", "Cette valeur ne peut pas être vide.", "This value cannot be null.")
    _check_window(values, prop)
    if prop.suspended_at is not None and "status" in values and not is_admin(principal):
        # A suspended listing comes back only through an admin's reinstatement, never by its landlord republishing.
        raise ListingSuspended(prop.suspension_reason)
    moved = any(name in values and values[name] != getattr(prop, name) for name in LOCATION_FIELDS)
    for name, value in values.items():
        setattr(prop, name, value)
    if "latitude" not in values and (moved or prop.latitude is None):
        await _locate(prop)
    prop.updated_at = utcnow()
    await session.flush()
    return prop


async def delete_property(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, principal: Principal
) -> None:
    """Delete a listing; one with bookings is kept for their history and becomes inactive."""
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    booked = (await session.execute(select(exists().where(Booking.property_id == prop.id)))).scalar_one()
    if booked:
        prop.status = PropertyStatus.INACTIVE.value
        prop.updated_at = utcnow()
        return
    await session.delete(prop)
    await session.flush()


async def record_view(session: AsyncSession, property_id: uuid.UUID) -> None:
    await session.execute(
        update(Property).where(Property.id == property_id).values(views_count=Property.views_count + 1)
    )


async def my_properties(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[Property], str | None]:
    owner = person_of(principal)
    statement = select(Property).where(Property.organization_id == organization_id, Property.owner_id == owner)
    return await paginate(session, statement, params, created_at=Property.created_at, row_id=Property.id)


# Images


async def add_images(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal,
    storage: Storage,
    processed: list[ProcessedImage],
) -> list[PropertyImage]:
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    existing = (
        await session.execute(
            select(func.count(), func.max(PropertyImage.order_index)).where(PropertyImage.property_id == prop.id)
        )
    ).one()
    count, last_index = int(existing[0]), existing[1]
    if count + len(processed) > MAX_IMAGES_PER_PROPERTY:
        raise field_error(
            "files",
            "too_many_images",
            f"Un logement a au plus {MAX_IMAGES_PER_PROPERTY} photos ({count} déjà).",
            f"A property has at most {MAX_IMAGES_PER_PROPERTY} photos ({count} already).",
        )
    assert len(processed) <= MAX_IMAGES_PER_UPLOAD
    added = []
    next_index = (last_index + 1) if last_index is not None else 0
    for offset, image in enumerate(processed):
        keys = await store_renditions(storage, organization_id, image)
        row = PropertyImage(
            property_id=prop.id,
            thumb_key=keys["thumb"],
            medium_key=keys["medium"],
            large_key=keys["large"],
            width=image.width,
            height=image.height,
            is_primary=count == 0 and offset == 0,  # a listing's first photo is its primary one
            order_index=next_index + offset,
            created_at=utcnow(),
        )
        session.add(row)
        added.append(row)
    await session.flush()
    return added


async def arrange_images(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    principal: Principal,
    order: list[uuid.UUID],
    primary_id: uuid.UUID | None,
) -> list[PropertyImage]:
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    images = {i.id: i for i in (await images_of(session, [prop.id]))[prop.id]}
    if set(order) != set(images) or len(order) != len(images):
        raise field_error(
            "order",
            "order_mismatch",
            "L'ordre doit citer chaque photo du logement une fois.",
            "The order must list each of the property's photos once.",
        )
    if primary_id is not None and primary_id not in images:
        raise field_error("primary_id", "unknown_image", "Photo inconnue.", "Unknown photo.")
    for index, image_id in enumerate(order):
        images[image_id].order_index = index
        if primary_id is not None:
            images[image_id].is_primary = image_id == primary_id
    await session.flush()
    return sorted(images.values(), key=lambda i: i.order_index)


async def delete_image(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    property_id: uuid.UUID,
    image_id: uuid.UUID,
    principal: Principal,
) -> None:
    prop = await managed_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    image = (
        await session.execute(
            select(PropertyImage).where(PropertyImage.id == image_id, PropertyImage.property_id == prop.id)
        )
    ).scalar_one_or_none()
    if image is None:
        raise ImageNotFound()
    was_primary = image.is_primary
    await session.delete(image)
    await session.flush()
    if was_primary:
        first = (
            await session.execute(
                select(PropertyImage)
                .where(PropertyImage.property_id == prop.id)
                .order_by(PropertyImage.order_index)
                .limit(1)
            )
        ).scalar_one_or_none()
        if first is not None:
            first.is_primary = True


async def image_key(session: AsyncSession, *, image_id: uuid.UUID, size: str) -> str:
    """The storage key of a published listing's photo (photos of unpublished listings are not served)."""
    row = (
        await session.execute(
            select(PropertyImage, Property.status)
            .join(Property, Property.id == PropertyImage.property_id)
            .where(PropertyImage.id == image_id)
        )
    ).one_or_none()
    if row is None or row[1] != PropertyStatus.PUBLISHED:
        raise ImageNotFound()
    image: PropertyImage = row[0]
    key: str = getattr(image, f"{size}_key")
    return key


# Favourites


async def add_favorite(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, principal: Principal
) -> Property:
    user_id = person_of(principal)
    prop = await get_property(session, organization_id=organization_id, property_id=property_id, principal=principal)
    already = (
        await session.execute(select(Favorite.id).where(Favorite.user_id == user_id, Favorite.property_id == prop.id))
    ).scalar_one_or_none()
    if already is None:
        session.add(
            Favorite(organization_id=organization_id, user_id=user_id, property_id=prop.id, created_at=utcnow())
        )
        await session.flush()
    return prop


async def remove_favorite(
    session: AsyncSession, *, organization_id: uuid.UUID, property_id: uuid.UUID, principal: Principal
) -> None:
    user_id = person_of(principal)
    await session.execute(
        delete(Favorite).where(
            Favorite.organization_id == organization_id,
            Favorite.user_id == user_id,
            Favorite.property_id == property_id,
        )
    )


async def favorites(
    session: AsyncSession, *, organization_id: uuid.UUID, principal: Principal, params: PageParams
) -> tuple[list[Property], str | None]:
    """The caller's favourites still visible to them, most recently added first."""
    user_id = person_of(principal)
    statement = cast(
        "Select[Any]",
        select(Favorite.created_at, Favorite.id, Favorite.property_id)
        .join(Property, Property.id == Favorite.property_id)
        .where(Favorite.organization_id == organization_id, Favorite.user_id == user_id)
        .where((Property.status == PropertyStatus.PUBLISHED.value) | (Property.owner_id == user_id)),
    )
    rows, cursor = await paginate(session, statement, params, created_at=Favorite.created_at, row_id=Favorite.id)
    ids = [row.property_id for row in rows]
    props = {p.id: p for p in (await session.execute(select(Property).where(Property.id.in_(ids)))).scalars()}
    return [props[i] for i in ids if i in props], cursor
