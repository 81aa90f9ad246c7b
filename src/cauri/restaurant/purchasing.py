"""From an approved purchase order to a paid invoice: the order goes to the supplier (its API, or an e-mail with an
EANCOM-style ORDERS message for a supplier without one), the delivery comes into stock, the supplier's invoice is
matched to the order and the delivery and recorded in the ledger as a payable (a pending transfer from the
restaurant's purchases to the supplier's payable account), which is posted when the invoice is paid.

Suppliers are connections of kind ``supplier`` (their API key encrypted like a token). Sending is safe to repeat:
our reference is the supplier API's idempotency key, and the e-mail is queued once per order (``notify()``'s key).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.restaurant.base import (
    SupplierConnector,
    SupplierOrderLine,
    SupplierOrderRequest,
)
from cauri.connectors.restaurant.suppliers.email import EmailSupplierConnector
from cauri.connectors.restaurant.suppliers.generic import PROFILES, GenericSupplierConnector, SupplierPaths
from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.errors import Conflict, ValidationFailed, field_error
from cauri.kit.errors import ConnectorError
from cauri.ledger import service as ledger
from cauri.notifications.kinds import NotificationKind, register_kind
from cauri.notifications.notify import Recipient, notify
from cauri.restaurant import connections, kitchen
from cauri.restaurant.connections import Tokens, encryptor_for
from cauri.restaurant.models import (
    ConnectionStatus,
    OrderStatus,
    PurchaseOrder,
    RestaurantConnection,
    StockAlert,
)

SUPPLIER = "supplier"
PURCHASES = "restaurant_purchases"
PAYABLE = "supplier_payable"
PAYABLE_NAMESPACE = uuid.UUID("6f1c3c1e-3b0e-4d7e-9a56-0c1d4a2b7e11")
PURCHASE_ORDER_KIND = register_kind(
    NotificationKind(
        "restaurant.purchase_order",
        channels=("email",),
        mandatory=True,  # an order to a supplier is not marketing: no preference turns it off
        urgent=True,
        templates=Path(__file__).parent / "templates",
        sample={"reference": "LVM-20261207-0A1B2C3D", "buyer": "Le Vieux Moulin", "purchase_order": "…", "edi": "…"},
    )
)


def supplier_not_configured(name: str) -> Conflict:
    return Conflict(
        f"Le fournisseur « {name} » n'est pas configuré (API ou adresse e-mail).",
        f"Supplier '{name}' is not configured (API or e-mail address).",
        code="restaurant_supplier_not_configured",
    )


def wrong_status(order: PurchaseOrder, expected: str) -> Conflict:
    return Conflict(
        f"La commande est « {order.status} » ; il faut « {expected} ».",
        f"The order is '{order.status}'; it must be '{expected}'.",
        code="restaurant_order_wrong_status",
    )


async def configure_supplier(
    session: AsyncSession,
    *,
    settings: Settings,
    organization_id: uuid.UUID,
    name: str,
    channel: str,
    email: str | None,
    base_url: str | None,
    api_key: SecretStr | None,
) -> RestaurantConnection:
    if channel == "api" and (not base_url or api_key is None):
        missing = "base_url" if not base_url else "api_key"
        raise field_error(missing, "required", "Requis pour un fournisseur avec API.", "Required for an API supplier.")
    if channel == "email" and not email:
        raise field_error("email", "required", "Requis pour commander par e-mail.", "Required to order by e-mail.")
    row = (
        await session.execute(
            select(RestaurantConnection).where(
                RestaurantConnection.organization_id == organization_id, RestaurantConnection.provider == name
            )
        )
    ).scalar_one_or_none()
    if row is None:
        row = RestaurantConnection(organization_id=organization_id, provider=name, kind=SUPPLIER)
        session.add(row)
    elif row.kind != SUPPLIER:
        raise field_error(
            "name", "taken", "Ce nom désigne déjà une autre connexion.", "This name is another connection."
        )
    row.status = ConnectionStatus.CONNECTED.value
    row.settings = {"channel": channel, "email": email, "base_url": base_url}
    row.token_ciphertext = Tokens(api_key, None).seal(encryptor_for(settings)) if api_key is not None else None
    row.refreshable = False
    row.pkce = False
    await session.flush()
    return row


def _connector(
    session: AsyncSession, settings: Settings, supplier: RestaurantConnection, order: PurchaseOrder, buyer: str
) -> SupplierConnector:
    if supplier.settings.get("channel") == "email":

        async def send(request: SupplierOrderRequest, text: str, edi: str) -> None:
            await notify(
                session,
                kind=PURCHASE_ORDER_KIND.name,
                recipient=Recipient(None, email=str(supplier.settings["email"]), language="fr"),
                context={"reference": request.reference, "buyer": buyer, "purchase_order": text, "edi": edi},
                object_id=order.id,
                organization_id=order.organization_id,
            )

        return EmailSupplierConnector(provider=supplier.provider, send=send)
    if supplier.token_ciphertext is None:
        raise supplier_not_configured(supplier.provider)
    key = Tokens.open(encryptor_for(settings), supplier.token_ciphertext).access_token
    paths: SupplierPaths = PROFILES.get(supplier.provider, SupplierPaths())
    return GenericSupplierConnector(
        provider=supplier.provider, base_url=str(supplier.settings["base_url"]), api_key=key, paths=paths
    )


async def send_order(
    session: AsyncSession,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    organization_id: uuid.UUID,
    order_id: uuid.UUID,
    buyer: str,
) -> PurchaseOrder:
    order = await kitchen.get_order(session, organization_id, order_id)
    if order.status != OrderStatus.APPROVED.value:
        raise wrong_status(order, OrderStatus.APPROVED.value)
    supplier = (
        await session.execute(
            select(RestaurantConnection).where(
                RestaurantConnection.organization_id == organization_id,
                RestaurantConnection.provider == order.supplier,
                RestaurantConnection.kind == SUPPLIER,
            )
        )
    ).scalar_one_or_none()
    if supplier is None:
        raise supplier_not_configured(order.supplier)
    request = SupplierOrderRequest(
        reference=order.reference,
        lines=tuple(
            SupplierOrderLine(str(line["sku"]), int(line["packs"]), str(line["name"]), int(line["unit_price"]))
            for line in order.lines
        ),
        currency=order.currency,
        buyer_name=buyer,
    )
    connector = _connector(session, settings, supplier, order, buyer)
    try:
        placed = await connector.place_order(request)
    except ConnectorError as exc:
        await connections.record_failure(sessionmaker, supplier.id, exc)  # visible on the supplier's health
        raise exc.to_app_error() from exc
    finally:
        await connector.aclose()
    order.status = OrderStatus.SENT.value
    order.channel = connector.channel.value
    order.supplier_order_id = placed.supplier_order_id
    order.sent_at = utcnow()
    await connections.record_success(session, supplier)
    return order


async def receive_delivery(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID, received: dict[str, int]
) -> PurchaseOrder:
    """Packs received per SKU come into stock (once per order and SKU); the ingredient's alert closes."""
    order = await kitchen.get_order(session, organization_id, order_id)
    if order.status != OrderStatus.SENT.value:
        raise wrong_status(order, OrderStatus.SENT.value)
    by_sku = {str(line["sku"]): line for line in order.lines}
    unknown = [sku for sku in received if sku not in by_sku]
    if unknown:
        raise field_error(
            "lines", "unknown_sku", f"Produit hors commande : {unknown[0]}.", f"Product not in the order: {unknown[0]}."
        )
    delivered: list[dict[str, Any]] = []
    for sku, packs in received.items():
        line = by_sku[sku]
        ingredient_id = uuid.UUID(str(line["ingredient_id"]))
        delta = packs * int(line["pack_milli"])
        await kitchen.move_stock(
            session, organization_id, ingredient_id, delta=delta, reason="delivery", ref=f"delivery:{order.id}:{sku}"
        )
        await session.execute(
            update(StockAlert)
            .where(StockAlert.organization_id == organization_id, StockAlert.open_key == str(ingredient_id))
            .values(open_key=None, status="closed")
            .execution_options(synchronize_session=False)
        )
        delivered.append({"sku": sku, "packs": packs, "unit_price": int(line["unit_price"])})
    order.delivered = delivered
    order.delivered_at = utcnow()
    order.status = OrderStatus.DELIVERED.value
    return order


async def record_invoice(
    session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID, number: str, total: int, currency: str
) -> PurchaseOrder:
    """Match the invoice to the order and what was delivered; record it as a payable (a pending transfer)."""
    order = await kitchen.get_order(session, organization_id, order_id)
    if order.status != OrderStatus.DELIVERED.value:
        raise wrong_status(order, OrderStatus.DELIVERED.value)
    if currency != order.currency:
        raise field_error(
            "currency", "currency_mismatch", "Devise différente de la commande.", "Not the order's currency."
        )
    expected = sum(int(line["packs"]) * int(line["unit_price"]) for line in order.delivered)
    if total != expected:
        error: ValidationFailed = field_error(
            "total",
            "invoice_mismatch",
            f"La facture ({total}) ne correspond pas à la livraison ({expected}, en centimes).",
            f"The invoice ({total}) does not match the delivery ({expected}, in minor units).",
        )
        error.extra = {"expected_total": expected}
        raise error
    purchases = await ledger.get_or_create_account(
        session, organization_id=organization_id, currency=currency, code=PURCHASES
    )
    payable = await ledger.get_or_create_account(
        session, organization_id=organization_id, currency=currency, code=PAYABLE, owner_ref=order.supplier
    )
    transfer_id = uuid.uuid5(PAYABLE_NAMESPACE, f"invoice:{order.id}")
    await ledger.create_transfers(
        session,
        [
            ledger.TransferSpec(
                id=transfer_id,
                debit_account_id=purchases.id,
                credit_account_id=payable.id,
                amount=total,
                code="supplier_invoice",
                pending=True,
                metadata={"order": order.reference, "invoice": number, "supplier": order.supplier},
            )
        ],
    )
    order.invoice_number = number
    order.invoice_total = total
    order.invoiced_at = utcnow()
    order.payable_transfer_id = transfer_id
    order.status = OrderStatus.INVOICED.value
    return order


async def mark_paid(session: AsyncSession, *, organization_id: uuid.UUID, order_id: uuid.UUID) -> PurchaseOrder:
    order = await kitchen.get_order(session, organization_id, order_id)
    if order.status != OrderStatus.INVOICED.value or order.payable_transfer_id is None:
        raise wrong_status(order, OrderStatus.INVOICED.value)
    await ledger.post_pending(
        session,
        id=uuid.uuid5(PAYABLE_NAMESPACE, f"paid:{order.id}"),
        pending_id=order.payable_transfer_id,
        metadata={"order": order.reference, "invoice": order.invoice_number},
    )
    order.status = OrderStatus.PAID.value
    order.paid_at = utcnow()
    return order
