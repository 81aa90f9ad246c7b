"""The restaurant demo ``cauri demo`` seeds: Le Vieux Moulin (seed 001) with a manager and a second one for
maker–checker, its ingredients (stock, thresholds), the products three suppliers sell for them (pack sizes and
prices, so the cheapest per unit is chosen), and how to order from each (Pomona by e-mail; Metro and Transgourmet
need their API address and key: `cauri simulate metro` serves one). Connecting Square is the manager's OAuth flow
(`cauri simulate square` and `CAURI_RESTAURANT_SQUARE_*`, docs/restaurant.md).

Idempotent: rows are found by their natural keys before they are added.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.identity.models import Organization
from cauri.identity.permissions import Role
from cauri.identity.seeding import DemoOrganization, DemoSummary, DemoUser, ensure_organization
from cauri.restaurant.kitchen import milli
from cauri.restaurant.models import Ingredient, RestaurantConnection, SupplierProductLink
from cauri.restaurant.purchasing import SUPPLIER

DEMO_ORG_SLUG = "le-vieux-moulin-demo"
CURRENCY = "EUR"

RESTAURANT = DemoOrganization(
    slug=DEMO_ORG_SLUG,
    name="Le Vieux Moulin (démo)",
    region="FR",
    maker_checker=True,
    users=(
        DemoUser("gerante@vieuxmoulin.demo.cauri.africa", "Claire Martin", Role.OWNER),
        DemoUser("chef@vieuxmoulin.demo.cauri.africa", "Julien Morel", Role.ADMIN),
    ),
)

# name, unit, stock, threshold, reorder
INGREDIENTS = (
    ("Farine T55", "kg", "18", "8", "25"),
    ("Huile d'olive", "l", "6", "4", "10"),
    ("Beurre doux", "kg", "3", "2", "5"),
    ("Tomates", "kg", "9", "5", "15"),
)
# supplier, sku, name, ingredient, pack size, price per pack (cents)
PRODUCTS = (
    ("metro", "MET-FAR-25", "Farine T55 25 kg", "Farine T55", "25", 1850),
    ("transgourmet", "TG-FAR-10", "Farine T55 10 kg", "Farine T55", "10", 690),
    ("metro", "MET-OIL-5", "Huile d'olive vierge extra 5 l", "Huile d'olive", "5", 3450),
    ("transgourmet", "TG-BEU-1", "Beurre doux 1 kg", "Beurre doux", "1", 890),
    ("pomona", "POM-TOM-5", "Tomates grappe 5 kg", "Tomates", "5", 1250),
)


async def seed(session: AsyncSession, settings: Settings) -> DemoSummary:
    organization: Organization = await ensure_organization(session, settings, RESTAURANT)
    org_id = organization.id
    existing = {
        row.name: row
        for row in (await session.execute(select(Ingredient).where(Ingredient.organization_id == org_id))).scalars()
    }
    for name, unit, stock, threshold, reorder in INGREDIENTS:
        if name not in existing:
            existing[name] = Ingredient(
                organization_id=org_id,
                name=name,
                unit=unit,
                stock_milli=milli(stock),
                threshold_milli=milli(threshold),
                reorder_milli=milli(reorder),
            )
            session.add(existing[name])
    await session.flush()
    known = set(
        (await session.execute(select(SupplierProductLink.sku).where(SupplierProductLink.organization_id == org_id)))
        .scalars()
        .all()
    )
    for supplier, sku, name, ingredient, pack, price in PRODUCTS:
        if sku not in known:
            session.add(
                SupplierProductLink(
                    organization_id=org_id,
                    supplier=supplier,
                    sku=sku,
                    name=name,
                    ingredient_id=existing[ingredient].id,
                    pack_milli=milli(pack),
                    price=price,
                    currency=CURRENCY,
                )
            )
    pomona = await session.scalar(
        select(RestaurantConnection.id).where(
            RestaurantConnection.organization_id == org_id, RestaurantConnection.provider == "pomona"
        )
    )
    if pomona is None:
        session.add(
            RestaurantConnection(
                organization_id=org_id,
                provider="pomona",
                kind=SUPPLIER,
                settings={"channel": "email", "email": "commandes@pomona.demo.cauri.africa", "base_url": None},
                refreshable=False,
                pkce=False,
            )
        )
    await session.flush()
    return DemoSummary(organization.name, org_id, 0, CURRENCY, RESTAURANT.users)
