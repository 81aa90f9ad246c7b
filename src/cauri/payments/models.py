"""Payments tables: collections and payouts, their transitions, provider callbacks, outbound webhooks and
reconciliation reports.

A collection and a payout are rows of one ``payments`` table (``kind``), so that one state machine, one poller
and one reconciliation serve both.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow
from cauri.core.security import EncryptedColumn

REFERENCE_MAX = 100
PROVIDER_MAX = 40
PURPOSE_MAX = 60
OWNER_ID_MAX = 100
IDEMPOTENCY_KEY_MAX = 255


class Payment(IdMixin, TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        # The organisation's own reference identifies one collection (or one payout) of theirs.
        UniqueConstraint("organization_id", "kind", "reference"),
        # The reference we send to the provider finds the payment when its callback or status comes back.
        UniqueConstraint("provider", "outbound_reference"),
        Index("ix_payments_provider_provider_reference", "provider", "provider_reference"),
        Index("ix_payments_organization_id_kind_created_at", "organization_id", "kind", "created_at"),
        Index("ix_payments_status_next_poll_at", "status", "next_poll_at"),
        Index("ix_payments_status_expires_at", "status", "expires_at"),
        # A module's call retried with its idempotency key finds the first payment (public API only).
        UniqueConstraint("organization_id", "idempotency_key"),
        Index("ix_payments_organization_id_purpose_owner_id", "organization_id", "purpose", "owner_id"),
        # An Orange WebPay notification names its payment only by the token issued at creation.
        Index("ix_payments_provider_callback_token_hash", "provider", "callback_token_hash"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    fee: Mapped[int | None] = mapped_column(BigInteger)  # the provider's fee, when it reports one
    phone: Mapped[str] = mapped_column(String(16))  # E.164
    phone_region: Mapped[str] = mapped_column(String(2))
    phone_operator: Mapped[str] = mapped_column(String(40))  # carrier from the numbering plan, "" when unknown
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX))
    reference: Mapped[str] = mapped_column(String(REFERENCE_MAX))
    description: Mapped[str | None] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    # What the money is for and whose it is, set by a business module through the public API (None over HTTP).
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_MAX))
    owner_id: Mapped[str | None] = mapped_column(String(OWNER_ID_MAX))
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_MAX))
    request_hash: Mapped[str | None] = mapped_column(String(64))  # of the public call's arguments

    # Ours, generated once at creation before any outbound call: the provider's idempotency key / external id.
    outbound_reference: Mapped[str] = mapped_column(String(64))
    provider_reference: Mapped[str | None] = mapped_column(String(128))  # the provider's own id for it
    provider_status: Mapped[str | None] = mapped_column(String(64))  # the provider's last raw status
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    # Redirect providers: the page the payer opens, and until when (the provider's word; None: it gave none).
    payment_url: Mapped[str | None] = mapped_column(String(1000))
    payment_url_expires_at: Mapped[datetime | None]
    # SHA-256 of the per-payment secret the provider will echo in its callbacks (Orange's ``notif_token``): enough
    # to find the payment, useless to forge a callback if the table leaks (payments/redirects.py).
    callback_token_hash: Mapped[str | None] = mapped_column(String(64))

    submit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime | None]  # when the provider acknowledged the request
    poll_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    created_by_user_id: Mapped[uuid.UUID | None]
    created_by_api_key_id: Mapped[uuid.UUID | None]


class PaymentRefund(IdMixin, TimestampMixin, Base):
    """One refund of a succeeded collection, with its own status (see :mod:`cauri.payments.refunds`).

    ``method`` says how the money goes back: ``refund`` (the provider's refund operation, sent under
    ``outbound_reference``) or ``payout`` (a payout to the payer, the row ``payout_id``, for providers without one).
    """

    __tablename__ = "payment_refunds"
    __table_args__ = (
        # The caller's idempotency key identifies one refund of a payment: a retry finds it instead of refunding twice.
        UniqueConstraint("payment_id", "idempotency_key"),
        UniqueConstraint("provider", "outbound_reference"),
        Index("ix_payment_refunds_payment_id_created_at", "payment_id", "created_at"),
        Index("ix_payment_refunds_status_next_poll_at", "status", "next_poll_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX))
    # Ours, generated once before any outbound call: the provider's idempotency key / reference id of the refund.
    outbound_reference: Mapped[str] = mapped_column(String(64))
    provider_reference: Mapped[str | None] = mapped_column(String(128))
    provider_status: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    payout_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime | None]
    poll_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_by_user_id: Mapped[uuid.UUID | None]
    created_by_api_key_id: Mapped[uuid.UUID | None]


class PaymentAttention(IdMixin, Base):
    """Something about a payment that Cauri could not settle by itself and a person must look at.

    Today: a success the provider reported after our expiry whose money could not be booked any more (a payout
    whose released funds were spent since, an account that no longer accepts the credit). Listed at
    ``GET /api/v1/payments/attention`` until a person marks it resolved.
    """

    __tablename__ = "payment_attention"
    __table_args__ = (
        UniqueConstraint("payment_id", "kind"),  # a repeated callback lists it once
        Index("ix_payment_attention_organization_id_resolved_at", "organization_id", "resolved_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(60))  # why Cauri could not apply it (the ledger's error code)
    provider_status: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_user_id: Mapped[uuid.UUID | None]


class PaymentTransition(IdMixin, Base):
    """Every status change of a payment, with its cause and what the provider said."""

    __tablename__ = "payment_transitions"
    __table_args__ = (Index("ix_payment_transitions_payment_id_created_at", "payment_id", "created_at"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str] = mapped_column(String(20))
    provider_status: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettlementEventRecord(IdMixin, Base):
    """The outbox of settlement events: written in the transaction that settled (or refunded) the payment."""

    __tablename__ = "payment_settlement_events"
    __table_args__ = (Index("ix_payment_settlement_events_payment_id_occurred_at", "payment_id", "occurred_at"),)

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_MAX))
    owner_id: Mapped[str | None] = mapped_column(String(OWNER_ID_MAX))
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    fee: Mapped[int | None] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX))
    refund_id: Mapped[uuid.UUID | None]
    refund_amount: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettlementDelivery(IdMixin, Base):
    """One event delivered to one subscriber: written in the subscriber's own transaction, so exactly once."""

    __tablename__ = "payment_settlement_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscriber"),)

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payment_settlement_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(200))
    delivered_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderEvent(IdMixin, Base):
    """A callback received from a provider, stored raw before anything else happens to it."""

    __tablename__ = "payment_provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX))
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signed: Mapped[bool] = mapped_column(Boolean)  # verified by signature; False: confirm by a status query
    organization_id: Mapped[uuid.UUID | None]  # named by the callback URL (chose the verifying credentials)
    # What the connector read from the body once the signature checked out.
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    failure: Mapped[str | None] = mapped_column(String(40))
    outbound_reference: Mapped[str | None] = mapped_column(String(64))
    provider_reference: Mapped[str | None] = mapped_column(String(128))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="received")  # received, processed, unmatched
    outcome: Mapped[str | None] = mapped_column(String(200))
    processed_at: Mapped[datetime | None]


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where an organisation wants its events, and the secret that signs them (encrypted at rest)."""

    __tablename__ = "webhook_endpoints"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(255))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every event
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(IdMixin, Base):
    """One event to deliver to one endpoint, retried with backoff until it is accepted or gives up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_organization_id_created_at", "organization_id", "created_at"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID]  # stable across retries and replays: receivers deduplicate on it
    event_type: Mapped[str] = mapped_column(String(60))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed and sent
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    give_up_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    replay_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(IdMixin, Base):
    """One HTTP attempt of a delivery: the log an organisation reads to debug its receiver."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(String(500))


class ReconciliationRun(IdMixin, Base):
    """Our records of one day and provider, compared with the provider's answers."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index("ix_reconciliation_runs_organization_id_day", "organization_id", "day", "provider"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX))
    day: Mapped[date]
    state: Mapped[str] = mapped_column(String(20), default="running")  # running, completed, failed
    checked: Mapped[int] = mapped_column(Integer, default=0)
    mismatches: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ReconciliationItem(IdMixin, Base):
    __tablename__ = "reconciliation_items"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reconciliation_runs.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))  # missing, status_differs, amount_differs, unreachable
    reference: Mapped[str | None] = mapped_column(String(REFERENCE_MAX))
    outbound_reference: Mapped[str | None] = mapped_column(String(64))
    our_status: Mapped[str | None] = mapped_column(String(20))
    provider_status: Mapped[str | None] = mapped_column(String(64))
    our_amount: Mapped[int | None] = mapped_column(BigInteger)
    provider_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))


# Re-encrypted by `cauri keys rotate`.
ENCRYPTED_COLUMNS = (EncryptedColumn(WebhookEndpoint.secret_encrypted),)
