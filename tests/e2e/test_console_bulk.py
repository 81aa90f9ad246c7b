"""The whole bulk payment flow in headless Chromium, on a phone-sized screen, as the pension fund's two managers.

gestionnaire1 logs in, uploads the French Excel export, reads the report, submits and logs out; gestionnaire2 logs
in, approves, watches the live bar reach 100 % and downloads the results. A second batch is followed with the
event stream blocked, so the page must fall back to polling.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.async_api import BrowserContext, Dialog, Page, Request, expect

from cauri.identity.seeding import DEMO_PASSWORD
from tests.e2e.conftest import ConsoleServer

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bulk_excel_fr.csv"
MAKER = "gestionnaire1@demo.cauri.africa"
CHECKER = "gestionnaire2@demo.cauri.africa"
# bulk_excel_fr.csv: 12 lines, all valid, 810 000 F CFA (babel writes narrow no-break spaces).
TOTAL = re.compile(r"810\s000\sF\sCFA")
EXPECTED_ROWS = 12
EXPECTED_TOTAL = 810_000


async def log_in(page: Page, server: ConsoleServer, email: str) -> None:
    await page.goto(f"{server.base_url}/")
    await expect(page).to_have_url(re.compile(r"/console/login"))
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    await page.get_by_label("E-mail ou téléphone").fill(email)
    await page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("heading", name=re.compile(r"^Bonjour "))).to_be_visible()


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page.get_by_text("Vous êtes déconnecté·e.")).to_be_visible()


async def upload_and_submit(page: Page, screenshots: Path, prefix: str) -> str:
    """As gestionnaire1: upload the sample, check the report, submit; the batch's page URL."""
    await page.get_by_role("link", name="Nouveau paiement groupé").first.click()
    await expect(page.get_by_role("heading", name="Nouveau paiement groupé")).to_be_visible()
    await page.get_by_label("Fichier (CSV ou Excel .xlsx)").set_input_files(SAMPLE)
    await page.get_by_role("button", name="Vérifier le fichier").click()
    await expect(page.get_by_text("Fichier vérifié. Lisez le rapport")).to_be_visible()
    await expect(page.get_by_test_id("batch-state")).to_have_text("Brouillon")
    await expect(page.get_by_test_id("valid-lines")).to_have_text(str(EXPECTED_ROWS))
    await expect(page.get_by_test_id("invalid-lines")).to_have_text("0")
    await expect(page.get_by_test_id("total-amount")).to_have_text(TOTAL)
    await expect(page.get_by_test_id("lines").locator("tbody tr")).to_have_count(EXPECTED_ROWS)
    await page.screenshot(path=screenshots / f"{prefix}-2-report.png", full_page=True)
    await page.get_by_role("button", name="Soumettre les lignes valides").click()
    await expect(page.get_by_test_id("batch-state")).to_have_text("En attente d'approbation")
    # Maker–checker: no approve button for the maker, and the page says why.
    await expect(page.get_by_test_id("explanation")).to_contain_text("une autre personne approuve")
    await expect(page.get_by_role("button", name=re.compile("Approuver"))).to_have_count(0)
    await page.screenshot(path=screenshots / f"{prefix}-3-awaiting.png", full_page=True)
    return page.url.split("?")[0]


async def accept_payment(dialog: Dialog) -> None:
    assert "Payer" in dialog.message, dialog.message
    await dialog.accept()


async def approve(page: Page, batch_url: str) -> None:
    page.once("dialog", accept_payment)
    await page.goto(batch_url)
    await expect(page.get_by_test_id("batch-state")).to_have_text("En attente d'approbation")
    await expect(page.get_by_text(re.compile(r"Solde disponible : [\d\s]+F\sCFA"))).to_be_visible()
    await page.get_by_role("button", name=re.compile(r"Approuver et payer 810\s000\sF\sCFA")).click()


async def test_upload_submit_approve_watch_and_export(
    console_server: ConsoleServer, phone: BrowserContext, screenshots: Path
) -> None:
    prefix = f"{console_server.backend}"
    page = await phone.new_page()
    await page.goto(f"{console_server.base_url}/console/login")
    await page.screenshot(path=screenshots / f"{prefix}-1-login.png", full_page=True)
    await log_in(page, console_server, MAKER)
    await expect(page.get_by_test_id("balance-XOF")).to_contain_text("F\u202fCFA")
    batch_url = await upload_and_submit(page, screenshots, prefix)
    await log_out(page)

    await log_in(page, console_server, CHECKER)
    await expect(page.get_by_role("link", name="bulk_excel_fr.csv").first).to_be_visible()  # recent batches
    streams: list[str] = []
    page.on("request", lambda request: streams.append(request.url) if "/stream" in request.url else None)
    await approve(page, batch_url)
    await expect(page.get_by_text("Lot approuvé : les paiements partent.")).to_be_visible()
    await expect(page.locator("#progress-bar")).to_be_visible()
    await page.screenshot(path=screenshots / f"{prefix}-4-progress.png", full_page=True)
    # The bar follows the stream, then the page reloads itself with the final state.
    await expect(page.get_by_test_id("progress-percent")).to_have_text("100 %", timeout=60_000)
    await expect(page.get_by_test_id("batch-state")).to_have_text("Terminé", timeout=30_000)
    assert streams, "the page followed the batch with EventSource"
    await expect(page.get_by_test_id("completed-count")).to_have_text(str(EXPECTED_ROWS))
    await expect(page.get_by_test_id("paid-amount")).to_have_text(TOTAL)
    await page.screenshot(path=screenshots / f"{prefix}-5-completed.png", full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_test_id("export-csv").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("resultats-")
    saved = await download.path()
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig")), delimiter=";"))
    header, lines = rows[0], rows[1:]
    assert header[:3] == ["Ligne", "Identifiant de transfert", "Nom"]
    assert len(lines) == EXPECTED_ROWS
    assert {line[7] for line in lines} == {"payé"}
    assert sum(int(line[5]) for line in lines) == EXPECTED_TOTAL
    assert {line[2] for line in lines} >= {"Aminata Diallo", "Kouassi Aké", "Jean-Baptiste Mbarga"}


async def test_progress_falls_back_to_polling_when_the_stream_is_blocked(
    console_server: ConsoleServer, phone: BrowserContext, screenshots: Path
) -> None:
    page = await phone.new_page()
    await log_in(page, console_server, MAKER)
    batch_url = await upload_and_submit(page, screenshots, f"{console_server.backend}-polling")
    await log_out(page)
    await log_in(page, console_server, CHECKER)
    polled: list[Request] = []
    await page.route("**/stream", lambda route: route.abort())
    page.on("request", lambda request: polled.append(request) if request.url.endswith("/status") else None)
    await approve(page, batch_url)
    await expect(page.get_by_test_id("batch-state")).to_have_text("Terminé", timeout=60_000)
    assert polled, "the page polled /status after the stream failed"
    await expect(page.get_by_test_id("progress-percent")).to_have_text("100 %")
