"""What SMS providers tell us after sending: delivery reports move a message to delivered or failed, an inbound
``STOP`` opts its sender out. Services: they write in the caller's transaction and never commit."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.db import utcnow
from cauri.notifications.fallback import release_next
from cauri.notifications.metrics import count
from cauri.notifications.models import Channel, Notification, NotificationStatus, SmsOptOut
from cauri.notifications.sms.base import DeliveryReport, InboundSms, SmsStatus
from cauri.notifications.tracking import record_attempt

log = structlog.get_logger("cauri.notifications")

# Replies that mean "no more SMS" (French and English, as operators and Twilio recognise them).
STOP_WORDS = frozenset({"STOP", "STOPALL", "ARRET", "ARRÊT", "DESABONNER", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
# A report can only move a message that was handed to the provider, never back from a final state: this is what
# applies a duplicated report once.
_OPEN = (NotificationStatus.SENDING.value, NotificationStatus.SENT.value)


class UnknownMessage(LookupError):
    """A report about a message we have no record of (yet: its "sent" mark may not be committed)."""


async def apply_delivery_report(session: AsyncSession, *, provider: str, report: DeliveryReport) -> bool:
    """Apply ``report``; True when it changed the message, False for a duplicate or a non-final word."""
    found = select(Notification.id).where(Notification.provider == provider)
    if report.provider_message_id:
        found = found.where(Notification.provider_message_id == report.provider_message_id)
    elif report.reference is not None:
        found = found.where(Notification.id == report.reference)
    elif report.recipient:
        # Only the number is known: the latest message to it that no report has closed yet.
        found = (
            found.where(Notification.recipient == report.recipient, Notification.status.in_(_OPEN))
            .order_by(Notification.sent_at.desc())
            .limit(1)
        )
    else:
        raise UnknownMessage("a delivery report that names no message")
    notification_id = (await session.execute(found)).scalar_one_or_none()
    if notification_id is None:
        raise UnknownMessage(report.provider_message_id or str(report.reference))
    if report.status is SmsStatus.DELIVERED:
        values: dict[str, object] = {"status": NotificationStatus.DELIVERED.value, "delivered_at": utcnow()}
    elif report.status is SmsStatus.FAILED:
        values = {"status": NotificationStatus.FAILED.value, "failure_reason": (report.reason or "failed")[:200]}
    else:
        return False  # pending or sent: the message is already "sent" for us
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status.in_(_OPEN))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    applied = bool(getattr(result, "rowcount", 0))
    if applied:
        count(Channel.SMS.value, provider, report.status.value)
        attempts = await session.scalar(select(Notification.attempts).where(Notification.id == notification_id))
        await record_attempt(
            session,
            notification_id,
            attempt=attempts or 1,
            provider=provider,
            outcome=report.status.value,
            detail=report.reason if report.status is SmsStatus.FAILED else None,
        )
        if report.status is SmsStatus.FAILED:
            await release_next(session, notification_id)
    log.info(
        "sms_delivery_report",
        notification_id=str(notification_id),
        provider=provider,
        status=report.status.value,
        duplicate=not applied,
    )
    return applied


def is_stop(text: str) -> bool:
    return text.strip().upper().rstrip(".!") in STOP_WORDS


async def record_inbound(session: AsyncSession, *, provider: str, message: InboundSms) -> bool:
    """A ``STOP`` turns SMS off for its sender (True); other replies are only logged (False)."""
    if not is_stop(message.text):
        log.info("sms_inbound", provider=provider, stop=False)
        return False
    values = {"phone": message.sender, "provider": provider, "keyword": message.text.strip().upper()[:20]}
    dialect = session.get_bind().dialect.name
    builder = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # A repeated STOP (or the provider's retry) finds the number already opted out.
    statement = builder(SmsOptOut).values(**values, id=uuid.uuid4(), created_at=utcnow(), updated_at=utcnow())
    await session.execute(statement.on_conflict_do_nothing(index_elements=["phone"]))
    log.info("sms_opt_out", provider=provider)
    return True


async def is_opted_out(session: AsyncSession, phone: str) -> bool:
    return bool(await session.scalar(select(exists().where(SmsOptOut.phone == phone))))
