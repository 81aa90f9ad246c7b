"""The restaurant hub's tables. Organisation ids only, no foreign keys across modules (as every module)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
from cauri.core.security import EncryptedColumn


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    ERROR = "error"  # the last call failed; still usable (a provider outage, a rate limit)
    REAUTHORIZE = "reauthorize"  # the provider refused our tokens: a manager must connect again
    REVOKED = "revoked"


class SyncStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    ERROR = "error"


class RestaurantConnection(IdMixin, TimestampMixin, Base):
    """One organisation's link to one provider. Tokens are one encrypted JSON document (MultiFernet)."""

    __tablename__ = "restaurant_connections"
    __table_args__ = (UniqueConstraint("organization_id", "provider"), Index(None, "provider", "merchant_id"))

    organization_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.CONNECTED.value)
    token_ciphertext: Mapped[str | None] = mapped_column(Text, default=None)
    pkce: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    refreshable: Mapped[bool] = mapped_column(Boolean, default=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    merchant_id: Mapped[str | None] = mapped_column(String(100), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error_code: Mapped[str | None] = mapped_column(String(60), default=None)
    last_error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    # The refresh lease: whoever sets it (a conditional UPDATE, committed) refreshes; the others wait and reread.
    refresh_lease_until: Mapped[datetime | None] = mapped_column(default=None)
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(40), default=None)


class OAuthState(IdMixin, Base):
    """One authorisation in flight: the ``state`` (stored hashed) binds the callback to who started it; the
    PKCE verifier is encrypted. Used once: a replayed callback finds ``used_at`` set."""

    __tablename__ = "restaurant_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(String(40))
    verifier_ciphertext: Mapped[str] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class SyncCheckpoint(IdMixin, Base):
    """Where the sync of one object kind of one connection stands. ``watermark``: every change up to it is
    stored. A run in progress keeps its query's start (``run_since``) and the provider's ``cursor`` of the next
    page, committed after each page: a run that dies resumes there."""

    __tablename__ = "restaurant_sync_checkpoints"
    __table_args__ = (UniqueConstraint("connection_id", "kind"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=SyncStatus.IDLE.value)
    watermark: Mapped[datetime | None] = mapped_column(default=None)
    run_since: Mapped[datetime | None] = mapped_column(default=None)
    run_high_water: Mapped[datetime | None] = mapped_column(default=None)
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    run_started_at: Mapped[datetime | None] = mapped_column(default=None)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    written: Mapped[int] = mapped_column(Integer, default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error_code: Mapped[str | None] = mapped_column(String(60), default=None)
    last_error_message: Mapped[str | None] = mapped_column(String(500), default=None)


class SyncedRecord(IdMixin, Base):
    """A provider object as last synced (the unified model as JSON) with its change hash: a re-sync that finds
    the same hash writes nothing."""

    __tablename__ = "restaurant_records"
    __table_args__ = (UniqueConstraint("connection_id", "kind", "external_id"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookReceipt(IdMixin, Base):
    """A verified provider event, stored once under ``(provider, event_id)``; processed by a job."""

    __tablename__ = "restaurant_webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(120))
    merchant_id: Mapped[str | None] = mapped_column(String(100), default=None)  # every connection to it syncs
    type: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    object_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(200), default=None)


# Re-encrypted by `cauri keys rotate`.
ENCRYPTED_COLUMNS = (
    EncryptedColumn(
        RestaurantConnection.token_ciphertext,
        named_by=(RestaurantConnection.organization_id, RestaurantConnection.provider),
    ),
    EncryptedColumn(OAuthState.verifier_ciphertext, named_by=(OAuthState.id,)),
)


# -- the kitchen: ingredients, recipes, supplier products, stock, orders -----------------------------------------
# Quantities are integer thousandths of the ingredient's unit (grams of a kg, millilitres of a litre, a thousandth
# of a piece): exact, and the same on both databases. Money: minor units of ``currency``.


class Ingredient(IdMixin, TimestampMixin, Base):
    __tablename__ = "restaurant_ingredients"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(10))  # kg, l, piece
    stock_milli: Mapped[int] = mapped_column(Integer, default=0)
    threshold_milli: Mapped[int] = mapped_column(Integer, default=0)  # below it: an alert and a draft order
    reorder_milli: Mapped[int] = mapped_column(Integer, default=0)  # how much one order brings


class RecipeLine(IdMixin, Base):
    """One ingredient of one dish sold at the POS (the POS's catalogue variation id)."""

    __tablename__ = "restaurant_recipe_lines"
    __table_args__ = (UniqueConstraint("organization_id", "pos_item_id", "ingredient_id"),)

    organization_id: Mapped[uuid.UUID]
    pos_item_id: Mapped[str] = mapped_column(String(200))
    ingredient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_ingredients.id", ondelete="CASCADE"))
    quantity_milli: Mapped[int] = mapped_column(Integer)  # per dish


class SupplierProductLink(IdMixin, Base):
    """A product a supplier sells, matched to an ingredient: ``pack_milli`` of the ingredient's unit per pack at
    ``price`` (minor units) per pack. The cheapest per unit among available ones is ordered."""

    __tablename__ = "restaurant_supplier_products"
    __table_args__ = (UniqueConstraint("organization_id", "supplier", "sku"),)

    organization_id: Mapped[uuid.UUID]
    supplier: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    ingredient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_ingredients.id", ondelete="CASCADE"))
    pack_milli: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class StockMovement(IdMixin, Base):
    """Every change of an ingredient's stock, once: ``reference`` is unique (a sale line, a delivery)."""

    __tablename__ = "restaurant_stock_movements"
    __table_args__ = (UniqueConstraint("organization_id", "reference"),)

    organization_id: Mapped[uuid.UUID]
    ingredient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_ingredients.id", ondelete="CASCADE"))
    delta_milli: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))  # sale, sale_cancelled, delivery, count
    reference: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderStatus(StrEnum):
    DRAFT = "draft"  # drafted by the stock alert; a manager approves it
    APPROVED = "approved"
    SENT = "sent"
    DELIVERED = "delivered"
    INVOICED = "invoiced"  # the supplier's invoice matched: a payable in the ledger (a pending transfer)
    PAID = "paid"  # the payable posted
    CANCELLED = "cancelled"


class StockAlert(IdMixin, Base):
    """An ingredient under its threshold. ``open_key`` holds the ingredient id while the alert is open and is unique
    per organisation, so two sales crossing the threshold at once raise one alert and draft one order."""

    __tablename__ = "restaurant_stock_alerts"
    __table_args__ = (UniqueConstraint("organization_id", "open_key"),)

    organization_id: Mapped[uuid.UUID]
    ingredient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_ingredients.id", ondelete="CASCADE"))
    open_key: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20))  # ordered (a draft exists), no_supplier, closed
    stock_milli: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseOrder(IdMixin, TimestampMixin, Base):
    __tablename__ = "restaurant_purchase_orders"
    __table_args__ = (UniqueConstraint("reference"),)

    organization_id: Mapped[uuid.UUID]
    supplier: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(40))  # ours, sent to the supplier: the same on every retry
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.DRAFT.value)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # sku, name, packs, unit_price, ingredient
    total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    drafted_by: Mapped[uuid.UUID | None] = mapped_column(default=None)  # None: drafted by the stock alert
    approved_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    channel: Mapped[str | None] = mapped_column(String(10), default=None)  # api, email
    supplier_order_id: Mapped[str | None] = mapped_column(String(80), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # sku, packs received
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    invoice_number: Mapped[str | None] = mapped_column(String(60), default=None)
    invoice_total: Mapped[int | None] = mapped_column(Integer, default=None)
    invoiced_at: Mapped[datetime | None] = mapped_column(default=None)
    payable_transfer_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)


# -- the reservation book: services with their capacity, reservations from every channel ------------------------


class DiningService(IdMixin, TimestampMixin, Base):
    """A service (lunch, dinner) and how many covers it seats: reservations starting between ``starts`` and
    ``ends`` (local times ``HH:MM`` in ``timezone``) share ``capacity``."""

    __tablename__ = "restaurant_services"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(40))
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))
    capacity: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(60), default="Europe/Paris")


class BookedReservation(IdMixin, TimestampMixin, Base):
    """One reservation in the restaurant's book, whatever its channel (``thefork``, ``opentable``, ``direct``).
    ``refused`` is set when the book refused it (over capacity): the channel was told, the covers are not held."""

    __tablename__ = "restaurant_reservations"
    __table_args__ = (
        UniqueConstraint("organization_id", "channel", "external_id"),
        Index(None, "organization_id", "service_date", "service_name"),
    )

    organization_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    service_name: Mapped[str] = mapped_column(String(40))
    service_date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime]
    party_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    refused: Mapped[str | None] = mapped_column(String(40), default=None)
    guest_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    source_updated_at: Mapped[datetime | None] = mapped_column(default=None)


# -- customers: matched from reservations, sent to the CRM only with their recorded consent -------------------------


class Customer(IdMixin, TimestampMixin, Base):
    """A guest, matched by e-mail (else phone). Sent to the CRM only while ``consent`` is recorded; ``erased_at``:
    erased on request (here and at every CRM), the row kept without anything that names the person."""

    __tablename__ = "restaurant_customers"
    __table_args__ = (UniqueConstraint("organization_id", "match_key"),)

    organization_id: Mapped[uuid.UUID]
    match_key: Mapped[str] = mapped_column(String(300))  # e-mail (lower case) or phone; a hash once erased
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str] = mapped_column(String(200), default="")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_source: Mapped[str | None] = mapped_column(String(60), default=None)
    consent_at: Mapped[datetime | None] = mapped_column(default=None)
    points: Mapped[int] = mapped_column(Integer, default=0)
    crm_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # provider -> the CRM's contact id
    crm_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class LoyaltyAward(IdMixin, Base):
    """Points earned once per ``reference`` (a completed reservation); ``pushed`` lists the CRMs that have it."""

    __tablename__ = "restaurant_loyalty_awards"
    __table_args__ = (UniqueConstraint("organization_id", "reference"),)

    organization_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("restaurant_customers.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(200))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    pushed: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
