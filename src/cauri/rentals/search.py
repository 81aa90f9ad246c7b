"""Search of published listings: every filter of the seed's ``PropertyFilter``, full-text, sorting, keyset paging,
and ``nearby`` by radius.

Full-text: PostgreSQL's French ``to_tsvector`` (stemming: « appartements » finds « appartement »; the GIN index of
migration 0016), SQLite's FTS5 (accents folded; each word is matched as a prefix, the nearest FTS5 has to stemming).

Nearby, PostGIS-free and the same answers on both databases: the database narrows to a bounding box around the
point (an index on latitude, longitude) with every other filter; the exact great-circle distance (haversine) of
those candidates decides, and orders, in Python, so both backends compute it with the same arithmetic.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, cast, exists, false, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.errors import field_error
from cauri.rentals.errors import dates_reversed, price_range_reversed
from cauri.rentals.models import FTS_TABLE, HOLDING_STATUSES, Booking, Property, PropertyStatus

EARTH_RADIUS_KM: Final = 6371.0088
KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180
RADIUS_MIN_KM: Final = 0.1
RADIUS_MAX_KM: Final = 50.0
RADIUS_DEFAULT_KM: Final = 5.0
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class PropertyFilter:
    """The seed's ``PropertyFilter`` (prices in minor units), plus ``q`` and ``sort``."""

    city: str | None = None
    neighborhood: str | None = None
    property_type: str | None = None
    rental_type: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    bedrooms: int | None = None  # at least
    bathrooms: int | None = None  # at least
    is_furnished: bool | None = None
    amenities: tuple[str, ...] = ()  # every one of them
    latitude: float | None = None
    longitude: float | None = None
    radius: float = RADIUS_DEFAULT_KM
    available_from: date | None = None
    available_to: date | None = None
    q: str | None = None
    sort: str = "newest"
    owner_id: uuid.UUID | None = None

    def check(self) -> None:
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise price_range_reversed()
        if self.available_from and self.available_to and self.available_to <= self.available_from:
            raise dates_reversed("available_to")
        if (self.latitude is None) != (self.longitude is None):
            missing = "longitude" if self.longitude is None else "latitude"
            raise field_error(
                missing,
                "coordinates_incomplete",
                "La latitude et la longitude vont ensemble.",
                "Latitude and longitude go together.",
            )
        if not RADIUS_MIN_KM <= self.radius <= RADIUS_MAX_KM:
            raise field_error(
                "radius",
                "out_of_range",
                f"Le rayon va de {RADIUS_MIN_KM} à {RADIUS_MAX_KM:g} km.",
                f"The radius ranges from {RADIUS_MIN_KM} to {RADIUS_MAX_KM:g} km.",
            )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _fts5_query(q: str) -> str | None:
    words = _WORD.findall(q.lower())[:12]
    return " ".join(f'"{word}"*' for word in words) if words else None


def text_condition(dialect: str, q: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        document = func.to_tsvector(
            literal_column("'french'"),
            func.coalesce(Property.title, "") + " " + func.coalesce(Property.description, ""),
        )
        return document.op("@@")(func.plainto_tsquery(literal_column("'french'"), q))
    match = _fts5_query(q)
    if match is None:
        return false()
    ids: Select[Any] = (
        select(literal_column("property_id"))
        .select_from(text(FTS_TABLE))
        .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=match))
    )
    return Property.id.in_(ids)


def _amenity_condition(dialect: str, amenity: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return cast(Property.amenities, JSONB).op("?")(amenity)
    each = func.json_each(Property.amenities).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == amenity))


def bounding_box(latitude: float, longitude: float, radius_km: float) -> ColumnElement[bool]:
    dlat = radius_km / KM_PER_DEGREE
    cos_lat = max(math.cos(math.radians(latitude)), 1e-6)
    dlon = min(radius_km / (KM_PER_DEGREE * cos_lat), 180.0)
    lat_ok = Property.latitude.between(latitude - dlat, latitude + dlat)
    west, east = longitude - dlon, longitude + dlon
    if dlon >= 180.0:
        lon_ok: ColumnElement[bool] = Property.longitude.is_not(None)
    elif west < -180:
        lon_ok = or_(Property.longitude >= west + 360, Property.longitude <= east)
    elif east > 180:
        lon_ok = or_(Property.longitude >= west, Property.longitude <= east - 360)
    else:
        lon_ok = Property.longitude.between(west, east)
    return and_(lat_ok, lon_ok)


def conditions(dialect: str, organization_id: uuid.UUID, flt: PropertyFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        Property.organization_id == organization_id,
        Property.status == PropertyStatus.PUBLISHED.value,
    ]
    if flt.city:
        where.append(func.lower(Property.city) == flt.city.strip().lower())
    if flt.neighborhood:
        where.append(func.lower(Property.neighborhood) == flt.neighborhood.strip().lower())
    equal = {
        "property_type": flt.property_type,
        "rental_type": flt.rental_type,
        "is_furnished": flt.is_furnished,
        "owner_id": flt.owner_id,
    }
    where.extend(getattr(Property, name) == value for name, value in equal.items() if value is not None)
    at_least = {"price": flt.min_price, "bedrooms": flt.bedrooms, "bathrooms": flt.bathrooms}
    where.extend(getattr(Property, name) >= value for name, value in at_least.items() if value is not None)
    if flt.max_price is not None:
        where.append(Property.price <= flt.max_price)
    where.extend(_amenity_condition(dialect, amenity.strip().lower()) for amenity in flt.amenities)
    where.extend(_availability(flt.available_from, flt.available_to))
    if flt.q and flt.q.strip():
        where.append(text_condition(dialect, flt.q.strip()))
    return where


def _availability(start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    """Open over the whole period, and no booking holding any of its nights."""
    if start is None and end is None:
        return []
    where: list[ColumnElement[bool]] = []
    overlap = [Booking.property_id == Property.id, Booking.status.in_(HOLDING_STATUSES)]
    if start is not None:
        where.append(or_(Property.available_from.is_(None), Property.available_from <= start))
        overlap.append(Booking.end_date > start)
    if end is not None:
        where.append(or_(Property.available_to.is_(None), Property.available_to >= end))
        overlap.append(Booking.start_date < end)
    where.append(~exists().where(*overlap))
    return where


# Keyset paging over any sort: the cursor holds the sort key of the last row sent.

_SORTS: Final[dict[str, tuple[tuple[str, bool], ...]]] = {
    # name -> ((column, descending), ...); always ends with id so the order is total
    "newest": (("created_at", True), ("id", True)),
    "oldest": (("created_at", False), ("id", False)),
    "price_asc": (("price", False), ("id", False)),
    "price_desc": (("price", True), ("id", True)),
    "featured": (("is_featured", True), ("created_at", True), ("id", True)),
}


def _encode(values: list[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    raw = json.dumps([plain(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> Exception:
    return field_error("cursor", "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor.")


def _decode(cursor: str, columns: tuple[tuple[str, bool], ...]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError
        values: list[Any] = []
        for (name, _), value in zip(columns, raw, strict=True):
            if name == "created_at":
                values.append(datetime.fromisoformat(value))
            elif name == "id":
                values.append(uuid.UUID(value))
            elif name == "is_featured":
                values.append(bool(value))
            else:
                values.append(int(value))
        return values
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, AttributeError):
        raise _bad_cursor() from None


def _after(columns: tuple[tuple[str, bool], ...], values: list[Any]) -> ColumnElement[bool]:
    alternatives = []
    for i, (name, descending) in enumerate(columns):
        column = getattr(Property, name)
        equal = [getattr(Property, n) == values[j] for j, (n, _) in enumerate(columns[:i])]
        value = values[i]
        if isinstance(value, bool):  # after True (descending) comes False; after False, nothing
            step = column.is_(not value) if descending == value else false()
        else:
            step = column < value if descending else column > value
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


async def search(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    flt: PropertyFilter,
    limit: int,
    cursor: str | None,
    offset: int = 0,
) -> tuple[list[Property], str | None]:
    """Published listings matching ``flt``, in its sort order, one keyset page at a time."""
    flt.check()
    columns = _SORTS[flt.sort]
    dialect = session.get_bind().dialect.name
    statement: Select[Any] = select(Property).where(*conditions(dialect, organization_id, flt))
    if flt.latitude is not None and flt.longitude is not None:
        statement = statement.where(bounding_box(flt.latitude, flt.longitude, flt.radius))
    if cursor:
        statement = statement.where(_after(columns, _decode(cursor, columns)))
    order = [getattr(Property, n).desc() if d else getattr(Property, n).asc() for n, d in columns]
    statement = statement.order_by(*order).limit(limit + 1)
    if offset:
        statement = statement.offset(offset)  # the seed's page/per_page
    rows = list((await session.execute(statement)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode([getattr(rows[-1], n) for n, _ in columns])
    if flt.latitude is not None and flt.longitude is not None:
        # The box's corners are outside the circle: a page may hold fewer rows, the cursor still follows the box.
        lat, lon = flt.latitude, flt.longitude
        rows = [r for r in rows if haversine_km(lat, lon, r.latitude or 0.0, r.longitude or 0.0) <= flt.radius]
    return rows, next_cursor


async def nearby(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    flt: PropertyFilter,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
) -> tuple[list[tuple[Property, float]], str | None]:
    """Published listings within ``flt.radius`` km of the point, nearest first, with their distance in km."""
    if flt.latitude is None or flt.longitude is None:
        missing = "latitude" if flt.latitude is None else "longitude"
        raise field_error(missing, "missing", "Ce paramètre est obligatoire.", "This parameter is required.")
    flt.check()
    lat, lon = flt.latitude, flt.longitude
    dialect = session.get_bind().dialect.name
    candidates = await session.execute(
        select(Property.id, Property.latitude, Property.longitude)
        .where(*conditions(dialect, organization_id, flt))
        .where(bounding_box(lat, lon, flt.radius))
    )
    scored = []
    for row_id, row_lat, row_lon in candidates:
        distance = haversine_km(lat, lon, row_lat or 0.0, row_lon or 0.0)
        if distance <= flt.radius:
            scored.append((distance, row_id))
    scored.sort()
    if cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
            last = (float(raw[0]), uuid.UUID(raw[1]))
        except (ValueError, TypeError, IndexError, KeyError, binascii.Error, json.JSONDecodeError):
            raise _bad_cursor() from None
        scored = [item for item in scored if item > last]
    page = scored[offset : offset + limit + 1]
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = _encode([page[-1][0], page[-1][1]])
    ids = [row_id for _, row_id in page]
    props = {p.id: p for p in (await session.execute(select(Property).where(Property.id.in_(ids)))).scalars()}
    return [(props[row_id], distance) for distance, row_id in page], next_cursor
