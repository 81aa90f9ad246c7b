"""What the hub does for the restaurant: recipes map each dish sold to its ingredients, so completed sales
synced from the POS decrement ingredient stock (once per sale line, whatever the re-syncs and webhooks); an
ingredient falling under its threshold raises one alert and drafts one purchase order from the cheapest available
supplier (price per unit across pack sizes); a manager other than the order's maker approves it.

Runs as the sales sync's page hook: the stock moves in the transaction that stores the sale.
"""

from __future__ import annotations

import math
import secrets
import uuid
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.core.errors import Conflict, Forbidden, NotFound, field_error
from cauri.restaurant.models import (
    Ingredient,
    OrderStatus,
    PurchaseOrder,
    RecipeLine,
    RestaurantConnection,
    StockAlert,
    StockMovement,
    SupplierProductLink,
)
from cauri.restaurant.sync import Written

log = structlog.get_logger(__name__)

COMPLETED = "completed"


def milli(quantity: str | Decimal | int) -> int:
    return int((Decimal(str(quantity)) * 1000).to_integral_value())


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def move_stock(
    session: AsyncSession, organization_id: uuid.UUID, ingredient_id: uuid.UUID, *, delta: int, reason: str, ref: str
) -> bool:
    """Apply one stock movement once (its reference is unique); False when it was already applied."""
    statement = (
        _insert(session)(StockMovement)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            ingredient_id=ingredient_id,
            delta_milli=delta,
            reason=reason,
            reference=ref[:250],
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "reference"])
    )
    if (await session.execute(statement)).rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Ingredient)
        .where(Ingredient.id == ingredient_id)
        .values(stock_milli=Ingredient.stock_milli + delta)
        .execution_options(synchronize_session=False)
    )
    return True


async def on_sales_page(session: AsyncSession, connection: RestaurantConnection, written: list[Written]) -> None:
    """The sales sync's hook: a sale that became completed takes its ingredients out of stock; a completed sale
    that was cancelled puts them back. One query for the page's recipes (a page holds up to 1,000 sales)."""
    organization_id = connection.organization_id
    changes: list[tuple[Written, int, str]] = []
    for record in written:
        if record.kind != "sales":
            continue
        now_completed = record.data.get("state") == COMPLETED
        was_completed = record.previous is not None and record.previous.get("state") == COMPLETED
        if now_completed != was_completed:
            changes.append((record, *((-1, "sale") if now_completed else (1, "sale_cancelled"))))
    items = {
        line["item_id"] for record, _, _ in changes for line in record.data.get("lines") or [] if line.get("item_id")
    }
    if not items:
        return
    recipes: dict[str, list[RecipeLine]] = {}
    for recipe_line in (
        await session.execute(
            select(RecipeLine).where(RecipeLine.organization_id == organization_id, RecipeLine.pos_item_id.in_(items))
        )
    ).scalars():
        recipes.setdefault(recipe_line.pos_item_id, []).append(recipe_line)
    touched: set[uuid.UUID] = set()
    for record, sign, reason in changes:
        for n, line in enumerate(record.data.get("lines") or []):
            for ingredient in recipes.get(line.get("item_id") or "", []):
                amount = ingredient.quantity_milli * Decimal(str(line["quantity"]))
                ref = f"{reason}:{connection.provider}:{record.external_id}:{n}:{ingredient.ingredient_id}"
                if await move_stock(
                    session, organization_id, ingredient.ingredient_id, delta=sign * int(amount), reason=reason, ref=ref
                ):
                    touched.add(ingredient.ingredient_id)
    for ingredient_id in touched:
        await check_threshold(session, organization_id, ingredient_id)


async def check_threshold(session: AsyncSession, organization_id: uuid.UUID, ingredient_id: uuid.UUID) -> None:
    """Under its threshold, with no open alert: one alert, and one draft order if a supplier carries it."""
    ingredient = await session.get(Ingredient, ingredient_id, populate_existing=True)
    if ingredient is None or ingredient.stock_milli >= ingredient.threshold_milli:
        return
    alert_id = uuid.uuid4()
    claimed = await session.execute(
        _insert(session)(StockAlert)
        .values(
            id=alert_id,
            organization_id=organization_id,
            ingredient_id=ingredient_id,
            open_key=str(ingredient_id),
            status="pending",
            stock_milli=ingredient.stock_milli,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "open_key"])
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return  # an alert is already open (and its order drafted): never a second order
    order = await draft_order(session, ingredient)
    await session.execute(
        update(StockAlert)
        .where(StockAlert.id == alert_id)
        .values(status="ordered" if order else "no_supplier", order_id=order.id if order else None)
        .execution_options(synchronize_session=False)
    )
    log.info("restaurant_stock_alert", ingredient=ingredient.name, drafted=order is not None)


async def draft_order(session: AsyncSession, ingredient: Ingredient) -> PurchaseOrder | None:
    """A draft from the cheapest available supplier per unit, enough packs for the reorder quantity."""
    offers = list(
        (
            await session.execute(
                select(SupplierProductLink).where(
                    SupplierProductLink.ingredient_id == ingredient.id, SupplierProductLink.available.is_(True)
                )
            )
        ).scalars()
    )
    if not offers:
        return None  # no supplier carries it: the alert says so, a manager acts
    best = min(offers, key=lambda o: (Decimal(o.price) / o.pack_milli, o.supplier, o.sku))
    wanted = max(ingredient.reorder_milli, ingredient.threshold_milli - ingredient.stock_milli, 1)
    packs = math.ceil(wanted / best.pack_milli)
    order = PurchaseOrder(
        organization_id=ingredient.organization_id,
        supplier=best.supplier,
        reference=f"LVM-{utcnow():%Y%m%d}-{secrets.token_hex(4).upper()}",
        status=OrderStatus.DRAFT.value,
        lines=[
            {
                "sku": best.sku,
                "name": best.name,
                "packs": packs,
                "unit_price": best.price,
                "ingredient_id": str(ingredient.id),
                "pack_milli": best.pack_milli,
            }
        ],
        total=packs * best.price,
        currency=best.currency,
    )
    session.add(order)
    await session.flush()
    return order


async def get_order(session: AsyncSession, organization_id: uuid.UUID, order_id: uuid.UUID) -> PurchaseOrder:
    order = await session.get(PurchaseOrder, order_id)
    if order is None or order.organization_id != organization_id:
        raise NotFound("Commande introuvable.", "Order not found.", code="restaurant_order_not_found")
    return order


async def approve(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID, approver: uuid.UUID | None
) -> PurchaseOrder:
    """Maker ≠ checker: whoever drafted or changed the order cannot approve it."""
    order = await get_order(session, organization_id, order_id)
    if order.status != OrderStatus.DRAFT.value:
        raise Conflict(
            f"Seul un brouillon peut être approuvé (statut : {order.status}).",
            f"Only a draft can be approved (status: {order.status}).",
            code="restaurant_order_not_draft",
        )
    if approver is None or approver == order.drafted_by:
        raise Forbidden(
            "La personne qui a préparé la commande ne peut pas l'approuver.",
            "The person who prepared the order cannot approve it.",
            code="restaurant_order_same_person",
        )
    order.status = OrderStatus.APPROVED.value
    order.approved_by = approver
    order.approved_at = utcnow()
    return order


async def change_packs(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    order_id: uuid.UUID,
    sku: str,
    packs: int,
    editor: uuid.UUID | None,
) -> PurchaseOrder:
    """A manager changes a draft's quantity: they become its maker (another must approve)."""
    order = await get_order(session, organization_id, order_id)
    if order.status != OrderStatus.DRAFT.value:
        raise Conflict(
            "Seul un brouillon peut être modifié.", "Only a draft can be changed.", code="restaurant_order_not_draft"
        )
    if packs < 1:
        raise field_error("packs", "too_small", "Au moins un colis.", "At least one pack.")
    lines = [dict(line) for line in order.lines]
    for line in lines:
        if line["sku"] == sku:
            line["packs"] = packs
            break
    else:
        raise field_error(
            "sku", "unknown_sku", "Ce produit n'est pas dans la commande.", "This product is not in the order."
        )
    order.lines = lines
    order.total = sum(int(line["packs"]) * int(line["unit_price"]) for line in lines)
    order.drafted_by = editor
    return order


async def open_alerts(session: AsyncSession, organization_id: uuid.UUID) -> list[tuple[StockAlert, Ingredient]]:
    rows = await session.execute(
        select(StockAlert, Ingredient)
        .join(Ingredient, Ingredient.id == StockAlert.ingredient_id)
        .where(StockAlert.organization_id == organization_id, StockAlert.open_key.is_not(None))
        .order_by(StockAlert.created_at)
    )
    return [(alert, ingredient) for alert, ingredient in rows]
