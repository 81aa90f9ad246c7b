"""The unified models and the abstract interface of each restaurant connector kind.

Money is an integer of minor units with its ISO 4217 code (EUR for Le Vieux Moulin: cents). Quantities are
:class:`~decimal.Decimal` (Square sends them as decimal strings: ``"1.5"`` kg of flour). Times are aware UTC
datetimes. A provider word the connector does not know maps to the cautious value (an order state it does not
know is ``open``: never counted as sold).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from cauri.kit.errors import Unsupported

T = TypeVar("T")


class ConnectorKind(StrEnum):
    POS = "pos"
    SUPPLIER = "supplier"
    RESERVATIONS = "reservations"
    CRM = "crm"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a provider's list; ``cursor`` is None on the last page. Pass it back unchanged."""

    items: list[T]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified notification: ``kind`` names the object kind to sync again (``sales``, ``catalog``, ``stock``…),
    ``object_ids`` the objects named in it (empty: "something changed", sync the kind from its checkpoint)."""

    event_id: str
    type: str
    kind: str
    object_ids: tuple[str, ...] = ()
    merchant_id: str | None = None
    created_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class RestaurantConnector(ABC):
    """What every restaurant connector shares: its provider name, its kind, closing its HTTP client."""

    provider: str
    kind: ConnectorKind

    async def aclose(self) -> None:  # noqa: B027 - connectors without an HTTP client have nothing to close
        """Close the HTTP client."""

    def unsupported(self, capability: str) -> Unsupported:
        return Unsupported(self.provider, capability)


# -- point of sale ------------------------------------------------------------------------------------------------


class SaleState(StrEnum):
    OPEN = "open"  # also every state the connector does not recognise: not sold yet
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str
    currency: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class CatalogObject:
    """A catalogue entry. ``type``: ``item`` (a dish), ``variation`` (what is sold and counted: a dish's size),
    ``category``, ``other``. ``price`` in minor units of ``currency`` when the object has one."""

    id: str
    type: str
    name: str
    version: int
    updated_at: datetime
    deleted: bool = False
    parent_id: str | None = None
    sku: str | None = None
    price: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class SaleLine:
    item_id: str | None  # the catalogue variation sold (None: an ad-hoc line)
    name: str
    quantity: Decimal
    total: int


@dataclass(frozen=True, slots=True)
class Sale:
    id: str
    location_id: str
    state: SaleState
    created_at: datetime
    updated_at: datetime
    total: int
    currency: str
    version: int = 0
    lines: tuple[SaleLine, ...] = ()


class PosPaymentStatus(StrEnum):
    PENDING = "pending"  # also every unrecognised word
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PosPayment:
    id: str
    status: PosPaymentStatus
    amount: int
    currency: str
    created_at: datetime
    updated_at: datetime
    location_id: str | None = None
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class StockCount:
    item_id: str
    location_id: str
    state: str  # ``in_stock``, ``sold``, ``waste``… (the provider's word, lower case)
    quantity: Decimal
    calculated_at: datetime


class StockChangeKind(StrEnum):
    ADJUSTMENT = "adjustment"  # move ``quantity`` from ``from_state`` to ``to_state`` (in_stock -> waste)
    PHYSICAL_COUNT = "physical_count"  # the counted ``quantity`` in ``to_state``


@dataclass(frozen=True, slots=True)
class StockChange:
    item_id: str
    location_id: str
    quantity: Decimal
    occurred_at: datetime
    kind: StockChangeKind = StockChangeKind.ADJUSTMENT
    from_state: str = "in_stock"
    to_state: str = "waste"


class PosConnector(RestaurantConnector):
    """A point of sale (Square, Lightspeed): sales, payments, catalogue, stock, and their webhooks."""

    kind = ConnectorKind.POS
    #: Largest page each list asks for (the provider's maximum).
    page_sizes: Mapping[str, int] = {}

    @abstractmethod
    async def list_locations(self) -> list[Location]: ...

    @abstractmethod
    async def list_payments(
        self,
        *,
        begin_time: datetime | None = None,
        end_time: datetime | None = None,
        location_id: str | None = None,
        cursor: str | None = None,
    ) -> Page[PosPayment]: ...

    @abstractmethod
    async def list_catalog(self, *, cursor: str | None = None, types: Sequence[str] = ()) -> Page[CatalogObject]:
        """The whole catalogue, page by page (deleted objects excluded)."""

    @abstractmethod
    async def search_catalog(self, *, changed_since: datetime | None, cursor: str | None = None) -> Page[CatalogObject]:
        """Objects changed after ``changed_since`` (deleted ones included, marked ``deleted``)."""

    @abstractmethod
    async def search_sales(
        self,
        *,
        location_ids: Sequence[str],
        updated_since: datetime | None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Sale]:
        """Sales updated at or after ``updated_since``, oldest change first."""

    @abstractmethod
    async def get_sale(self, sale_id: str) -> Sale: ...

    @abstractmethod
    async def stock_counts(
        self,
        *,
        item_ids: Sequence[str] = (),
        location_ids: Sequence[str] = (),
        updated_since: datetime | None = None,
        cursor: str | None = None,
    ) -> Page[StockCount]: ...

    @abstractmethod
    async def change_stock(self, changes: Sequence[StockChange], *, idempotency_key: str) -> list[StockCount]:
        """Apply ``changes`` once, whatever the retries (same key: same answer)."""

    @abstractmethod
    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent:
        """Verify over the raw bytes, then parse; :class:`~cauri.kit.errors.InvalidSignature` otherwise."""


# -- suppliers ----------------------------------------------------------------------------------------------------


class SupplierChannel(StrEnum):
    API = "api"  # the supplier's HTTP API
    EMAIL = "email"  # a PDF purchase order by e-mail (any supplier)
    EDI = "edi"  # an EANCOM-style ORDERS file


@dataclass(frozen=True, slots=True)
class SupplierProduct:
    """A product as one supplier sells it: ``pack_size`` ``unit`` per pack (6 x 1 l; 5 kg), ``price`` per pack."""

    sku: str
    name: str
    unit: str  # kg, l, piece
    pack_size: Decimal
    price: int
    currency: str
    available: bool = True
    gtin: str | None = None  # the EAN that matches products across suppliers


@dataclass(frozen=True, slots=True)
class SupplierOrderLine:
    sku: str
    packs: int
    name: str = ""
    unit_price: int = 0


@dataclass(frozen=True, slots=True)
class SupplierOrderRequest:
    """``reference`` is ours and unique: the supplier (or its mailbox) sees it once, whatever the retries."""

    reference: str
    lines: tuple[SupplierOrderLine, ...]
    currency: str
    delivery_date: date | None = None
    buyer_name: str = ""
    delivery_address: str = ""
    note: str = ""

    @property
    def total(self) -> int:
        return sum(line.packs * line.unit_price for line in self.lines)


class SupplierOrderStatus(StrEnum):
    SENT = "sent"  # handed over (e-mailed, uploaded, accepted by the API): nothing confirmed yet
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a word the connector does not know, or a channel that cannot tell


@dataclass(frozen=True, slots=True)
class SupplierOrder:
    reference: str
    supplier_order_id: str | None
    status: SupplierOrderStatus
    total: int
    currency: str


class SupplierConnector(RestaurantConnector):
    """A supplier (Metro, Transgourmet, Pomona, any other): catalogue, search, availability, order, status."""

    kind = ConnectorKind.SUPPLIER
    channel: SupplierChannel = SupplierChannel.API

    @abstractmethod
    async def catalog(self, *, cursor: str | None = None) -> Page[SupplierProduct]: ...

    @abstractmethod
    async def search(self, query: str) -> list[SupplierProduct]: ...

    @abstractmethod
    async def availability(self, skus: Sequence[str]) -> dict[str, bool]: ...

    @abstractmethod
    async def place_order(self, order: SupplierOrderRequest) -> SupplierOrder: ...

    @abstractmethod
    async def order_status(self, reference: str) -> SupplierOrder: ...


# -- reservations -------------------------------------------------------------------------------------------------


class ReservationStatus(StrEnum):
    REQUESTED = "requested"  # also every unrecognised word
    CONFIRMED = "confirmed"
    SEATED = "seated"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    party_size: int
    starts_at: datetime
    status: ReservationStatus
    updated_at: datetime
    guest_name: str = ""
    email: str | None = None
    phone: str | None = None
    notes: str = ""
    marketing_consent: bool = False


@dataclass(frozen=True, slots=True)
class AvailabilitySlot:
    starts_at: datetime
    covers: int  # seats still bookable


class ReservationConnector(RestaurantConnector):
    """A booking channel (TheFork, OpenTable)."""

    kind = ConnectorKind.RESERVATIONS

    @abstractmethod
    async def list_reservations(
        self, *, updated_since: datetime | None, cursor: str | None = None
    ) -> Page[Reservation]: ...

    @abstractmethod
    async def get_reservation(self, reservation_id: str) -> Reservation: ...

    @abstractmethod
    async def update_reservation(self, reservation_id: str, *, status: ReservationStatus) -> Reservation: ...

    @abstractmethod
    async def push_availability(self, slots: Sequence[AvailabilitySlot]) -> None: ...

    @abstractmethod
    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str) -> WebhookEvent: ...


# -- CRM ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    email: str | None
    phone: str | None = None
    first_name: str = ""
    last_name: str = ""
    id: str | None = None  # the CRM's id, once known
    loyalty_points: int = 0
    marketing_consent: bool = False


class CrmConnector(RestaurantConnector):
    """A CRM (HubSpot, Zoho): contacts found and upserted, loyalty points, erasure on request (GDPR)."""

    kind = ConnectorKind.CRM

    @abstractmethod
    async def find_contact(self, *, email: str | None = None, phone: str | None = None) -> Contact | None: ...

    @abstractmethod
    async def upsert_contact(self, contact: Contact) -> Contact: ...

    @abstractmethod
    async def add_loyalty_points(self, contact_id: str, points: int, *, reason: str, idempotency_key: str) -> int:
        """The contact's new balance; the same key applies the points once."""

    @abstractmethod
    async def record_sale(self, contact_id: str, *, amount: int, currency: str, reference: str, name: str) -> str:
        """A won deal for the contact (a meal paid); the same ``reference`` records it once. Its id."""

    @abstractmethod
    async def erase_contact(self, contact_id: str) -> None:
        """Delete the contact for good (GDPR erasure); erasing one already gone is not an error."""

    @abstractmethod
    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, url: str, method: str = "POST") -> WebhookEvent:
        """Verify over the raw bytes, then parse; :class:`~cauri.kit.errors.InvalidSignature` otherwise."""
