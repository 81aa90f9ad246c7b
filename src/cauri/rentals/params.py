"""Query parameters shared by the native routes and the LokaHome surface: the seed's ``PropertyFilter``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from cauri.rentals import search
from cauri.rentals.schemas import PropertyType, RentalTypeName, SortName


async def property_filter(
    *,
    city: Annotated[str | None, Query(max_length=100)] = None,
    neighborhood: Annotated[str | None, Query(max_length=100)] = None,
    property_type: PropertyType | None = None,
    rental_type: RentalTypeName | None = None,
    min_price: Annotated[int | None, Query(ge=0, le=10**13, description="Minor units")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=10**13, description="Minor units")] = None,
    bedrooms: Annotated[int | None, Query(ge=0, le=100, description="At least")] = None,
    bathrooms: Annotated[int | None, Query(ge=0, le=100, description="At least")] = None,
    is_furnished: bool | None = None,
    amenities: Annotated[list[str] | None, Query(max_length=20, description="Every one of them")] = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius: Annotated[float, Query(ge=search.RADIUS_MIN_KM, le=search.RADIUS_MAX_KM, description="km")] = 5.0,
    available_from: date | None = None,
    available_to: date | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Words of the title or description")] = None,
    sort: SortName = "newest",
) -> search.PropertyFilter:
    flt = search.PropertyFilter(
        city=city,
        neighborhood=neighborhood,
        property_type=property_type,
        rental_type=rental_type,
        min_price=min_price,
        max_price=max_price,
        bedrooms=bedrooms,
        bathrooms=bathrooms,
        is_furnished=is_furnished,
        amenities=tuple(a for a in (amenities or []) if a.strip()),
        latitude=latitude,
        longitude=longitude,
        radius=radius,
        available_from=available_from,
        available_to=available_to,
        q=q,
        sort=sort,
    )
    flt.check()
    return flt


Filter = Annotated[search.PropertyFilter, Depends(property_filter)]
