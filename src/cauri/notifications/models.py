"""Outgoing messages. A row is written with the business change that causes it; a job delivers it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cauri.core.db import Base, IdMixin, TimestampMixin, utcnow


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"  # the recipient is an FCM device token


class NotificationStatus(StrEnum):
    """``queued → sending → sent → delivered | failed(reason)``; ``suppressed``: never sent (the number opted out).
    E-mail and console messages stop at ``sent``; SMS providers' delivery reports move them on."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    HELD = "held"  # a fallback channel of notify(): sent only if the channel before it fails for good


class Notification(IdMixin, TimestampMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_organization_id_created_at", "organization_id", "created_at"),
        Index("ix_notifications_provider_message", "provider", "provider_message_id"),
        # notify() is idempotent per (kind, object, recipient): one message per channel and dedupe key.
        Index("uq_notifications_dedupe_key_channel", "dedupe_key", "channel", unique=True),
    )

    # None for messages to a person outside any organisation (sign-up, password reset).
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(320))  # an e-mail address or an E.164 number
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5), default="fr")
    status: Mapped[str] = mapped_column(String(10), default=NotificationStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # Who carried it ("console", "smtp", "africastalking"…) and the provider's id, which its reports quote.
    provider: Mapped[str | None] = mapped_column(String(30), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(100), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(200), default=None)  # the provider's words
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set by notify() (kinds.py): the kind, the person it is for (no foreign key: identity sits above), and
    # "<kind>:<object>:<recipient>", which makes a second notify() of the same event queue nothing.
    kind: Mapped[str | None] = mapped_column(String(60), default=None)
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(250), default=None)
    fallback_rank: Mapped[int | None] = mapped_column(SmallInteger, default=None)  # place in the kind's order
    # The kind an e-mail's unsubscribe link turns off; None for essential messages (codes, receipts), which
    # carry no link and are sent whatever the recipient turned off.
    unsubscribe_kind: Mapped[str | None] = mapped_column(String(60), default=None)
    # Digests (digests.py): how many notify() calls this message carries, and until when later ones of the same
    # kind to the same address join it (None: not a digest kind, or the window closed when it went out).
    digest_count: Mapped[int] = mapped_column(default=1, server_default="1")
    digest_until: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"<Notification {self.channel} {self.id} {self.status}>"


class DeliveryAttempt(IdMixin, Base):
    """One step in a message's life, for the organisation's delivery tracking: each hand-over to a provider and
    its outcome (``sent``, ``refused``, ``error``), a suppression, and each delivery report applied."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_notification_id_created_at", "notification_id", "created_at"),)

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(SmallInteger)  # 1 for the first hand-over; reports repeat its number
    provider: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(20))  # sent, refused, error, suppressed, delivered, failed
    detail: Mapped[str | None] = mapped_column(String(200), default=None)  # the provider's words, the error type
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestItem(IdMixin, Base):
    """A notify() call merged into an earlier message of its kind (digests.py): its key, so a replay adds nothing."""

    __tablename__ = "notification_digest_items"
    __table_args__ = (UniqueConstraint("dedupe_key", "notification_id", name="uq_notification_digest_items_key"),)

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(250), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


class Reminder(IdMixin, TimestampMixin, Base):
    """A reminder a module scheduled about one of its objects (reminders.py); its job runs at ``remind_at``."""

    __tablename__ = "notification_reminders"
    __table_args__ = (
        UniqueConstraint("target", "object_id", "remind_at", name="uq_notification_reminders_target_object_at"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    target: Mapped[str] = mapped_column(String(40))  # the registered prefix: "tontine_session"
    object_id: Mapped[str] = mapped_column(String(100))
    remind_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=ReminderStatus.SCHEDULED.value)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    notified: Mapped[int] = mapped_column(default=0)  # people told when it ran


class ManualSend(IdMixin, Base):
    """The audit of a manual send (a member's "send reminder"): who, what, to whom, when; read by the organisation."""

    __tablename__ = "notification_manual_sends"
    __table_args__ = (
        Index("ix_notification_manual_sends_organization_id_created_at", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_api_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    target: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60))
    recipients: Mapped[list[Any]] = mapped_column(JSON, default=list)  # user ids (or addresses) told
    note: Mapped[str | None] = mapped_column(Text, default=None)
    remind_at: Mapped[datetime | None] = mapped_column(default=None)  # a reminder scheduled for later; None: now
    reminder_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsOptOut(IdMixin, TimestampMixin, Base):
    """A number that answered ``STOP``: no SMS goes to it any more (its messages are recorded as suppressed)."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    provider: Mapped[str] = mapped_column(String(30))  # where the STOP came from
    keyword: Mapped[str] = mapped_column(String(20))


class NotificationPreference(IdMixin, TimestampMixin, Base):
    """A person's choice for one kind on one channel (no row: on). Mandatory kinds ignore it (preferences.py)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", "channel"),)

    user_id: Mapped[uuid.UUID] = mapped_column(index=True)  # no foreign key: identity sits above notifications
    kind: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool]


class QuietHours(IdMixin, TimestampMixin, Base):
    """A person's quiet hours, minutes after local midnight; ``start > end`` spans midnight (22:00 → 07:00)."""

    __tablename__ = "notification_quiet_hours"

    user_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)


class InAppNotification(IdMixin, TimestampMixin, Base):
    """A notification shown in the app to one person (``inapp.py``); ``read_at`` None means unread."""

    __tablename__ = "in_app_notifications"
    __table_args__ = (Index("ix_in_app_notifications_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID]  # no foreign key: identity sits above notifications
    organization_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    kind: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(250), unique=True)  # notify()'s (kind, object, recipient)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class PushDevice(IdMixin, TimestampMixin, Base):
    """A user's device that receives push notifications: one row per (user, device), its current FCM token.
    FCM answering ``UNREGISTERED`` or ``INVALID_ARGUMENT`` for the token deletes the row."""

    __tablename__ = "push_devices"
    __table_args__ = (UniqueConstraint("user_id", "device_id", name="uq_push_devices_user_device"),)

    user_id: Mapped[uuid.UUID] = mapped_column(index=True)  # no foreign key: identity sits above notifications
    device_id: Mapped[str] = mapped_column(String(100))  # chosen by the app, stable per installation
    platform: Mapped[str] = mapped_column(String(10))  # android, ios or web
    token: Mapped[str] = mapped_column(String(1024), unique=True)


class EmailOptOut(IdMixin, TimestampMixin, Base):
    """An address that followed an unsubscribe link: no e-mail of that kind goes to it any more."""

    __tablename__ = "email_opt_outs"
    __table_args__ = (UniqueConstraint("address", "kind", name="uq_email_opt_outs_address_kind"),)

    address: Mapped[str] = mapped_column(String(320))  # lower-cased
    kind: Mapped[str] = mapped_column(String(60))


class UndeliverableAddress(IdMixin, TimestampMixin, Base):
    """An address a mail server refused for good (5xx to ``RCPT TO``): later e-mails to it are suppressed."""

    __tablename__ = "undeliverable_addresses"

    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    reason: Mapped[str] = mapped_column(String(200))  # the server's code and words
