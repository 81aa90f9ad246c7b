"""The restaurant pages in headless Chromium on a phone (360×740), against the real application (``cauri serve``)
and the Le Vieux Moulin demo (``make run``'s) with the flour counted under its threshold and two reservations
today: the chef finds the stock alert's draft order, changes its quantity and so cannot approve it (the reason is
shown); the gérante approves it; today's book lists both services with their covers. Nothing is wider than the
screen."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker
from cauri.identity.seeding import DEMO_PASSWORD
from tests.e2e.conftest import ConsoleServer
from tests.web.test_console_restaurant import CHEF, MANAGER, seed_moulin


async def log_in(page: Page, server: ConsoleServer, identifier: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{server.base_url}/console/login")
    await page.locator("#identifier").fill(identifier)
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Bonjour "))).to_be_visible()


async def open_stock(page: Page) -> None:
    await page.get_by_role("navigation").get_by_role("link", name="Restaurant").click()
    await expect(page.get_by_role("heading", name="Connexions du restaurant")).to_be_visible()
    await page.get_by_test_id("restaurant-tabs").get_by_role("link", name="Stocks et commandes").click()


async def fits_the_screen(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360


async def test_draft_order_approved_by_another_manager_and_todays_book(
    console_server: ConsoleServer, phone: BrowserContext, screenshots: Path
) -> None:
    engine = make_engine(console_server.database_url, pool_size=1)
    try:
        moulin = await seed_moulin(make_sessionmaker(engine), Settings(database_url=console_server.database_url))
    finally:
        await engine.dispose()
    prefix = f"restaurant-{console_server.backend}"
    page = await phone.new_page()

    await log_in(page, console_server, CHEF)
    await open_stock(page)
    await expect(page.get_by_test_id("alert").filter(has_text="Farine T55")).to_contain_text("commande préparée")
    draft = page.get_by_test_id("draft").filter(has_text=moulin.reference)
    await expect(draft).to_contain_text("Préparée par l'alerte de stock")
    await draft.get_by_label(re.compile("^Colis")).fill("3")
    await draft.get_by_role("button", name="Changer la quantité").click()
    await expect(page.get_by_text("Quantité changée")).to_be_visible()
    await draft.get_by_role("button", name="Approuver la commande").click()
    await expect(page.get_by_role("alert")).to_contain_text("ne peut pas l'approuver")
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-1-maker-refused.png", full_page=True)

    await log_in(page, console_server, MANAGER)
    await open_stock(page)
    await expect(draft).to_contain_text("Préparée par Julien Morel")
    await expect(draft.get_by_test_id("order-total")).to_contain_text("20,70")
    await draft.get_by_role("button", name="Approuver la commande").click()
    await expect(page.get_by_text(f"Commande {moulin.reference} approuvée")).to_be_visible()
    await expect(page.get_by_test_id("orders")).to_contain_text("approuvée")
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-2-approved.png", full_page=True)

    await page.get_by_test_id("restaurant-tabs").get_by_role("link", name="Réservations du jour").click()
    lunch = page.get_by_test_id("service").filter(has_text="Déjeuner")
    await expect(lunch.get_by_test_id("capacity")).to_contain_text("4 / 40 couverts")
    await expect(lunch.get_by_test_id("booking")).to_contain_text("Famille Durand")
    await expect(page.get_by_test_id("service").filter(has_text="Dîner")).to_contain_text("Paul Lefèvre")
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-3-reservations.png", full_page=True)
