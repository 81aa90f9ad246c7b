"""Rentals pages (the LokaHome marketplace): public search with filters and results, a listing with its photos and
availability, the booking request and its payment by mobile money (into the booking's escrow), the tenant's
bookings, and the landlord's dashboard (requests to accept or reject, calendar of stays, what was paid).

Search, listings and photos are public (``public_router``): an anonymous visitor's marketplace is the configured
one (``CAURI_LOKAHOME_ORGANIZATION``) or the one named by ``?m=`` (slug or id); a logged-in tenant's, landlord's or
provider's is their own. Everything else needs a login. Handlers call the module's services (``search``,
``properties``, ``bookings``, ``money``) in the request's unit of work; who may see or do what (a tenant their own
bookings, a landlord their properties') is the services' rule, as for ``/api/v1/rentals``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from cauri.core.db import rollback, utcnow
from cauri.core.errors import AppError, NotFound, field_error
from cauri.core.i18n import pick
from cauri.core.pagination import PageParams
from cauri.core.routing import SessionDep, writes_on_read
from cauri.identity.organizations import find_organization
from cauri.identity.service import current_user
from cauri.payments import public as payments
from cauri.rentals import bookings, money, properties, search
from cauri.rentals.access import LANDLORD, PROVIDER, TENANT
from cauri.rentals.models import Booking, BookingStatus, Property, PropertyImage
from cauri.rentals.schemas import PropertyType, RentalTypeName, SortName
from cauri.web.auth import Console, ConsoleSession, OptionalConsole, require_console, verify_csrf
from cauri.web.i18n import page_language, translate
from cauri.web.rendering import ConsoleRoute, render

RESULTS_PER_PAGE = 12
BOOKINGS_SHOWN = 50
AVAILABILITY_DAYS = 120
MARKET_ROLES = frozenset({TENANT, LANDLORD, PROVIDER})
PROPERTY_TYPES: tuple[str, ...] = get_args(PropertyType)
RENTAL_TYPES: tuple[str, ...] = get_args(RentalTypeName)
SORTS: tuple[str, ...] = get_args(SortName)
FILTER_FIELDS = (
    "q", "city", "property_type", "rental_type", "min_price", "max_price", "bedrooms", "is_furnished",
    "available_from", "available_to", "sort",
)  # fmt: skip

public_router = APIRouter(prefix="/console/rentals", route_class=ConsoleRoute, include_in_schema=False)
router = APIRouter(
    prefix="/console/rentals",
    route_class=ConsoleRoute,
    include_in_schema=False,
    dependencies=[Depends(require_console)],
)

CsrfChecked = Annotated[None, Depends(verify_csrf)]


def in_market(console: ConsoleSession | None) -> bool:
    """Whether the console user is a tenant, landlord or provider of their current organisation."""
    return console is not None and console.organization is not None and console.organization.role in MARKET_ROLES


async def _marketplace(request: Request, session: SessionDep, console: ConsoleSession | None) -> uuid.UUID:
    if in_market(console):
        assert console is not None and console.organization is not None
        return console.organization.id
    named = (request.query_params.get("m") or request.app.state.settings.lokahome_organization or "").strip()
    found = await find_organization(session, named) if named else None
    if found is None:
        raise NotFound("Place de marché introuvable.", "Marketplace not found.", code="marketplace_not_found")
    return found.id


def _market_query(request: Request) -> str:
    """``m=…`` to carry on links when the visitor named the marketplace in the address."""
    named = request.query_params.get("m")
    return urlencode({"m": named}) if named else ""


# --- search --------------------------------------------------------------------------------------------------------


def _int(raw: str, field: str) -> int | None:
    text = raw.replace(" ", "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 13:
        raise field_error(field, "int_parsing", "Un nombre entier positif est attendu.", "A whole number is expected.")
    return int(text)


def _date(raw: str, field: str) -> date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise field_error(field, "date_parsing", "Date invalide (AAAA-MM-JJ).", "Invalid date (YYYY-MM-DD).") from None


def _choice(raw: str, field: str, allowed: tuple[str, ...]) -> str | None:
    text = raw.strip()
    if not text:
        return None
    if text not in allowed:
        raise field_error(field, "literal_error", "Valeur non autorisée.", "Value not allowed.")
    return text


def filter_of(values: dict[str, str]) -> search.PropertyFilter:
    """The search form's fields as the seed's ``PropertyFilter``; a bad field is a 422 naming it."""
    furnished = values.get("is_furnished", "")
    flt = search.PropertyFilter(
        q=values.get("q", "").strip()[:200] or None,
        city=values.get("city", "").strip()[:100] or None,
        property_type=_choice(values.get("property_type", ""), "property_type", PROPERTY_TYPES),
        rental_type=_choice(values.get("rental_type", ""), "rental_type", RENTAL_TYPES),
        min_price=_int(values.get("min_price", ""), "min_price"),
        max_price=_int(values.get("max_price", ""), "max_price"),
        bedrooms=_int(values.get("bedrooms", ""), "bedrooms"),
        is_furnished=True if furnished == "1" else None,
        available_from=_date(values.get("available_from", ""), "available_from"),
        available_to=_date(values.get("available_to", ""), "available_to"),
        sort=_choice(values.get("sort", ""), "sort", SORTS) or "newest",
    )
    flt.check()
    return flt


@dataclass(frozen=True)
class Card:
    prop: Property
    image: PropertyImage | None


def _primary(images: list[PropertyImage]) -> PropertyImage | None:
    ordered = sorted(images, key=lambda i: (not i.is_primary, i.order_index))
    return ordered[0] if ordered else None


@public_router.get("")
async def search_page(request: Request, console: OptionalConsole, session: SessionDep) -> Response:
    language = page_language(request)
    organization_id = await _marketplace(request, session, console)
    values = {name: request.query_params.get(name, "")[:200] for name in FILTER_FIELDS}
    cursor = request.query_params.get("cursor") or None
    status, error, cards, next_cursor = 200, None, [], None
    try:
        flt = filter_of(values)
        rows, next_cursor = await search.search(
            session, organization_id=organization_id, flt=flt, limit=RESULTS_PER_PAGE, cursor=cursor
        )
        images = await properties.images_of(session, [p.id for p in rows])
        cards = [Card(p, _primary(images[p.id])) for p in rows]
    except AppError as exc:
        status, error = exc.status, pick(exc.message_fr, exc.message_en, language)
    next_query = urlencode({**{k: v for k, v in values.items() if v}, "cursor": next_cursor or ""})
    return render(
        request,
        "rentals_search.html",
        status=status,
        title=translate(language, "rental.search_title"),
        error=error,
        values=values,
        cards=cards,
        next_query=next_query if next_cursor else "",
        market=request.query_params.get("m", ""),
        market_query=_market_query(request),
        property_types=PROPERTY_TYPES,
        rental_types=RENTAL_TYPES,
        sorts=SORTS,
    )


@public_router.get("/images/{image_id}/{size}")
async def photo(
    image_id: uuid.UUID, size: Literal["thumb", "medium", "large"], request: Request, session: SessionDep
) -> Response:
    """A published listing's photo (the renditions the module stored), cached by the browser for a day."""
    key = await properties.image_key(session, image_id=image_id, size=size)
    data = await request.app.state.storage.get(key)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


# --- a listing: photos, availability, booking request -----------------------------------------------------------


async def _listing_page(
    request: Request,
    console: ConsoleSession | None,
    session: SessionDep,
    property_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    organization_id = await _marketplace(request, session, console)
    principal = console.principal if console is not None else None
    prop = await properties.get_property(
        session, organization_id=organization_id, property_id=property_id, principal=principal
    )
    images = sorted((await properties.images_of(session, [prop.id]))[prop.id], key=lambda i: i.order_index)
    today = utcnow().date()
    busy = await bookings.busy_ranges(
        session, property_id=prop.id, since=today, until=today + timedelta(days=AVAILABILITY_DAYS)
    )
    here = request.url.path + (f"?{_market_query(request)}" if _market_query(request) else "")
    return render(
        request,
        "rental_listing.html",
        status=status,
        title=prop.title,
        error=error,
        prop=prop,
        images=images,
        busy=busy,
        can_book=in_market(console) and console is not None and console.organization is not None
        and console.organization.role == TENANT and prop.owner_id != console.user_id,
        login_url="/console/login?" + urlencode({"next": here}),
        market_query=_market_query(request),
        form=form or {"start_date": "", "end_date": "", "message": ""},
    )  # fmt: skip


@public_router.get("/listings/{property_id}")
async def listing(request: Request, property_id: uuid.UUID, console: OptionalConsole, session: SessionDep) -> Response:
    return await _listing_page(request, console, session, property_id)


@router.post("/listings/{property_id}/book")
async def book(
    request: Request, property_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """A booking request: it holds the nights until the landlord answers (``bookings.request_booking``)."""
    form = await request.form()
    fields = {name: str(form.get(name) or "")[:1000] for name in ("start_date", "end_date", "message")}
    organization_id = await _marketplace(request, session, console)
    try:
        start = _date(fields["start_date"], "start_date")
        end = _date(fields["end_date"], "end_date")
        if start is None or end is None:
            raise field_error(
                "start_date" if start is None else "end_date",
                "missing",
                "Choisissez l'arrivée et le départ.",
                "Choose the arrival and departure dates.",
            )
        booking = await bookings.request_booking(
            session,
            organization_id=organization_id,
            principal=console.principal,
            property_id=property_id,
            start_date=start,
            end_date=end,
            message=fields["message"].strip() or None,
        )
    except AppError as exc:
        await rollback(session)
        message = pick(exc.message_fr, exc.message_en, page_language(request))
        return await _listing_page(
            request, console, session, property_id, status=exc.status, error=message, form=fields
        )
    return RedirectResponse(f"/console/rentals/bookings/{booking.id}?done=requested", status_code=303)


# --- bookings: the tenant's list, one booking, pay, answer ----------------------------------------------------------


@router.get("/bookings")
async def my_bookings(request: Request, console: Console, session: SessionDep) -> Response:
    organization_id = await _marketplace(request, session, console)
    rows, _ = await bookings.my_bookings(
        session, organization_id=organization_id, principal=console.principal, params=PageParams(limit=BOOKINGS_SHOWN)
    )
    titles = await _titles(session, organization_id, console, rows)
    return render(
        request,
        "rental_bookings.html",
        title=translate(page_language(request), "rental.my_bookings"),
        rows=rows,
        titles=titles,
    )


async def _titles(
    session: SessionDep, organization_id: uuid.UUID, console: ConsoleSession, rows: list[Booking]
) -> dict[uuid.UUID, str]:
    titles: dict[uuid.UUID, str] = {}
    for property_id in {b.property_id for b in rows}:
        try:
            prop = await properties.get_property(
                session, organization_id=organization_id, property_id=property_id, principal=console.principal
            )
            titles[property_id] = prop.title
        except AppError:
            titles[property_id] = "—"  # withdrawn since: its title is the landlord's to show
    return titles


async def _payments_of(session: SessionDep, booking: Booking) -> list[payments.PaymentView]:
    details: dict[str, Any] = booking.payment_details or {}
    found = []
    for purpose in (money.RENT, money.DEPOSIT):
        payment_id = details.get(f"{purpose}.payment_id")
        if payment_id:
            found.append(
                await payments.get(session, organization_id=booking.organization_id, payment_id=uuid.UUID(payment_id))
            )
    return found


async def _booking_page(
    request: Request,
    console: ConsoleSession,
    session: SessionDep,
    booking_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    language = page_language(request)
    organization_id = await _marketplace(request, session, console)
    booking = await bookings.get_booking(
        session, organization_id=organization_id, booking_id=booking_id, principal=console.principal
    )
    done = request.query_params.get("done")
    notices = {
        "requested": "rental.requested",
        "paying": "rental.pay_asked",
        "accepted": "rental.accepted",
        "rejected": "rental.rejected",
    }
    tenant = console.user_id == booking.tenant_id
    user_phone = await _phone_of(session, console)
    found_payments = await _payments_of(session, booking)
    return render(
        request,
        "rental_booking.html",
        status=status,
        title=translate(language, "rental.booking_title"),
        error=error,
        notice=translate(language, notices[done]) if done in notices and error is None else None,
        booking=booking,
        titles=await _titles(session, organization_id, console, [booking]),
        payments=found_payments,
        is_tenant=tenant,
        is_landlord=console.user_id == booking.landlord_id,
        due=max(0, booking.total_amount - booking.rent_paid) + max(0, booking.deposit_amount - booking.deposit_paid),
        phone=user_phone,
        settling=done == "paying" and _settling(booking, found_payments),
    )


def _settling(booking: Booking, found: list[payments.PaymentView]) -> bool:
    """A payment is under way, or it succeeded and its settlement event has not reached the booking yet (the
    event's delivery job runs just after the success): the page reloads until the booking shows the money. Checking
    only the payments' states left a page that rendered in between showing "0 F CFA paid" for good."""
    paid = {money.RENT: booking.rent_paid, money.DEPOSIT: booking.deposit_paid}
    return any(
        p.status in ("created", "pending") or (p.status == "succeeded" and p.amount > paid.get(p.purpose or "", 0))
        for p in found
    )


async def _phone_of(session: SessionDep, console: ConsoleSession) -> str:
    user = await current_user(session, console.principal)
    return user.phone or ""


@router.get("/bookings/{booking_id}")
async def booking_page(request: Request, booking_id: uuid.UUID, console: Console, session: SessionDep) -> Response:
    return await _booking_page(request, console, session, booking_id)


@router.post("/bookings/{booking_id}/pay")
async def pay(
    request: Request, booking_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """Rent and deposit asked of the tenant's phone into the booking's escrow; the booking records them when the
    payments settle (their settlement events), never on this page's word."""
    form = await request.form()
    phone = str(form.get("phone") or "").strip()[:30]
    organization_id = await _marketplace(request, session, console)
    try:
        if not phone:
            raise field_error("phone", "missing", "Indiquez le numéro mobile money.", "Give the mobile-money number.")
        await money.pay_booking(
            session, organization_id=organization_id, booking_id=booking_id, principal=console.principal, phone=phone
        )
    except AppError as exc:
        await rollback(session)
        message = pick(exc.message_fr, exc.message_en, page_language(request))
        return await _booking_page(request, console, session, booking_id, status=exc.status, error=message)
    return RedirectResponse(f"/console/rentals/bookings/{booking_id}?done=paying", status_code=303)


@router.post("/bookings/{booking_id}/answer")
async def answer(
    request: Request, booking_id: uuid.UUID, console: Console, session: SessionDep, _csrf: CsrfChecked
) -> Response:
    """The landlord accepts or rejects a request (``bookings.accept_booking`` / ``reject_booking``)."""
    form = await request.form()
    decision = str(form.get("decision") or "")
    if decision not in ("accept", "reject"):
        raise field_error("decision", "literal_error", "Accepter ou refuser ?", "Accept or reject?")
    accept = decision == "accept"
    reason = str(form.get("reason") or "").strip()[:500] or None
    organization_id = await _marketplace(request, session, console)
    common = {"organization_id": organization_id, "booking_id": booking_id, "principal": console.principal}
    try:
        if accept:
            await bookings.accept_booking(session, **common)  # type: ignore[arg-type]
        else:
            await bookings.reject_booking(session, reason=reason, **common)  # type: ignore[arg-type]
    except AppError as exc:
        await rollback(session)
        message = pick(exc.message_fr, exc.message_en, page_language(request))
        return await _booking_page(request, console, session, booking_id, status=exc.status, error=message)
    back = str(form.get("back") or "")
    done = "accepted" if accept else "rejected"
    if back == "dashboard":
        return RedirectResponse(f"/console/rentals/landlord?done={done}", status_code=303)
    return RedirectResponse(f"/console/rentals/bookings/{booking_id}?done={done}", status_code=303)


# --- the landlord's dashboard ---------------------------------------------------------------------------------------


@router.get("/landlord")
@writes_on_read  # the landlord's ledger account is made on first use (money.landlord_balance)
async def landlord_dashboard(request: Request, console: Console, session: SessionDep) -> Response:
    language = page_language(request)
    organization_id = await _marketplace(request, session, console)
    principal = console.principal
    listings, _ = await properties.my_properties(
        session, organization_id=organization_id, principal=principal, params=PageParams(limit=BOOKINGS_SHOWN)
    )
    rows, _ = await bookings.my_properties_bookings(
        session, organization_id=organization_id, principal=principal, params=PageParams(limit=BOOKINGS_SHOWN)
    )
    today = utcnow().date()
    pending = [b for b in rows if b.status == BookingStatus.PENDING]
    calendar = sorted(
        (b for b in rows if b.status in (BookingStatus.CONFIRMED, BookingStatus.COMPLETED) and b.end_date >= today),
        key=lambda b: (b.start_date, b.property_id),
    )
    paid = [b for b in rows if b.rent_paid or b.deposit_paid]
    currencies = sorted({p.currency for p in listings}) or ["XOF"]
    balances = []
    for currency in currencies:
        _account, available = await money.landlord_balance(
            session, organization_id=organization_id, principal=principal, currency=currency
        )
        balances.append((available, currency))
    done = request.query_params.get("done")
    notices = {"accepted": "rental.accepted", "rejected": "rental.rejected"}
    return render(
        request,
        "rental_landlord.html",
        title=translate(language, "rental.dashboard_title"),
        notice=translate(language, notices[done]) if done in notices else None,
        listings=listings,
        pending=pending,
        calendar=calendar,
        paid=paid,
        balances=balances,
        titles={p.id: p.title for p in listings},
    )
