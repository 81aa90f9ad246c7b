"""The notifications bell, list and preferences in headless Chromium on a phone-sized screen (360×740), French by
default and English by the browser's language, against the real application (``cauri serve``).

A module tells gestionnaire1 something while their page is open (``notify`` from this process, in the server's
database): the bell's count rises without a reload (the server's stream re-reads the database every second —
another process has no pub/sub to signal it). They open the list, filter the unread, mark one read, then all; turn
the end of bulk payments off by SMS, set quiet hours; the security codes' boxes cannot be unticked.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker
from cauri.disbursements.demo import PENSION_FUND
from cauri.disbursements.notices import BULK_COMPLETED
from cauri.identity.models import User
from cauri.identity.permissions import Role
from cauri.identity.seeding import DEMO_PASSWORD, DemoUser, ensure_organization
from cauri.notifications import preferences
from tests.e2e.conftest import CHROMIUM_ARGS, PHONE, ConsoleServer, chromium_path
from tests.support.console_notifications import tell

LIVE_TIMEOUT_MS = 30_000


@pytest.fixture
async def database(console_server: ConsoleServer) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(console_server.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def manager(console_server: ConsoleServer, database: async_sessionmaker[AsyncSession]) -> str:
    """A manager of the demo pension fund who has never been told anything: the other browser tests share this
    server, and their batches notify the demo's own managers."""
    email = f"notifications-{uuid.uuid4().hex[:8]}@demo.cauri.africa"
    spec = replace(PENSION_FUND, users=(*PENSION_FUND.users[:1], DemoUser(email, "Khady Ba", Role.GESTIONNAIRE)))
    async with database() as session:
        await ensure_organization(session, Settings(database_url=console_server.database_url), spec)
        await session.commit()
    return email


async def user_id_of(sessionmaker: async_sessionmaker[AsyncSession], email: str) -> uuid.UUID:
    async with sessionmaker() as session:
        found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None, email
    return found


async def log_in(
    page: Page, server: ConsoleServer, email: str, *, heading: str = "Connexion", submit: str = "Se connecter"
) -> None:
    await page.goto(f"{server.base_url}/console/login")
    await expect(page.get_by_role("heading", name=heading)).to_be_visible()
    await page.locator("#identifier").fill(email)
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name=submit).click()
    await expect(page.get_by_role("heading", name=re.compile(r"^(Bonjour|Hello) "))).to_be_visible()


async def test_bell_list_and_preferences_on_a_phone(
    console_server: ConsoleServer,
    phone: BrowserContext,
    screenshots: Path,
    database: async_sessionmaker[AsyncSession],
    manager: str,
) -> None:
    prefix = f"notifications-{console_server.backend}"
    manager_id = await user_id_of(database, manager)
    page = await phone.new_page()
    await log_in(page, console_server, manager)
    bell = page.get_by_test_id("bell")
    badge = page.get_by_test_id("unread-count")
    await expect(bell).to_be_visible()
    await expect(badge).to_be_hidden()
    await expect(bell).to_have_attribute("data-live", "1", timeout=LIVE_TIMEOUT_MS)  # the stream is open

    # Three notifications arrive while the dashboard is open: the count rises without a reload.
    for n in (1, 2, 3):
        await tell(database, manager_id, n)
    await expect(badge).to_have_text("3", timeout=LIVE_TIMEOUT_MS)
    await expect(bell).to_have_attribute("aria-label", "Notifications, 3 non lue(s)")
    await page.screenshot(path=screenshots / f"{prefix}-1-bell.png")

    await bell.click()
    await expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    items = page.get_by_test_id("notification")
    await expect(items).to_have_count(3)
    await expect(items.first).to_contain_text("Cotisation n°3 reçue")
    await expect(items.first).to_contain_text(re.compile(r"Vous avez reçu 30\s000\sF\sCFA\."))
    # Already listed: the stream's replay of the last seconds is not announced as new.
    await expect(bell).to_have_attribute("data-live", "1", timeout=LIVE_TIMEOUT_MS)
    await expect(page.get_by_text("Nouvelle notification : rechargez la page")).to_be_hidden()
    # Nothing overflows the phone's width.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=screenshots / f"{prefix}-2-list.png", full_page=True)

    await items.first.get_by_role("button", name="Marquer comme lue").click()
    await expect(page.get_by_text("1 notification(s) marquée(s) comme lue(s).")).to_be_visible()
    await expect(badge).to_have_text("2")
    await page.get_by_role("link", name="Non lues").click()
    await expect(items).to_have_count(2)
    await expect(page.get_by_text("Cotisation n°3 reçue")).to_have_count(0)
    await page.get_by_role("button", name="Tout marquer comme lu").click()
    await expect(page.get_by_text("Aucune notification non lue.")).to_be_visible()
    await expect(badge).to_be_hidden()

    # Preferences: security codes locked; the end of a bulk payment off by SMS; quiet hours 22:00 → 06:30.
    await page.get_by_role("link", name="Mes préférences de notification").click()
    await expect(page.get_by_role("heading", name="Préférences de notification")).to_be_visible()
    codes = page.get_by_test_id("kind-auth.code")
    await expect(codes.get_by_test_id("locked")).to_contain_text("Obligatoire")
    for box in await codes.get_by_role("checkbox").all():
        await expect(box).to_be_checked()
        await expect(box).to_be_disabled()
    bulk = page.get_by_role("group", name="Fin d'un paiement groupé")
    await expect(bulk).to_have_attribute("data-testid", f"kind-{BULK_COMPLETED.name}")
    await bulk.get_by_label("SMS").uncheck()
    await page.get_by_label("Activer les heures calmes").check()
    await page.get_by_label("Début").fill("22:00")
    await page.get_by_label("Fin").fill("06:30")
    await expect(page.get_by_test_id("timezone")).to_contain_text("Fuseau horaire : Africa/")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=screenshots / f"{prefix}-3-preferences.png", full_page=True)
    await page.get_by_role("button", name="Enregistrer").click()
    await expect(page.get_by_text("Préférences enregistrées.")).to_be_visible()
    await expect(bulk.get_by_label("SMS")).not_to_be_checked()
    await expect(bulk.get_by_label("E-mail")).to_be_checked()
    await expect(page.get_by_label("Fin")).to_have_value("06:30")

    # What the page saved is what notify() now reads.
    async with database() as session:
        assert await preferences.accepted_channels(session, manager_id, BULK_COMPLETED) == ["email"]
        assert await preferences.quiet_window(session, manager_id) == preferences.Window(22 * 60, 6 * 60 + 30)


@pytest.fixture
async def english_phone(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """The same phone, its browser set to English (so it sends ``Accept-Language: en-GB``)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            locale="en-GB",
        )
        try:
            yield context
        finally:
            await context.close()


async def test_english_by_the_browser_language(
    console_server: ConsoleServer, english_phone: BrowserContext, manager: str
) -> None:
    page = await english_phone.new_page()
    await log_in(page, console_server, manager, heading="Log in", submit="Log in")
    await page.goto(f"{console_server.base_url}/console/notifications/preferences")
    await expect(page.get_by_role("heading", name="Notification preferences")).to_be_visible()
    await expect(page.get_by_test_id("kind-auth.code").get_by_test_id("locked")).to_contain_text(
        "Required: cannot be turned off"
    )
    await expect(page.get_by_text("Quiet hours", exact=True)).to_be_visible()
