"""Redirect providers over real HTTP on 127.0.0.1: a Wave, a FedaPay and an Orange WebPay collection answer the page
the payer opens (``payment_url``) and until when it works; an Orange WebPay notification, which names its payment
only by the ``notif_token`` issued at creation, settles the payment by callback, and a forged token changes nothing;
the payer's return pages answer in French and English and mark nothing paid.

This module runs an app of its own whose poller waits an hour before asking a provider anything: a payment here
settles by callback or not at all, so "settled by the callback" is what the test sees, not a race with the poller.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.mobile_money.fedapay import magic_phone as fedapay_phone
from cauri.connectors.mobile_money.orange_money import orange_phone, transformers, webhooks
from cauri.connectors.mobile_money.orange_money.simulator import OrangeMoneySimulator
from cauri.connectors.mobile_money.wave.simulator import WaveSimulator
from cauri.connectors.registry import ConnectorConfig, registry
from cauri.core.config import Settings
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings
from cauri.kit.testing import serve_app
from cauri.payments.models import ProviderEvent
from cauri.payments.states import Status
from cauri.web.i18n import translate
from tests.payments.conftest import Sandbox, fresh_payments_settings, served_payments_app
from tests.payments.support import eventually, get, postings, reference, wait_status
from tests.support.identity import Actor, create_org_with_user

POLL_AFTER_SECONDS = 3600.0  # no status poll during a test: only callbacks settle payments here


@dataclass(frozen=True)
class Redirect:
    provider: str
    currency: str
    amount: int
    phone: Callable[[Outcome], str]
    credentials: Mapping[str, str]
    settings: Mapping[str, str]


REDIRECTS = {
    "wave": Redirect(
        "wave",
        "XOF",
        2000,
        lambda o: magic_phone(o, "SN"),
        {"api_key": "wave_sn_prod_redirect_0123456789", "webhook_secret": "wave_sn_WHS_redirect_0123456789"},
        {},
    ),
    "fedapay": Redirect(
        "fedapay",
        "XOF",
        2500,
        fedapay_phone,
        {"api_key": "sk_sandbox_redirect_0123456789", "webhook_secret": "wh_sandbox_redirect_0123456789"},
        {},
    ),
    "orange_money": Redirect(
        "orange_money",
        "XOF",
        2500,
        lambda o: orange_phone(o, "CI"),
        {
            "client_id": "om_redirect_client",
            "client_secret": "om_redirect_secret_0123456789",
            "merchant_key": "om_redirect_merchant_key",
        },
        {"channel": "webpay"},
    ),
}


@pytest.fixture(scope="module")
async def payments_settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox
) -> AsyncIterator[Settings]:
    directory = tmp_path_factory.mktemp(f"redirects-{backend}")
    async with fresh_payments_settings(
        backend,
        directory,
        sandbox,
        payments_poll_initial_seconds=POLL_AFTER_SECONDS,
        payments_poll_max_seconds=POLL_AFTER_SECONDS,
    ) as settings:
        yield settings


@pytest.fixture(scope="module")
async def app(payments_settings: Settings) -> AsyncIterator[FastAPI]:
    async with served_payments_app(payments_settings) as application:
        yield application


@pytest.fixture(scope="module")
async def simulators() -> AsyncIterator[dict[str, tuple[SimulatedProvider, str]]]:
    running: dict[str, tuple[SimulatedProvider, str]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for redirect in REDIRECTS.values():
            spec = registry.get(redirect.provider)
            assert spec.simulator is not None
            config = ConnectorConfig(
                provider=redirect.provider,
                credentials={k: SecretStr(v) for k, v in redirect.credentials.items()},
                settings=dict(redirect.settings),
            )
            simulator = spec.simulator(SimulatorSettings(settle_seconds=0.2), config)
            stack.push_async_callback(simulator.aclose)
            running[redirect.provider] = (simulator, await stack.enter_async_context(serve_app(simulator.app)))
        yield running


@dataclass
class Merchant:
    owner: Actor
    redirect: Redirect
    simulator: SimulatedProvider
    url: str


async def _merchant(
    client: httpx.AsyncClient, simulators: dict[str, tuple[SimulatedProvider, str]], provider: str
) -> Merchant:
    redirect = REDIRECTS[provider]
    simulator, url = simulators[provider]
    owner = await create_org_with_user(client)
    response = await client.put(
        f"/api/v1/connectors/credentials/{provider}",
        json={"credentials": dict(redirect.credentials), "settings": {"base_url": url, **redirect.settings}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return Merchant(owner, redirect, simulator, url)


async def _collect(client: httpx.AsyncClient, merchant: Merchant, outcome: Outcome) -> dict[str, Any]:
    """Create the collection, then wait until the provider's answer (its payment URL) is recorded."""
    redirect = merchant.redirect
    response = await client.post(
        "/api/v1/collections",
        json={
            "amount": redirect.amount,
            "currency": redirect.currency,
            "phone": redirect.phone(outcome),
            "reference": reference(redirect.provider[:6].upper()),
            "provider": redirect.provider,
        },
        headers=merchant.owner.headers,
    )
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    # Answered before the provider is called: the fields exist, empty until the provider's answer.
    assert created["status"] == "created" and created["payment_url"] is None, created
    seen: dict[str, Any] = {}

    async def answered() -> bool:
        seen.update(await get(client, merchant.owner, "collection", created["id"]))
        return seen["payment_url"] is not None or seen["status"] not in ("created", "pending")

    await eventually(answered, what=f"{redirect.provider}'s payment URL")
    assert seen["status"] == "pending", seen
    return seen


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize("provider", list(REDIRECTS))
async def test_a_redirect_collection_answers_its_payment_url_and_expiry(
    provider: str, client: httpx.AsyncClient, simulators: dict[str, tuple[SimulatedProvider, str]]
) -> None:
    merchant = await _merchant(client, simulators, provider)
    collection = await _collect(client, merchant, Outcome.PENDING_FOREVER)
    assert collection["payment_url"].startswith(merchant.url + "/"), collection
    expires_at = _moment(collection["payment_url_expires_at"])
    if isinstance(merchant.simulator, WaveSimulator):
        # Wave's own expiry (its ``when_expires``), earlier than the collection's.
        [session] = [
            s for s in merchant.simulator.sessions.values() if s.client_reference == collection["outbound_reference"]
        ]
        assert expires_at == session.expires_at
        assert expires_at < _moment(collection["expires_at"])
    else:
        # FedaPay and Orange publish no lifetime for their URL: the collection's own expiry applies.
        assert expires_at == _moment(collection["expires_at"])
    listed = await client.get(
        "/api/v1/collections", params={"reference": collection["reference"]}, headers=merchant.owner.headers
    )
    assert listed.status_code == 200, listed.text
    assert [c["payment_url"] for c in listed.json()["items"]] == [collection["payment_url"]]
    if not isinstance(merchant.simulator, WaveSimulator):  # Wave's launch URL opens its app: no page to simulate
        async with httpx.AsyncClient() as browser:
            page = await browser.get(collection["payment_url"])
        assert page.status_code == 200, page.text


def _notif_token(simulator: OrangeMoneySimulator, outbound_reference: str) -> str:
    [order] = [o for o in simulator.orders.values() if o.order_id == transformers.order_id(outbound_reference)]
    return order.notif_token


async def _notify(client: httpx.AsyncClient, owner: Actor, body: bytes) -> httpx.Response:
    return await client.post(
        f"/api/v1/webhooks/orange_money?org={owner.organization_id}",
        content=body,
        headers=webhooks.CALLBACK_HEADERS,
    )


async def _orange_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[ProviderEvent]:
    async with sessionmaker() as session:
        rows = await session.execute(select(ProviderEvent).where(ProviderEvent.provider == "orange_money"))
        return list(rows.scalars())


async def test_orange_webpay_is_settled_by_its_notification_and_a_forged_token_changes_nothing(
    client: httpx.AsyncClient,
    simulators: dict[str, tuple[SimulatedProvider, str]],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    merchant = await _merchant(client, simulators, "orange_money")
    simulator = merchant.simulator
    assert isinstance(simulator, OrangeMoneySimulator)
    collection = await _collect(client, merchant, Outcome.SUCCESS)
    before = {event.id for event in await _orange_events(sessionmaker)}

    # Forged: a token Orange never issued is refused as a bad signature and stored nowhere.
    forged = await _notify(client, merchant.owner, webhooks.webpay_notification("SUCCESS", uuid.uuid4().hex, "MPX"))
    assert forged.status_code == 401, forged.text
    assert forged.json()["code"] == "callback_token_mismatch"
    # The genuine token, sent to another organisation's address, matches none of that organisation's payments.
    token = _notif_token(simulator, collection["outbound_reference"])
    stranger = await create_org_with_user(client)
    elsewhere = await _notify(client, stranger, webhooks.webpay_notification("SUCCESS", token, "MPX"))
    assert elsewhere.status_code == 401, elsewhere.text
    assert {event.id for event in await _orange_events(sessionmaker)} == before
    # The genuine token claiming a success the payer never made: accepted (the token is right), but the status
    # query Orange answers says the order is still open, so nothing is credited.
    lie = await _notify(client, merchant.owner, webhooks.webpay_notification("SUCCESS", token, "MPLIE"))
    assert lie.is_success, lie.text

    async def lie_processed() -> bool:
        return (
            all(e.state != "received" for e in await _orange_events(sessionmaker))
            and len(await _orange_events(sessionmaker)) == len(before) + 1
        )

    await eventually(lie_processed, what="the lying notification to be processed")
    still = await get(client, merchant.owner, "collection", collection["id"])
    assert still["status"] == "pending", still
    assert await postings(sessionmaker, collection["id"]) == {}

    # The payer opens the payment URL and pays; Orange notifies Cauri, which asks Orange, then settles.
    payer = collection["phone"].removeprefix("+")
    async with httpx.AsyncClient() as browser:
        paid = await browser.post(collection["payment_url"], data={"msisdn": payer, "otp": "1234"})
    assert paid.status_code == 200 and "Paiement effectué" in paid.text, paid.text
    done = await wait_status(client, merchant.owner, "collection", collection["id"])
    assert done["status"] == "succeeded", done
    assert [t["cause"] for t in done["transitions"]] == ["api", "submit", "callback"]
    assert done["payment_url"] is None and done["payment_url_expires_at"] is None  # settled: no page to send to
    events = [e for e in await _orange_events(sessionmaker) if e.id not in before]
    assert all(e.payment_id == uuid.UUID(collection["id"]) for e in events)
    assert [e.outcome for e in events if e.outcome and e.outcome.startswith("applied")] == [
        "applied (status_query): succeeded"
    ]
    assert await postings(sessionmaker, collection["id"]) == {"collection.credit": merchant.redirect.amount}
    assert simulator.collected(collection["outbound_reference"]) == merchant.redirect.amount


@pytest.mark.parametrize(
    ("path", "language", "says"),
    [
        ("/paiement/wave/termine", "fr", "Cette page ne valide aucun paiement"),
        ("/paiement/wave/echec", "en", "reports a failure"),
        ("/paiement/orange/termine", "en", "This page confirms no payment"),
        ("/paiement/orange/annule", "fr", "sans payer"),
    ],
)
async def test_the_return_pages_answer_in_both_languages_and_mark_nothing_paid(
    *,
    path: str,
    language: str,
    says: str,
    client: httpx.AsyncClient,
    simulators: dict[str, tuple[SimulatedProvider, str]],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    provider = "wave" if "/wave/" in path else "orange_money"
    merchant = await _merchant(client, simulators, provider)
    collection = await _collect(client, merchant, Outcome.PENDING_FOREVER)
    # No login; the query string says "paid", as anyone could type it.
    page = await client.get(
        path,
        params={"ref": collection["outbound_reference"], "status": "SUCCESS", "payment_status": "succeeded"},
        headers={"Accept": "text/html", "Accept-Language": language},
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert f'<html lang="{language}">' in page.text
    assert says in page.text
    assert ("en attente de la confirmation" if language == "fr" else "awaiting confirmation") in page.text
    # Nothing about the payment but its state: not its phone nor the organisation's reference.
    for private in (collection["phone"], collection["reference"]):
        assert private not in page.text
    after = await get(client, merchant.owner, "collection", collection["id"])
    assert after["status"] == "pending" and len(after["transitions"]) == len(collection["transitions"])
    assert await postings(sessionmaker, collection["id"]) == {}


async def test_a_return_page_shows_no_state_for_an_unknown_reference_and_unknown_pages_are_404(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get(
        "/paiement/wave/termine", params={"ref": uuid.uuid4().hex}, headers={"Accept-Language": "fr"}
    )
    assert page.status_code == 200, page.text
    assert "État actuel du paiement" not in page.text
    missing = await client.get("/paiement/wave/ailleurs", headers={"Accept": "text/html"})
    assert missing.status_code == 404


def test_every_payment_status_has_words_for_the_payer() -> None:
    for status in Status:
        assert translate("fr", f"return_status.{status.value}") != translate("en", f"return_status.{status.value}")
