"""From the draft to the paid invoice: sent to a supplier's API once (or by e-mail with its EDI message), the
delivery into stock, the invoice matched to the delivery and recorded as a ledger payable, then posted when paid."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.ledger import service as ledger
from cauri.notifications.models import Notification
from cauri.restaurant import sync
from tests.restaurant.conftest import ServedSquare, ServedSupplier
from tests.restaurant.support import Connected, connected_restaurant

API = "/api/v1/restaurant"


async def _draft(  # noqa: PLR0917 - the fixtures it needs, in the tests' order
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    square: ServedSquare,
    shop: Connected,
    supplier: str,
) -> dict[str, Any]:
    """Oil under its threshold after a sale: a draft order to ``supplier``."""
    oil = await client.post(
        f"{API}/ingredients",
        json={"name": "Huile d'olive", "unit": "l", "stock": "3", "threshold": "2", "reorder": "10"},
        headers=shop.actor.headers,
    )
    await client.post(
        f"{API}/supplier-products",
        json={
            "supplier": supplier,
            "sku": "OIL-5",
            "name": "Huile d'olive vierge extra 5 l",
            "ingredient_id": oil.json()["id"],
            "pack_size": "5",
            "price": 3450,
            "currency": "EUR",
        },
        headers=shop.actor.headers,
    )
    salad = square.simulator.add_item("Salade niçoise", 1450)
    await client.put(
        f"{API}/recipes/{salad}",
        json={"lines": [{"ingredient_id": oil.json()["id"], "quantity": "0.05"}]},
        headers=shop.actor.headers,
    )
    square.simulator.add_order([(salad, 30)], location_id=shop.location_id)  # 1.5 l: 1.5 left, under 2
    await sync.run_sync(sessionmaker, settings, connection_id=shop.connection_id, kind="sales")
    (draft,) = (await client.get(f"{API}/orders?status=draft", headers=shop.actor.headers)).json()["items"]
    return dict(draft)


async def test_api_supplier_from_draft_to_paid_invoice(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
    metro: ServedSupplier,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    metro.simulator.add_product("OIL-5", "Huile d'olive vierge extra 5 l", "l", "5", 3450)
    configured = await client.put(
        f"{API}/suppliers/metro",
        json={"channel": "api", "base_url": metro.url, "api_key": "metro-test-key"},
        headers=shop.actor.headers,
    )
    assert configured.status_code == 200, configured.text
    draft = await _draft(client, sessionmaker, restaurant_settings, square, shop, "metro")
    assert (draft["lines"][0]["packs"], draft["total"]) == (2, 6900)
    early = await client.post(f"{API}/orders/{draft['id']}/send", headers=shop.actor.headers)
    assert (early.status_code, early.json()["code"]) == (409, "restaurant_order_wrong_status")  # not approved
    approver = await _second_manager(client, shop)
    assert (await client.post(f"{API}/orders/{draft['id']}/approve", headers=approver.headers)).status_code == 200

    metro.simulator.faults.error_after_order = 1  # the order is taken, its answer lost: retried, still one order
    sent = await client.post(f"{API}/orders/{draft['id']}/send", headers=shop.actor.headers)
    assert sent.status_code == 200, sent.text
    assert (sent.json()["status"], sent.json()["channel"]) == ("sent", "api")
    assert sent.json()["supplier_order_id"].startswith("METRO-")
    assert metro.simulator.created(draft["reference"]) == 1

    wrong = await client.post(
        f"{API}/orders/{draft['id']}/delivery",
        json={"lines": [{"sku": "NOPE", "packs": 1}]},
        headers=shop.actor.headers,
    )
    assert (wrong.status_code, wrong.json()["field"]) == (422, "lines")
    delivered = await client.post(
        f"{API}/orders/{draft['id']}/delivery",
        json={"lines": [{"sku": "OIL-5", "packs": 2}]},
        headers=shop.actor.headers,
    )
    assert delivered.status_code == 200, delivered.text
    stock = {
        i["name"]: i["stock"]
        for i in (await client.get(f"{API}/ingredients", headers=shop.actor.headers)).json()["items"]
    }
    assert Decimal(stock["Huile d'olive"]) == Decimal("11.5")  # 1.5 l + 2 x 5 l
    assert (await client.get(f"{API}/alerts", headers=shop.actor.headers)).json()["items"] == []  # closed

    mismatch = await client.post(
        f"{API}/orders/{draft['id']}/invoice",
        json={"number": "F-2026-118", "total": 7000, "currency": "EUR"},
        headers=shop.actor.headers,
    )
    assert (mismatch.status_code, mismatch.json()["field"]) == (422, "total")
    assert mismatch.json()["expected_total"] == 6900
    invoiced = await client.post(
        f"{API}/orders/{draft['id']}/invoice",
        json={"number": "F-2026-118", "total": 6900, "currency": "EUR"},
        headers=shop.actor.headers,
    )
    assert invoiced.status_code == 200, invoiced.text
    async with sessionmaker() as session:
        payable = await ledger.get_or_create_account(
            session,
            organization_id=shop.actor.organization_id,
            currency="EUR",
            code="supplier_payable",
            owner_ref="metro",
        )
        owed = await ledger.balance(session, payable.id)
        await session.rollback()
    assert (owed.credits_pending, owed.credits_posted) == (6900, 0)  # a payable: owed, not yet paid
    paid = await client.post(f"{API}/orders/{draft['id']}/pay", headers=shop.actor.headers)
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    async with sessionmaker() as session:
        settled = await ledger.balance(session, payable.id)
    assert (settled.credits_pending, settled.credits_posted) == (0, 6900)
    again = await client.post(f"{API}/orders/{draft['id']}/pay", headers=shop.actor.headers)
    assert again.status_code == 409


async def test_supplier_without_api_gets_the_order_by_email_once(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    missing = await client.put(f"{API}/suppliers/pomona", json={"channel": "email"}, headers=shop.actor.headers)
    assert (missing.status_code, missing.json()["field"]) == (422, "email")
    await client.put(
        f"{API}/suppliers/pomona",
        json={"channel": "email", "email": "commandes@pomona.example"},
        headers=shop.actor.headers,
    )
    draft = await _draft(client, sessionmaker, restaurant_settings, square, shop, "pomona")
    approver = await _second_manager(client, shop)
    await client.post(f"{API}/orders/{draft['id']}/approve", headers=approver.headers)
    sent = await client.post(f"{API}/orders/{draft['id']}/send", headers=shop.actor.headers)
    assert (sent.status_code, sent.json()["channel"]) == (200, "email")
    async with sessionmaker() as session:
        mails = list(
            (
                await session.execute(select(Notification).where(Notification.recipient == "commandes@pomona.example"))
            ).scalars()
        )
    (mail,) = [m for m in mails if draft["reference"] in m.subject]
    assert mail.channel == "email"
    assert f"UNH+{draft['reference']}+ORDERS:D:96A:UN:EAN008'" in mail.body
    assert "QTY+21:2'" in mail.body and "69.00 EUR" in mail.body


async def test_an_unconfigured_supplier_is_a_clear_error(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    restaurant_settings: Settings,
    square: ServedSquare,
) -> None:
    shop = await connected_restaurant(client, sessionmaker, square.simulator)
    draft = await _draft(client, sessionmaker, restaurant_settings, square, shop, "transgourmet")
    approver = await _second_manager(client, shop)
    await client.post(f"{API}/orders/{draft['id']}/approve", headers=approver.headers)
    refused = await client.post(f"{API}/orders/{draft['id']}/send", headers=shop.actor.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "restaurant_supplier_not_configured")


async def _second_manager(client: httpx.AsyncClient, shop: Connected) -> Any:
    from tests.support.identity import add_member

    return await add_member(client, shop.actor, role="admin")
