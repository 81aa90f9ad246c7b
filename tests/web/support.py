"""Driving the console over HTTP like a browser: read the CSRF token from the page, post forms, follow redirects."""

from __future__ import annotations

import html
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import unit_of_work
from cauri.ledger import service as ledger

BROWSER_HEADERS = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "fr-FR,fr;q=0.9"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def new_browser(app: FastAPI, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Another browser: its own cookies and its own client address."""
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=BROWSER_HEADERS) as http:
        yield http


async def get_with_session(app: FastAPI, path: str, session_cookie: str) -> httpx.Response:
    """``path`` fetched by a browser that holds exactly this session cookie."""
    async with new_browser(app) as other:
        return await other.get(path, headers={"Cookie": f"cauri_console={session_cookie}"})


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token in {page.request.url}"
    return html.unescape(match.group(1))


def text_of(page: httpx.Response) -> str:
    """The page's visible text, tags removed and spaces (including babel's narrow no-break ones) collapsed."""
    without_tags = re.sub(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", " ", page.text, flags=re.S)
    return re.sub(r"[\s\u00a0\u202f]+", " ", html.unescape(without_tags)).strip()


async def submit(
    browser: httpx.AsyncClient,
    page: httpx.Response,
    action: str,
    data: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Post a form of ``page`` to ``action`` with the page's CSRF token, as the browser would (same Origin)."""
    fields = {"csrf_token": csrf_of(page), **(data or {})}
    return await browser.post(action, data=fields, headers={"Origin": "http://testserver", **(headers or {})})


async def log_in(browser: httpx.AsyncClient, identifier: str, password: str, *, next_url: str = "") -> httpx.Response:
    """The answer to the login form (a 303 on success)."""
    page = await browser.get("/console/login")
    assert page.status_code == 200, page.text
    return await submit(
        browser, page, "/console/login", {"identifier": identifier, "password": password, "next": next_url}
    )


async def logged_in(browser: httpx.AsyncClient, identifier: str, password: str) -> httpx.Response:
    """Log in and follow the redirect: the first page the user sees."""
    answer = await log_in(browser, identifier, password)
    assert answer.status_code == 303, text_of(answer)
    page = await browser.get(answer.headers["location"])
    assert page.status_code == 200, page.text
    return page


async def upload_file(
    browser: httpx.AsyncClient,
    filename: str,
    content: bytes,
    *,
    provider: str | None = None,
    check_payees: bool = False,
) -> httpx.Response:
    """The upload form, filled and sent as the browser sends it (multipart, with the page's token); with
    ``check_payees`` its box ticked (a browser sends a ticked box's value, nothing for an unticked one)."""
    form = await browser.get("/console/batches/new")
    assert form.status_code == 200, text_of(form)
    data = {"csrf_token": csrf_of(form)}
    if provider is not None:
        data["provider"] = provider
    if check_payees:
        assert 'name="check_payees"' in form.text
        data["check_payees"] = "1"
    return await browser.post(
        "/console/batches",
        data=data,
        files={"file": (filename, content, "text/csv")},
        headers={"Origin": "http://testserver"},
    )


def batch_id_of(answer: httpx.Response) -> str:
    """The batch a 303 after an upload or an action points to."""
    assert answer.status_code == 303, text_of(answer)
    match = re.match(r"^/console/batches/([0-9a-f-]{36})", answer.headers["location"])
    assert match, answer.headers["location"]
    return match.group(1)


async def fund(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, amount: int, currency: str = "XOF"
) -> None:
    """A bank deposit into the organisation's operating account, through the ledger's service."""
    async with unit_of_work(sessionmaker) as session:
        wallet = await ledger.operating_account(session, organization_id, currency)
        bank = await ledger.bank_deposits_account(session, organization_id, currency)
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid4(),
                    debit_account_id=bank.id,
                    credit_account_id=wallet.id,
                    amount=amount,
                    code="deposit",
                )
            ],
        )
