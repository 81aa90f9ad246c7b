"""The console's rentals pages over HTTP, on the LokaHome demo (``cauri.demo.seed_lokahome``: eight published
listings with photos, a landlord, a tenant, a provider): public search with filters (bad ones refused naming the
field), a listing with its photos and availability, the tenant's request (dates held, an overlap refused, nothing
written), the landlord's dashboard and answer (only the landlord answers), payment asked of the tenant's phone;
someone else's booking is a 404."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta
from types import SimpleNamespace
from typing import cast

import httpx
import pytest
from fastapi import FastAPI

from cauri.core.db import unit_of_work
from cauri.demo import LOKAHOME_SLUG, seed_lokahome
from cauri.identity.seeding import DEMO_PASSWORD
from cauri.payments.public import PaymentView
from cauri.rentals import money
from cauri.rentals.models import Booking
from cauri.web.rentals import _settling
from tests.web.support import logged_in, submit, text_of

TENANT = "locataire@lokahome.demo.cauri.africa"
LANDLORD = "proprietaire@lokahome.demo.cauri.africa"
PROVIDER = "prestataire@lokahome.demo.cauri.africa"
SEARCH = f"/console/rentals?m={LOKAHOME_SLUG}"


@pytest.fixture(scope="module")
async def lokahome(app: FastAPI) -> uuid.UUID:
    async with unit_of_work(app.state.sessionmaker) as session:
        summary = await seed_lokahome(session, app.state.settings)
    return summary.organization_id


def listing_link(page: httpx.Response, title: str) -> str:
    """The result's link (it carries ``?m=`` when the visitor named the marketplace)."""
    match = re.search(r'href="(/console/rentals/listings/[0-9a-f-]{36}[^"]*)">' + re.escape(title), page.text)
    assert match, f"{title} is not in the results"
    return html.unescape(match.group(1))


async def test_public_search_filters_photos_and_bad_filters(lokahome: uuid.UUID, browser: httpx.AsyncClient) -> None:
    everything = await browser.get(SEARCH)
    assert everything.status_code == 200
    assert len(re.findall(r'data-testid="result"', everything.text)) == 8

    cotonou = await browser.get(f"{SEARCH}&city=Cotonou&max_price=100000&sort=price_asc")
    assert cotonou.status_code == 200
    words = text_of(cotonou)
    assert "Appartement meublé à Fidjrossè" in words and "Villa avec piscine" not in words
    thumb = re.search(r'src="(/console/rentals/images/[0-9a-f-]{36}/thumb)"', cotonou.text)
    assert thumb, "results show a photo"
    photo = await browser.get(thumb.group(1))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"

    reversed_prices = await browser.get(f"{SEARCH}&min_price=50000&max_price=1000")
    assert reversed_prices.status_code == 422
    assert 'data-testid="result"' not in reversed_prices.text and "prix" in text_of(reversed_prices).lower()
    bad_type = await browser.get(f"{SEARCH}&property_type=castle", headers={"Accept-Language": "en"})
    assert bad_type.status_code == 422 and "Value not allowed" in text_of(bad_type)
    assert (await browser.get("/console/rentals?m=nowhere")).status_code == 404

    link = listing_link(cotonou, "Appartement meublé à Fidjrossè")
    assert link.endswith(f"?m={LOKAHOME_SLUG}")
    page = await browser.get(link)
    assert page.status_code == 200
    words = text_of(page)
    assert "Disponibilités" in words and "Se connecter pour réserver" in words
    assert 'data-testid="photos"' in page.text
    assert (await browser.get(f"/console/rentals/listings/{uuid.uuid4()}?m={LOKAHOME_SLUG}")).status_code == 404


async def test_book_answer_pay_and_who_sees_what(app: FastAPI, lokahome: uuid.UUID) -> None:
    from tests.web.support import new_browser

    start = date.today() + timedelta(days=40)
    dates = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=2)).isoformat()}
    async with new_browser(app) as tenant, new_browser(app) as landlord, new_browser(app) as provider:
        home = await logged_in(tenant, TENANT, DEMO_PASSWORD)
        assert 'href="/console/rentals/bookings"' in home.text  # the menu links tenants to their bookings
        results = await tenant.get("/console/rentals?city=Cotonou")  # a tenant's marketplace is their own
        prop = listing_link(results, "Appartement meublé à Fidjrossè").rsplit("/", 1)[1]
        listing = await tenant.get(f"/console/rentals/listings/{prop}")
        reversed_dates = await submit(
            tenant, listing, f"/console/rentals/listings/{prop}/book",
            {"start_date": dates["end_date"], "end_date": dates["start_date"]},
        )  # fmt: skip
        assert reversed_dates.status_code == 422, text_of(reversed_dates)
        requested = await submit(
            tenant, listing, f"/console/rentals/listings/{prop}/book", {**dates, "message": "Bonjour"}
        )
        assert requested.status_code == 303, text_of(requested)
        booking_url = requested.headers["location"].split("?")[0]
        page = await tenant.get(requested.headers["location"])
        assert "en attente du propriétaire" in text_of(page) and "les dates vous sont réservées" in text_of(page)
        overlap = await submit(tenant, listing, f"/console/rentals/listings/{prop}/book", dates)
        assert overlap.status_code == 409, text_of(overlap)
        mine = text_of(await tenant.get("/console/rentals/bookings"))
        assert mine.count("Appartement meublé à Fidjrossè") == 1  # the refused overlap wrote nothing

        forged = await submit(tenant, page, f"{booking_url}/answer", {"decision": "accept"})
        assert forged.status_code == 403, text_of(forged)  # only the landlord answers
        await logged_in(provider, PROVIDER, DEMO_PASSWORD)
        assert (await provider.get(booking_url)).status_code == 404  # not theirs
        assert (await provider.get("/console/rentals/landlord")).status_code == 403

        await logged_in(landlord, LANDLORD, DEMO_PASSWORD)
        dashboard = await landlord.get("/console/rentals/landlord")
        assert dashboard.status_code == 200
        assert 'data-testid="request"' in dashboard.text and "Bonjour" in text_of(dashboard)
        accepted = await submit(
            landlord, dashboard, f"{booking_url}/answer", {"decision": "accept", "back": "dashboard"}
        )
        assert accepted.status_code == 303, text_of(accepted)
        dashboard = await landlord.get(accepted.headers["location"])
        assert "Réservation acceptée" in text_of(dashboard) and 'data-testid="calendar"' in dashboard.text

        page = await tenant.get(booking_url)
        assert "acceptée" in text_of(page) and "Payer 75 000 F CFA par mobile money" in text_of(page)
        no_phone = await submit(tenant, page, f"{booking_url}/pay", {"phone": ""})
        assert no_phone.status_code == 422, text_of(no_phone)
        paying = await submit(tenant, page, f"{booking_url}/pay", {"phone": "+2250700000100"})
        assert paying.status_code == 303, text_of(paying)
        after = text_of(await tenant.get(paying.headers["location"]))
        assert "Demande de paiement envoyée" in after and "Loyer · 50 000 F CFA" in after


def test_the_booking_page_reloads_until_settled_money_reaches_the_booking() -> None:
    """A payment may succeed a moment before its settlement event reaches the booking: a page rendered in between
    must keep reloading, not show "0 F CFA paid" for good."""
    booking = Booking(rent_paid=0, deposit_paid=25_000)
    rent = SimpleNamespace(status="succeeded", amount=50_000, purpose=money.RENT)
    deposit = SimpleNamespace(status="succeeded", amount=25_000, purpose=money.DEPOSIT)
    both = cast(list[PaymentView], [rent, deposit])
    assert _settling(booking, both)  # the rent's event has not reached the booking yet
    booking.rent_paid = 50_000
    assert not _settling(booking, both)
    assert _settling(
        booking, cast(list[PaymentView], [SimpleNamespace(status="pending", amount=1, purpose=money.RENT)])
    )
