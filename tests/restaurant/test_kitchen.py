"""Sales synced from the POS take their ingredients out of stock once; an ingredient under its threshold raises one
alert and one draft order from the cheapest available supplier (per unit, across pack sizes); maker ≠ checker."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.restaurant import sync
from tests.restaurant.conftest import ServedSquare
from tests.restaurant.support import Connected, connected_restaurant
from tests.support.identity import add_member

API = "/api/v1/restaurant"


async def _ingredient(client: httpx.AsyncClient, shop: Connected, name: str, stock: str, threshold: str) -> str:
    made = await client.post(
        f"{API}/ingredients",
        json={"name": name, "unit": "kg", "stock": stock, "threshold": threshold, "reorder": "20"},
        headers=shop.actor.headers,
    )
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


async def _stock(client: httpx.AsyncClient, shop: Connected) -> dict[str, Decimal]:
    listed = await client.get(f"{API}/ingredients", headers=shop.actor.headers)
    return {i["name"]: Decimal(i["stock"]) for i in listed.json()["items"]}


async def _sync(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, shop: Connected) -> sync.SyncReport:
    report = await sync.run_sync(sessionmaker, settings, connection_id=shop.connection_id, kind="sales")
    assert report.status == "idle", report
    return report


async def test_sales_decrement_stock_once_and_a_threshold_drafts_one_order_from_the_cheapest_supplier(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    flour = await _ingredient(client, shop, "Farine T55", "10", "4")
    offers = [
        ("metro", "MET-FAR-25", "25", 1850, True),  # 0.74 €/kg
        ("transgourmet", "TG-FAR-10", "10", 690, True),  # 0.69 €/kg: the cheapest available
        ("pomona", "POM-FAR-5", "5", 300, False),  # 0.60 €/kg, but not available
    ]
    for supplier, sku, pack, price, available in offers:
        added = await client.post(
            f"{API}/supplier-products",
            json={
                "supplier": supplier,
                "sku": sku,
                "name": f"Farine T55 {pack} kg",
                "ingredient_id": flour,
                "pack_size": pack,
                "price": price,
                "currency": "EUR",
                "available": available,
            },
            headers=shop.actor.headers,
        )
        assert added.status_code == 200, added.text
    tart = square.simulator.add_item("Tarte Tatin", 850)
    recipe = await client.put(
        f"{API}/recipes/{tart}",
        json={"lines": [{"ingredient_id": flour, "quantity": "0.25"}]},
        headers=shop.actor.headers,
    )
    assert recipe.status_code == 200, recipe.text

    first = square.simulator.add_order([(tart, 20)], location_id=shop.location_id)
    await _sync(sessionmaker, restaurant_settings, shop)
    assert (await _stock(client, shop))["Farine T55"] == Decimal(5)
    assert (await client.get(f"{API}/alerts", headers=shop.actor.headers)).json()["items"] == []

    square.simulator.add_order([(tart, 8)], location_id=shop.location_id)
    square.simulator.add_order([(tart, 4)], location_id=shop.location_id, state="OPEN")  # not sold yet
    await _sync(sessionmaker, restaurant_settings, shop)
    await _sync(sessionmaker, restaurant_settings, shop)  # a re-sync moves nothing twice
    assert (await _stock(client, shop))["Farine T55"] == Decimal(3)
    (alert,) = (await client.get(f"{API}/alerts", headers=shop.actor.headers)).json()["items"]
    assert (alert["ingredient"], alert["status"]) == ("Farine T55", "ordered")
    (draft,) = (await client.get(f"{API}/orders?status=draft", headers=shop.actor.headers)).json()["items"]
    assert draft["id"] == alert["order_id"]
    assert (draft["supplier"], draft["lines"][0]["sku"], draft["lines"][0]["packs"]) == ("transgourmet", "TG-FAR-10", 2)
    assert (draft["total"], draft["currency"]) == (1380, "EUR")

    square.simulator.add_order([(tart, 4)], location_id=shop.location_id)
    await _sync(sessionmaker, restaurant_settings, shop)
    assert (await _stock(client, shop))["Farine T55"] == Decimal(2)
    assert len((await client.get(f"{API}/orders", headers=shop.actor.headers)).json()["items"]) == 1  # never two

    square.simulator.update_order(first, state="CANCELED")  # a completed sale cancelled: its flour comes back
    await _sync(sessionmaker, restaurant_settings, shop)
    assert (await _stock(client, shop))["Farine T55"] == Decimal(7)


async def test_an_ingredient_no_supplier_carries_is_an_alert_without_an_order(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    saffron = await _ingredient(client, shop, "Safran", "0.010", "0.005")
    bouillabaisse = square.simulator.add_item("Bouillabaisse", 2400)
    await client.put(
        f"{API}/recipes/{bouillabaisse}",
        json={"lines": [{"ingredient_id": saffron, "quantity": "0.002"}]},
        headers=shop.actor.headers,
    )
    square.simulator.add_order([(bouillabaisse, 3)], location_id=shop.location_id)
    await _sync(sessionmaker, restaurant_settings, shop)
    (alert,) = (await client.get(f"{API}/alerts", headers=shop.actor.headers)).json()["items"]
    assert (alert["status"], alert["order_id"]) == ("no_supplier", None)
    assert (await client.get(f"{API}/orders", headers=shop.actor.headers)).json()["items"] == []


async def test_the_maker_of_an_order_cannot_approve_it(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    butter = await _ingredient(client, shop, "Beurre", "1", "2")
    await client.post(
        f"{API}/supplier-products",
        json={
            "supplier": "metro",
            "sku": "MET-BEU-1",
            "name": "Beurre doux 1 kg",
            "ingredient_id": butter,
            "pack_size": "1",
            "price": 890,
            "currency": "EUR",
        },
        headers=shop.actor.headers,
    )
    croissant = square.simulator.add_item("Croissant", 180)
    await client.put(
        f"{API}/recipes/{croissant}",
        json={"lines": [{"ingredient_id": butter, "quantity": "0.05"}]},
        headers=shop.actor.headers,
    )
    square.simulator.add_order([(croissant, 2)], location_id=shop.location_id)
    await _sync(sessionmaker, restaurant_settings, shop)
    (draft,) = (await client.get(f"{API}/orders?status=draft", headers=shop.actor.headers)).json()["items"]
    admin = await add_member(client, shop.actor, role="admin")
    edited = await client.patch(
        f"{API}/orders/{draft['id']}/lines/MET-BEU-1", json={"packs": 25}, headers=admin.headers
    )
    assert (edited.status_code, edited.json()["total"]) == (200, 25 * 890)
    refused = await client.post(f"{API}/orders/{draft['id']}/approve", headers=admin.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "restaurant_order_same_person")
    member = await add_member(client, shop.actor, role="member")
    assert (await client.post(f"{API}/orders/{draft['id']}/approve", headers=member.headers)).status_code == 403
    approved = await client.post(f"{API}/orders/{draft['id']}/approve", headers=shop.actor.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    twice = await client.post(f"{API}/orders/{draft['id']}/approve", headers=shop.actor.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "restaurant_order_not_draft")
    other = await connected_restaurant(client, sessionmaker, square.simulator)
    assert (await client.post(f"{API}/orders/{draft['id']}/approve", headers=other.actor.headers)).status_code == 404


async def test_the_demo_restaurant_is_seeded_once(restaurant_settings: Settings, client: httpx.AsyncClient) -> None:
    from cauri.demo import seed_demo
    from cauri.identity.seeding import DEMO_PASSWORD
    from cauri.restaurant.demo import RESTAURANT

    first = await seed_demo(restaurant_settings)
    await seed_demo(restaurant_settings)
    [restaurant] = [o for o in first.organizations if o.organization == RESTAURANT.name]
    login = await client.post(
        "/api/v1/auth/login", json={"email": RESTAURANT.users[0].email, "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    ingredients = (await client.get(f"{API}/ingredients", headers=headers)).json()["items"]
    assert sorted(i["name"] for i in ingredients) == ["Beurre doux", "Farine T55", "Huile d'olive", "Tomates"]
    assert restaurant.currency == "EUR"
