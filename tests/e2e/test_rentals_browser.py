"""The rentals pages in headless Chromium on a phone (360×740), against the real application (``cauri serve``), the
sandbox provider (``cauri simulate sandbox``) and the LokaHome demo: a visitor searches Cotonou's listings, opens
one (photos, availability), logs in as the tenant to book it; the landlord accepts the request on his dashboard;
the tenant pays rent and deposit by mobile money and the booking page shows them paid once the sandbox's
confirmation has settled them. Nothing is wider than the screen."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import text

from cauri.core.db import make_engine
from cauri.demo import LOKAHOME_SLUG
from cauri.identity.seeding import DEMO_PASSWORD
from tests.e2e.conftest import ConsoleServer

TENANT = "locataire@lokahome.demo.cauri.africa"
LANDLORD = "proprietaire@lokahome.demo.cauri.africa"
LISTING = "Appartement meublé à Fidjrossè"
# Submit job, the sandbox's confirmation after 1 s, its callback (or the poll at 5, 15, 35, 75 s), the settlement
# event's delivery job: seconds on a quiet machine; CI's loaded cores have needed more than 60.
SETTLED_TIMEOUT_MS = 120_000


async def fill_login(page: Page, identifier: str) -> None:
    await page.locator("#identifier").fill(identifier)
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()


async def payment_trail(database_url: str, booking_id: str) -> str:
    """What the database says of the booking's payments and the jobs not yet done, for a failure's message."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            payments = (
                await connection.execute(
                    text("SELECT id, purpose, status, amount, fee, created_at FROM payments WHERE owner_id = :owner"),
                    {"owner": booking_id},
                )
            ).all()
            events = (
                await connection.execute(
                    text(
                        "SELECT e.purpose, e.status, e.previous_status, d.subscriber FROM payment_settlement_events e"
                        " LEFT JOIN payment_settlement_deliveries d ON d.event_id = e.id WHERE e.owner_id = :owner"
                    ),
                    {"owner": booking_id},
                )
            ).all()
            jobs = (
                await connection.execute(
                    text(
                        "SELECT kind, status, attempts, run_after, lease_until, last_error FROM jobs"
                        " WHERE status NOT IN ('done', 'failed') ORDER BY run_after LIMIT 30"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return "\n".join(["payments:", *map(str, payments), "events:", *map(str, events), "jobs:", *map(str, jobs)])


async def fits_the_screen(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360


async def test_search_book_accept_and_pay_on_a_phone(
    console_server: ConsoleServer, phone: BrowserContext, screenshots: Path
) -> None:
    prefix = f"rentals-{console_server.backend}"
    page = await phone.new_page()
    arrival = date.today() + timedelta(days=20)

    # A visitor searches, without an account.
    await page.goto(f"{console_server.base_url}/console/rentals?m={LOKAHOME_SLUG}")
    await page.get_by_label("Ville").fill("Cotonou")
    await page.get_by_role("button", name="Rechercher").click()
    results = page.get_by_test_id("result")
    await expect(results).to_have_count(2)
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-1-search.png", full_page=True)
    await page.get_by_role("link", name=LISTING).click()
    await expect(page.get_by_role("heading", name=LISTING)).to_be_visible()
    photo = page.get_by_test_id("photos").locator("img").first
    await expect(photo).to_be_visible()
    await photo.evaluate("img => img.decode()")  # the photo really arrives (rejects if it cannot be decoded)
    assert await photo.evaluate("img => img.naturalWidth") > 0
    await expect(page.get_by_text("Libre sur les quatre prochains mois.")).to_be_visible()

    # Booking needs the tenant's login, which brings them back to the listing.
    await page.get_by_role("link", name="Se connecter pour réserver").click()
    await fill_login(page, TENANT)
    await expect(page.get_by_role("heading", name=LISTING)).to_be_visible()
    await page.get_by_label("Arrivée").fill(arrival.isoformat())
    await page.get_by_label("Départ").fill((arrival + timedelta(days=2)).isoformat())
    await page.get_by_role("button", name="Demander la réservation").click()
    await expect(page.get_by_test_id("booking-status")).to_have_text("en attente du propriétaire")
    booking_url = page.url.split("?")[0]
    await fits_the_screen(page)

    # The landlord accepts it from his dashboard.
    await page.context.clear_cookies()
    await page.goto(f"{console_server.base_url}/console/login")
    await fill_login(page, LANDLORD)
    await page.get_by_role("navigation").get_by_role("link", name="Mes locations").click()
    request = page.get_by_test_id("request").filter(has_text=LISTING)
    await expect(request).to_have_count(1)
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-2-landlord.png", full_page=True)
    await request.get_by_role("button", name="Accepter").click()
    await expect(page.get_by_text("Réservation acceptée")).to_be_visible()
    await expect(page.get_by_test_id("calendar")).to_contain_text(LISTING)

    # The tenant pays through the sandbox; the page shows the payment once it has settled.
    await page.context.clear_cookies()
    await page.goto(f"{console_server.base_url}/console/login")
    await fill_login(page, TENANT)
    await page.get_by_role("navigation").get_by_role("link", name="Mes réservations").click()
    await page.get_by_role("link", name=LISTING).first.click()
    assert page.url.split("?")[0] == booking_url
    await expect(page.get_by_test_id("booking-status")).to_have_text("acceptée")
    await page.get_by_role("button", name=re.compile(r"^Payer 75 000 F CFA")).click()
    await expect(page.get_by_text("Demande de paiement envoyée")).to_be_visible()
    try:
        await expect(page.get_by_test_id("paid")).to_have_text(
            re.compile(r"75\s000\sF\sCFA"), timeout=SETTLED_TIMEOUT_MS
        )
    except AssertionError as failure:
        trail = await payment_trail(console_server.database_url, booking_url.rsplit("/", 1)[1])
        raise AssertionError(f"{failure}\n{trail}") from None
    await expect(page.get_by_test_id("payments")).to_contain_text("confirmé")
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-3-paid.png", full_page=True)
