"""Any supplier, without an API: the order goes out as an e-mail carrying a readable purchase order and an
EANCOM-style ORDERS message (the shape French food distribution exchanges by EDI), through a ``send`` function the
caller provides (the restaurant module passes one that queues it with ``notify()``; deduplicated per order, so a
retried order is e-mailed once). Catalogue, search and availability are the restaurant's own list of the
supplier's products (nothing to ask); the status of a sent order is unknown until the delivery is received."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from cauri.connectors.restaurant.base import (
    Page,
    SupplierChannel,
    SupplierConnector,
    SupplierOrder,
    SupplierOrderRequest,
    SupplierOrderStatus,
    SupplierProduct,
)

Send = Callable[[SupplierOrderRequest, str, str], Awaitable[None]]  # (order, purchase order text, ORDERS message)


def edi_orders(order: SupplierOrderRequest, *, buyer_gln: str = "", supplier_gln: str = "") -> str:
    """An EANCOM-style ORDERS message (UNH … UNT), one segment a line, ``'`` terminated."""
    now = datetime.now(UTC)
    segments = [
        f"UNH+{order.reference}+ORDERS:D:96A:UN:EAN008",
        f"BGM+220+{order.reference}+9",
        f"DTM+137:{now:%Y%m%d}:102",
    ]
    if order.delivery_date:
        segments.append(f"DTM+2:{order.delivery_date:%Y%m%d}:102")
    segments += [f"NAD+BY+{buyer_gln}::9", f"NAD+SU+{supplier_gln}::9"]
    for n, line in enumerate(order.lines, start=1):
        segments += [
            f"LIN+{n}++{line.sku}:SA",
            f"QTY+21:{line.packs}",
            f"PRI+AAA:{line.unit_price / 100:.2f}",
        ]
    segments += ["UNS+S", f"CNT+2:{len(order.lines)}"]
    segments.append(f"UNT+{len(segments) + 1}+{order.reference}")  # UNT counts every segment, itself included
    return "\n".join(f"{segment}'" for segment in segments)


def purchase_order_text(order: SupplierOrderRequest) -> str:
    lines = [
        f"Bon de commande {order.reference} — {order.buyer_name}",
        f"Livraison : {order.delivery_date.isoformat() if order.delivery_date else 'dès que possible'}"
        + (f", {order.delivery_address}" if order.delivery_address else ""),
        "",
    ]
    for line in order.lines:
        lines.append(f"{line.sku}  {line.name}  x {line.packs}  à {line.unit_price / 100:.2f} {order.currency}")
    lines += ["", f"Total : {order.total / 100:.2f} {order.currency}"]
    if order.note:
        lines += ["", order.note]
    return "\n".join(lines)


class EmailSupplierConnector(SupplierConnector):
    channel = SupplierChannel.EMAIL

    def __init__(self, *, provider: str, send: Send, products: Sequence[SupplierProduct] = ()) -> None:
        self.provider = provider
        self._send = send
        self._products = list(products)

    async def catalog(self, *, cursor: str | None = None) -> Page[SupplierProduct]:
        return Page(list(self._products))

    async def search(self, query: str) -> list[SupplierProduct]:
        words = query.lower().split()
        return [p for p in self._products if all(w in p.name.lower() for w in words)]

    async def availability(self, skus: Sequence[str]) -> dict[str, bool]:
        known = {p.sku: p.available for p in self._products}
        return {sku: known.get(sku, False) for sku in skus}

    async def place_order(self, order: SupplierOrderRequest) -> SupplierOrder:
        await self._send(order, purchase_order_text(order), edi_orders(order))
        return SupplierOrder(order.reference, None, SupplierOrderStatus.SENT, order.total, order.currency)

    async def order_status(self, reference: str) -> SupplierOrder:
        return SupplierOrder(reference, None, SupplierOrderStatus.UNKNOWN, 0, "")
