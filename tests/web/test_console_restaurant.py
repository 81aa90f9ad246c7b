"""The console's restaurant pages over HTTP, on the Le Vieux Moulin demo (``cauri.restaurant.demo``) with a stock
count that puts the flour under its threshold (an alert and a draft order) and two reservations today: the menu,
the four pages in French and English, connect without the platform's Square application (a visible refusal,
nothing written), maker ≠ checker on the draft (the chef changes it and is refused, the gérante approves it), a
read-only role and another organisation refused."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import unit_of_work, utcnow
from cauri.core.jobs.models import Job
from cauri.identity.models import User
from cauri.identity.seeding import DEMO_PASSWORD
from cauri.restaurant import bookings, demo, kitchen
from cauri.restaurant.jobs import SYNC_JOB
from cauri.restaurant.models import Ingredient, OAuthState, PurchaseOrder, RestaurantConnection, SyncCheckpoint
from tests.support.identity import Actor, add_member, create_org_with_user, login
from tests.web.support import logged_in, new_browser, submit, text_of

MANAGER = "gerante@vieuxmoulin.demo.cauri.africa"
CHEF = "chef@vieuxmoulin.demo.cauri.africa"
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Moulin:
    organization_id: uuid.UUID
    order_id: uuid.UUID
    reference: str


async def seed_moulin(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Moulin:
    """The demo restaurant, flour counted under its threshold (alert + draft), lunch and dinner with a booking each
    today. Idempotent (the count's reference, the services' names), so the browser test can call it too."""
    async with unit_of_work(sessionmaker) as session:
        summary = await demo.seed(session, settings)
    organization_id = summary.organization_id
    async with unit_of_work(sessionmaker) as session:
        flour = await session.scalar(
            select(Ingredient).where(Ingredient.organization_id == organization_id, Ingredient.name == "Farine T55")
        )
        assert flour is not None
        await kitchen.move_stock(session, organization_id, flour.id, delta=-15_000, reason="count", ref="test:count")
        await kitchen.check_threshold(session, organization_id, flour.id)
        await bookings.put_service(
            session, organization_id=organization_id, name="Déjeuner", starts="12:00", ends="14:30", capacity=40,
            timezone="Europe/Paris",
        )  # fmt: skip
        await bookings.put_service(
            session, organization_id=organization_id, name="Dîner", starts="19:00", ends="22:30", capacity=60,
            timezone="Europe/Paris",
        )  # fmt: skip
        today = utcnow().astimezone(PARIS).date()
        if not await bookings.day_book(session, organization_id, today):
            for hour, guest, party in ((time(12, 30), "Famille Durand", 4), (time(20, 0), "Paul Lefèvre", 2)):
                await bookings.book_direct(
                    session, organization_id=organization_id, party_size=party,
                    starts_at=datetime.combine(today, hour, tzinfo=PARIS), guest_name=guest, email=None, phone=None,
                    notes="", marketing_consent=False,
                )  # fmt: skip
        order = await session.scalar(
            select(PurchaseOrder).where(PurchaseOrder.organization_id == organization_id).order_by(PurchaseOrder.id)
        )
        assert order is not None
        return Moulin(organization_id, order.id, order.reference)


@pytest.fixture(scope="module")
async def moulin(app: FastAPI) -> Moulin:
    return await seed_moulin(app.state.sessionmaker, app.state.settings)


async def test_pages_in_both_languages_and_connect_refused_without_the_platform_app(
    app: FastAPI, moulin: Moulin, browser: httpx.AsyncClient
) -> None:
    anonymous = await browser.get("/console/restaurant/stock")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")

    home = await logged_in(browser, MANAGER, DEMO_PASSWORD)
    assert 'href="/console/restaurant"' in home.text  # the menu links managers to the hub
    hub = await browser.get("/console/restaurant")
    assert hub.status_code == 303 and hub.headers["location"] == "/console/restaurant/connections"

    connections = await browser.get("/console/restaurant/connections")
    words = text_of(connections)
    assert connections.status_code == 200
    assert "Pomona" in words and "Fournisseur" in words and "connecté" in words and "Dernier succès" in words
    assert "Connecter Square" in words and "Connecter Lightspeed Retail" in words

    # The platform's Square application is not configured here: a visible refusal, no state stored.
    refused = await submit(browser, connections, "/console/restaurant/connections/square/connect")
    assert refused.status_code == 503 and "n'est pas configurée" in text_of(refused)
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OAuthState)) == 0

    sync = await browser.get("/console/restaurant/sync")
    assert sync.status_code == 200 and "Activité de synchronisation" in text_of(sync)

    stock = await browser.get("/console/restaurant/stock")
    words = text_of(stock)
    assert "Farine T55 : 3 kg en stock (seuil 8 kg)" in words and "commande préparée" in words
    assert f"Commande {moulin.reference}" in words and "Préparée par l'alerte de stock" in words
    assert "Approuver la commande" in words

    book = await browser.get("/console/restaurant/reservations")
    words = text_of(book)
    assert "Déjeuner" in words and "12:00–14:30 · 4 / 40 couverts" in words and "36 couverts libres" in words
    assert "12:30 · Famille Durand · 4 couverts" in words and "en direct · confirmée" in words
    assert "Paul Lefèvre" in words and "20:00" in words and "Réservations du " in words

    english = await browser.get("/console/restaurant/stock", headers={"Accept-Language": "en"})
    assert "Stock alerts" in text_of(english) and "Orders to approve" in text_of(english)
    bad_day = await browser.get("/console/restaurant/reservations?day=demain")
    assert bad_day.status_code == 422


async def test_the_maker_cannot_approve_another_manager_does(app: FastAPI, moulin: Moulin) -> None:
    async with new_browser(app) as chef, new_browser(app) as manager:
        await logged_in(chef, CHEF, DEMO_PASSWORD)
        page = await chef.get("/console/restaurant/stock")
        order = f"/console/restaurant/orders/{moulin.order_id}"

        bad = await submit(chef, page, f"{order}/packs", {"sku": "TG-FAR-10", "packs": "zéro"})
        assert bad.status_code == 422 and "entre 1 et 9999" in text_of(bad)
        changed = await submit(chef, page, f"{order}/packs", {"sku": "TG-FAR-10", "packs": "3"})
        assert changed.status_code == 303
        page = await chef.get(changed.headers["location"])
        assert "Quantité changée" in text_of(page) and "Préparée par Julien Morel" in text_of(page)
        assert "une autre personne doit l'approuver" in text_of(page)

        refused = await submit(chef, page, f"{order}/approve")
        assert refused.status_code == 403
        assert "Refusé : La personne qui a préparé la commande ne peut pas l'approuver." in text_of(refused)
        async with app.state.sessionmaker() as session:
            row = await session.get(PurchaseOrder, moulin.order_id)
            assert row is not None and row.status == "draft" and row.total == 3 * 690

        await logged_in(manager, MANAGER, DEMO_PASSWORD)
        page = await manager.get("/console/restaurant/stock")
        approved = await submit(manager, page, f"{order}/approve")
        assert approved.status_code == 303
        page = await manager.get(approved.headers["location"])
        words = text_of(page)
        assert f"Commande {moulin.reference} approuvée" in words and "Claire Martin" in words
        assert "Aucune commande à approuver." in words

        again = await submit(manager, page, f"{order}/approve")  # a second tap: refused, nothing changes
        assert again.status_code == 409 and "Seul un brouillon peut être approuvé" in text_of(again)
    async with app.state.sessionmaker() as session:
        row = await session.get(PurchaseOrder, moulin.order_id)
        manager_id = await session.scalar(select(User.id).where(User.email == MANAGER))
        assert row is not None and row.status == "approved" and row.approved_by == manager_id


async def test_read_only_role_and_other_organisations_are_refused(
    app: FastAPI, moulin: Moulin, client: httpx.AsyncClient
) -> None:
    tokens = await login(client, email=MANAGER, password=DEMO_PASSWORD)
    async with app.state.sessionmaker() as session:
        manager_id = await session.scalar(select(User.id).where(User.email == MANAGER))
    assert manager_id is not None
    owner = Actor(
        manager_id, moulin.organization_id, MANAGER, DEMO_PASSWORD, tokens["access_token"], tokens["refresh_token"],
        "owner",
    )  # fmt: skip
    supervisor = await add_member(client, owner, role="superviseur")
    outsider = await create_org_with_user(client)
    order = f"/console/restaurant/orders/{moulin.order_id}"
    async with new_browser(app) as reader, new_browser(app) as stranger:
        home = await logged_in(reader, supervisor.email, supervisor.password)
        assert 'href="/console/restaurant"' not in home.text
        page = await reader.get("/console/restaurant/stock")
        assert page.status_code == 200 and "Approuver la commande" not in text_of(page)
        assert (await submit(reader, page, f"{order}/approve")).status_code == 403
        connections = await reader.get("/console/restaurant/connections")
        assert "Connecter Square" not in text_of(connections)
        assert (await submit(reader, connections, "/console/restaurant/connections/square/connect")).status_code == 403

        await logged_in(stranger, outsider.email, outsider.password)
        page = await stranger.get("/console/restaurant/stock")
        assert page.status_code == 200 and moulin.reference not in page.text
        assert (await submit(stranger, page, f"{order}/packs", {"sku": "TG-FAR-10", "packs": "9"})).status_code == 404
        assert moulin.reference not in (await stranger.get("/console/restaurant/connections")).text


async def test_health_and_sync_errors_shown_sync_queued_connect_link_and_disconnect(
    app: FastAPI, moulin: Moulin, browser: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing Lightspeed connection (no tokens: revoking it calls nobody) and a failed sales run are visible;
    "sync now" queues the API's job; with the platform's Square app configured, connect stores one state and shows
    Square's link; disconnect leaves the card "déconnecté" with a reconnect button."""
    async with unit_of_work(app.state.sessionmaker) as session:
        row = RestaurantConnection(
            organization_id=moulin.organization_id, provider="lightspeed", kind="pos", status="error",
            scopes=["employee:all"], merchant_id="424242", refreshable=False, last_success_at=utcnow(),
            last_error_at=utcnow(), last_error_code="provider_rate_limited", last_error_message="429 Too Many Requests",
        )  # fmt: skip
        session.add(row)
        await session.flush()
        session.add(
            SyncCheckpoint(
                connection_id=row.id, kind="sales", status="error", pages=3, seen=300, written=12,
                run_started_at=utcnow(), last_error_at=utcnow(), last_error_code="provider_bad_shape",
                last_error_message="page 4: 'orders' missing",
            )
        )  # fmt: skip
    await logged_in(browser, MANAGER, DEMO_PASSWORD)
    connections = await browser.get("/console/restaurant/connections")
    words = text_of(connections)
    assert "Lightspeed Retail" in words and "en erreur" in words and "employee:all" in words and "424242" in words
    assert "provider_rate_limited — 429 Too Many Requests" in words and "Déconnecter" in words

    sync = await browser.get("/console/restaurant/sync")
    words = text_of(sync)
    assert "Ventes" in words and "provider_bad_shape — page 4: 'orders' missing" in words and "300" in words
    queued = await submit(browser, sync, "/console/restaurant/connections/lightspeed/sync/sales")
    assert queued.status_code == 303
    assert "Synchronisation demandée" in text_of(await browser.get(queued.headers["location"]))
    async with app.state.sessionmaker() as session:
        jobs = await session.scalar(select(func.count()).select_from(Job).where(Job.kind == SYNC_JOB))
        assert jobs == 1
    unknown = await submit(browser, sync, "/console/restaurant/connections/lightspeed/sync/recipes")
    assert unknown.status_code == 422

    configured = app.state.settings.model_copy(update={"restaurant_square_client_id": "sq0idp-console-test"})
    # Restored by hand: the app (and its settings) is shared by the whole session's console tests.
    original, app.state.settings = app.state.settings, configured
    try:
        started = await submit(browser, connections, "/console/restaurant/connections/square/connect")
        assert started.status_code == 200 and "Continuer chez Square" in text_of(started)
        link = re.search(r'href="([^"]+)"[^>]*data-testid="authorize"', started.text)
        assert link and link.group(1).startswith(configured.restaurant_square_url)
        assert "state=" in link.group(1) and "code_challenge=" in link.group(1)
        async with app.state.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(OAuthState)) == 1
    finally:
        app.state.settings = original

    gone = await submit(browser, connections, "/console/restaurant/connections/lightspeed/disconnect")
    assert gone.status_code == 303
    page = await browser.get(gone.headers["location"])
    words = text_of(page)
    assert "Lightspeed Retail est déconnecté." in words and "Reconnecter Lightspeed Retail" in words
    async with app.state.sessionmaker() as session:
        status = await session.scalar(select(RestaurantConnection.status).where(RestaurantConnection.id == row.id))
        assert status == "revoked"
