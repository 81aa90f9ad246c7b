"""``/restaurant``: ingredients, recipes, supplier products, stock alerts and purchase orders to approve."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from cauri.core.deps import SettingsDep, client_address
from cauri.core.errors import NotFound
from cauri.core.pagination import Page
from cauri.core.principal import Principal
from cauri.core.routing import SessionDep, api_router
from cauri.identity.audit import record_audit
from cauri.identity.models import Organization
from cauri.identity.permissions import Perm, require, require_org
from cauri.restaurant import kitchen, purchasing
from cauri.restaurant.models import Ingredient, PurchaseOrder, RecipeLine, SupplierProductLink
from cauri.restaurant.schemas import (
    AlertRead,
    DeliveryWrite,
    IngredientRead,
    IngredientWrite,
    InvoiceWrite,
    OrderRead,
    PacksWrite,
    RecipeWrite,
    SupplierProductWrite,
    SupplierWrite,
)

router = api_router(tags=["restaurant"])  # included by router.py under /restaurant

# Running the kitchen is the organisation's managers' (owner, admin); reading is every member's.
Manager = Annotated[Principal, Depends(require(Perm.ORG_MANAGE))]
Reader = Annotated[Principal, Depends(require(Perm.ORG_READ))]
CredentialsManager = Annotated[Principal, Depends(require(Perm.CONNECTORS_MANAGE))]
THOUSAND = Decimal(1000)


def _ingredient(row: Ingredient) -> IngredientRead:
    return IngredientRead(
        id=row.id,
        name=row.name,
        unit=row.unit,
        stock=Decimal(row.stock_milli) / THOUSAND,
        threshold=Decimal(row.threshold_milli) / THOUSAND,
        reorder=Decimal(row.reorder_milli) / THOUSAND,
    )


def _order(row: PurchaseOrder) -> OrderRead:
    return OrderRead(
        id=row.id,
        supplier=row.supplier,
        reference=row.reference,
        status=row.status,
        lines=list(row.lines),
        total=row.total,
        currency=row.currency,
        drafted_by=row.drafted_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        channel=row.channel,
        supplier_order_id=row.supplier_order_id,
        sent_at=row.sent_at,
        delivered=list(row.delivered or []),
        invoice_number=row.invoice_number,
        invoice_total=row.invoice_total,
        paid_at=row.paid_at,
    )


async def _own_ingredient(session: SessionDep, organization_id: uuid.UUID, ingredient_id: uuid.UUID) -> Ingredient:
    row = await session.get(Ingredient, ingredient_id)
    if row is None or row.organization_id != organization_id:
        raise NotFound("Ingrédient introuvable.", "Ingredient not found.", code="restaurant_ingredient_not_found")
    return row


@router.post("/ingredients", summary="Add an ingredient (stock, alert threshold, quantity to reorder)")
async def add_ingredient(body: IngredientWrite, principal: Manager, session: SessionDep) -> IngredientRead:
    row = Ingredient(
        organization_id=require_org(principal),
        name=body.name,
        unit=body.unit,
        stock_milli=kitchen.milli(body.stock),
        threshold_milli=kitchen.milli(body.threshold),
        reorder_milli=kitchen.milli(body.reorder),
    )
    session.add(row)
    await session.flush()
    return _ingredient(row)


@router.get("/ingredients", summary="Ingredients and their stock (one page)")
async def list_ingredients(principal: Reader, session: SessionDep) -> Page[IngredientRead]:
    rows = await session.execute(
        select(Ingredient).where(Ingredient.organization_id == require_org(principal)).order_by(Ingredient.name)
    )
    return Page[IngredientRead](items=[_ingredient(row) for row in rows.scalars()])


@router.put("/recipes/{pos_item_id}", summary="A dish's ingredients (the POS catalogue id of what is sold)")
async def put_recipe(pos_item_id: str, body: RecipeWrite, principal: Manager, session: SessionDep) -> RecipeWrite:
    organization_id = require_org(principal)
    for line in body.lines:
        await _own_ingredient(session, organization_id, line.ingredient_id)
    existing = await session.execute(
        select(RecipeLine).where(RecipeLine.organization_id == organization_id, RecipeLine.pos_item_id == pos_item_id)
    )
    for old in existing.scalars():
        await session.delete(old)
    await session.flush()
    for line in body.lines:
        session.add(
            RecipeLine(
                organization_id=organization_id,
                pos_item_id=pos_item_id,
                ingredient_id=line.ingredient_id,
                quantity_milli=kitchen.milli(line.quantity),
            )
        )
    return body


@router.post("/supplier-products", summary="A supplier's product matched to an ingredient, with its pack size")
async def add_supplier_product(
    body: SupplierProductWrite, principal: Manager, session: SessionDep
) -> SupplierProductWrite:
    organization_id = require_org(principal)
    await _own_ingredient(session, organization_id, body.ingredient_id)
    session.add(
        SupplierProductLink(
            organization_id=organization_id,
            supplier=body.supplier,
            sku=body.sku,
            name=body.name,
            ingredient_id=body.ingredient_id,
            pack_milli=kitchen.milli(body.pack_size),
            price=body.price,
            currency=body.currency,
            available=body.available,
        )
    )
    return body


@router.get("/alerts", summary="Ingredients under their threshold (one page)")
async def list_alerts(principal: Reader, session: SessionDep) -> Page[AlertRead]:
    items = [
        AlertRead(
            id=alert.id,
            ingredient_id=ingredient.id,
            ingredient=ingredient.name,
            status=alert.status,
            stock=Decimal(ingredient.stock_milli) / THOUSAND,
            threshold=Decimal(ingredient.threshold_milli) / THOUSAND,
            order_id=alert.order_id,
            created_at=alert.created_at,
        )
        for alert, ingredient in await kitchen.open_alerts(session, require_org(principal))
    ]
    return Page[AlertRead](items=items)


@router.get("/orders", summary="Purchase orders, newest first (one page of the latest 200)")
async def list_orders(principal: Reader, session: SessionDep, status: str | None = None) -> Page[OrderRead]:
    query = select(PurchaseOrder).where(PurchaseOrder.organization_id == require_org(principal))
    if status:
        query = query.where(PurchaseOrder.status == status)
    rows = await session.execute(query.order_by(PurchaseOrder.created_at.desc()).limit(200))
    return Page[OrderRead](items=[_order(row) for row in rows.scalars()])


@router.patch("/orders/{order_id}/lines/{sku}", summary="Change a draft's quantity (its editor cannot approve it)")
async def change_packs(
    order_id: uuid.UUID, sku: str, body: PacksWrite, principal: Manager, session: SessionDep
) -> OrderRead:
    order = await kitchen.change_packs(
        session,
        organization_id=require_org(principal),
        order_id=order_id,
        sku=sku,
        packs=body.packs,
        editor=principal.person_id,
    )
    return _order(order)


@router.post("/orders/{order_id}/approve", summary="Approve a draft order (maker ≠ checker)")
async def approve_order(order_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request) -> OrderRead:
    organization_id = require_org(principal)
    order = await kitchen.approve(
        session, organization_id=organization_id, order_id=order_id, approver=principal.person_id
    )
    await record_audit(
        session,
        action="restaurant.order.approved",
        organization_id=organization_id,
        actor=principal,
        target_type="restaurant_order",
        target_id=str(order.id),
        changes={"total": order.total, "currency": order.currency, "supplier": order.supplier},
        ip=client_address(request),
    )
    return _order(order)


@router.put("/suppliers/{name}", summary="How to order from a supplier: its API (key write-only) or e-mail")
async def put_supplier(
    name: str, body: SupplierWrite, principal: CredentialsManager, session: SessionDep, settings: SettingsDep
) -> dict[str, str]:
    row = await purchasing.configure_supplier(
        session,
        settings=settings,
        organization_id=require_org(principal),
        name=name,
        channel=body.channel,
        email=body.email,
        base_url=body.base_url,
        api_key=body.api_key,
    )
    return {"name": row.provider, "channel": body.channel}


@router.post(
    "/orders/{order_id}/send",
    summary="Send an approved order to its supplier (API, or e-mail with EDI)",
    responses={429: {}, 502: {}, 504: {}},
)
async def send_order(
    order_id: uuid.UUID, principal: Manager, session: SessionDep, settings: SettingsDep, request: Request
) -> OrderRead:
    organization_id = require_org(principal)
    organization = await session.get(Organization, organization_id)
    order = await purchasing.send_order(
        session,
        sessionmaker=request.app.state.sessionmaker,
        settings=settings,
        organization_id=organization_id,
        order_id=order_id,
        buyer=organization.name if organization else "",
    )
    return _order(order)


@router.post("/orders/{order_id}/delivery", summary="Receive a delivery into stock")
async def receive_delivery(
    order_id: uuid.UUID, body: DeliveryWrite, principal: Manager, session: SessionDep
) -> OrderRead:
    received = {line.sku: line.packs for line in body.lines}
    order = await purchasing.receive_delivery(
        session, organization_id=require_org(principal), order_id=order_id, received=received
    )
    return _order(order)


@router.post("/orders/{order_id}/invoice", summary="Match the supplier's invoice; record it as a ledger payable")
async def record_invoice(order_id: uuid.UUID, body: InvoiceWrite, principal: Manager, session: SessionDep) -> OrderRead:
    order = await purchasing.record_invoice(
        session,
        organization_id=require_org(principal),
        order_id=order_id,
        number=body.number,
        total=body.total,
        currency=body.currency,
    )
    return _order(order)


@router.post("/orders/{order_id}/pay", summary="Mark the invoice paid: the payable is posted in the ledger")
async def pay_order(order_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request) -> OrderRead:
    organization_id = require_org(principal)
    order = await purchasing.mark_paid(session, organization_id=organization_id, order_id=order_id)
    await record_audit(
        session,
        action="restaurant.order.paid",
        organization_id=organization_id,
        actor=principal,
        target_type="restaurant_order",
        target_id=str(order.id),
        changes={"invoice": order.invoice_number, "total": order.invoice_total, "currency": order.currency},
        ip=client_address(request),
    )
    return _order(order)
