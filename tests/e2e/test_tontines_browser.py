"""The tontine pages in headless Chromium on a phone (360×740), against the real application (``cauri serve``) and
the demo tontine (``make run``'s): the trésorière opens this week's session board and records Aïssatou's cash in
one tap with the photo of the receipt; the présidente validates it; Aïssatou sees herself up to date, the payment
in her statement and in the pot's movements. Nothing is wider than the screen."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import BrowserContext, Page, expect

from cauri.identity.seeding import DEMO_PASSWORD
from tests.e2e.conftest import ConsoleServer

TREASURER = "tresoriere@kobiri.demo.cauri.africa"
PRESIDENT = "presidente@kobiri.demo.cauri.africa"
MEMBER = "membre01@kobiri.demo.cauri.africa"
MEMBER_NAME = "Aïssatou Diallo"
RECEIPT = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def log_in(page: Page, server: ConsoleServer, identifier: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{server.base_url}/console/login")
    await page.locator("#identifier").fill(identifier)
    await page.locator("#password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Bonjour "))).to_be_visible()


async def fits_the_screen(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360


async def test_cash_recorded_validated_and_seen_by_the_member(
    console_server: ConsoleServer, phone: BrowserContext, screenshots: Path
) -> None:
    prefix = f"tontines-{console_server.backend}"
    page = await phone.new_page()

    await log_in(page, console_server, TREASURER)
    await page.get_by_role("navigation").get_by_role("link", name="Tontines").click()
    await page.get_by_role("link", name="Tontine des commerçantes de Sandaga").click()
    await expect(page.get_by_test_id("pot")).to_be_visible()
    await page.get_by_role("link", name="Séance 4").click()
    board_url = page.url
    line = page.get_by_test_id("board-line").filter(has_text=MEMBER_NAME)
    await expect(line).to_contain_text("pas encore payé")
    await line.get_by_label("Preuve (photo ou reçu)").set_input_files(
        {"name": "recu.png", "mimeType": "image/png", "buffer": RECEIPT}
    )
    await line.get_by_role("button", name="Encaisser en espèces").click()
    await expect(page.get_by_text("Paiement en espèces enregistré")).to_be_visible()
    await expect(line.get_by_test_id("awaiting-check")).to_contain_text("un autre responsable doit le valider")
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-1-recorded.png", full_page=True)

    await log_in(page, console_server, PRESIDENT)
    await page.goto(board_url)
    await line.get_by_role("button", name="Valider").click()
    await expect(page.get_by_text("Paiement validé : la caisse est créditée.")).to_be_visible()
    await expect(line).to_contain_text("a payé")
    await page.screenshot(path=screenshots / f"{prefix}-2-validated.png", full_page=True)

    await log_in(page, console_server, MEMBER)
    await page.get_by_role("navigation").get_by_role("link", name="Tontines").click()
    await page.get_by_role("link", name="Tontine des commerçantes de Sandaga").click()
    await expect(page.get_by_text("Vous êtes à jour.")).to_be_visible()
    statement = page.get_by_test_id("statement")
    await expect(statement.locator("tbody tr").nth(3)).to_contain_text("10 000 F CFA")
    newest = page.get_by_test_id("movements").locator("tbody tr").first
    await expect(newest).to_contain_text("Cotisation en espèces")
    await expect(newest).to_contain_text(MEMBER_NAME)
    await fits_the_screen(page)
    await page.screenshot(path=screenshots / f"{prefix}-3-member.png", full_page=True)
