"""/docs in headless Chromium with the Internet cut off: it loads, Authorize logs in through the OAuth 2 form
(e-mail and password), and "Try it out" calls the API with the token it got."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Route, expect

from cauri.demo import DEMO_PASSWORD
from tests.e2e.conftest import ConsoleServer

OWNER = "directrice@demo.cauri.africa"


async def test_docs_work_offline_and_authorize_logs_in(console_server: ConsoleServer, phone: BrowserContext) -> None:
    outside: list[str] = []

    async def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:  # what a CDN-hosted /docs would need: this machine has no Internet
            outside.append(route.request.url)
            await route.abort()

    await phone.route("**/*", local_only)
    page = await phone.new_page()
    await page.set_viewport_size({"width": 1280, "height": 900})  # Swagger UI is a desktop page
    await page.goto(f"{console_server.base_url}/docs")
    # The title appears once /openapi.json is built: the first build of ~400 routes' schema takes a second on a
    # quiet machine, several on a busy one.
    await expect(page.locator(".information-container .title")).to_contain_text("Cauri", timeout=30_000)

    await page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    await expect(dialog).to_contain_text("oauth2Password")
    await dialog.locator("#oauth_username").fill(OWNER)
    await dialog.locator("#oauth_password").fill(DEMO_PASSWORD)
    oauth = dialog.locator(".auth-container").filter(has_text="oauth2Password")
    await oauth.locator("button.authorize").click()
    await expect(oauth.locator("button", has_text="Logout")).to_be_visible()
    await dialog.locator("button.close-modal").click()

    operation = page.locator("#operations-auth-auth-get-me")
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table")
    await expect(live.locator("tr.response .response-col_status")).to_have_text("200")
    await expect(live).to_contain_text(OWNER)
    assert outside == [], f"/docs reached for the Internet: {outside}"
