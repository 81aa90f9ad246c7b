"""Delivery channels. ``console`` (the embedded default) writes the whole message to the log, so a developer
can read a verification code; ``smtp`` sends e-mail through ``CAURI_SMTP_HOST``; an SMS provider
(``CAURI_SMS_BACKEND=africastalking|twilio|orange_sms``) sends SMS through its channel (``notifications/sms``);
``fcm`` (``CAURI_PUSH_BACKEND``) sends push messages through FCM HTTP v1 (``notifications/push``), and ``none``
refuses them (``push_disabled``).

Only the console channel logs a message body, on purpose; other channels log ids, never contents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from cauri.core.config import Settings
from cauri.notifications.email.message import compose
from cauri.notifications.email.smtp import send_email
from cauri.notifications.models import Channel, Notification
from cauri.notifications.push.client import PushMessage
from cauri.notifications.push.devices import fcm_channel
from cauri.notifications.sms.base import SmsChannel, SmsMessage, SmsStatus
from cauri.notifications.sms.registry import channel_for, delivery_report_url, is_sms_provider

log = structlog.get_logger("cauri.notifications")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A snapshot of a notification, so it is sent with no database transaction open."""

    id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    body: str
    language: str
    unsubscribe_kind: str | None = None  # None: essential, no unsubscribe link

    @classmethod
    def of(cls, notification: Notification) -> OutgoingMessage:
        return cls(
            id=notification.id,
            channel=notification.channel,
            recipient=notification.recipient,
            subject=notification.subject,
            body=notification.body,
            language=notification.language,
            unsubscribe_kind=notification.unsubscribe_kind,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a backend did with a message: its name, the provider's id, and the provider's refusal, if any."""

    backend: str
    provider_message_id: str | None = None
    refused: str | None = None  # a final "no" (invalid number…): the message fails without a retry
    undeliverable: bool = False  # the refusal condemns the address (SMTP 5xx to RCPT TO)


PUSH_DISABLED = "push_disabled"


def backend_for(settings: Settings, channel: str) -> str:
    if channel == Channel.PUSH.value:
        return settings.push_backend
    return settings.email_backend if channel == Channel.EMAIL.value else settings.sms_backend


async def send(settings: Settings, message: OutgoingMessage) -> Delivery:
    """Send ``message`` through its channel's backend; raise when it could not be handed over (retried)."""
    backend = backend_for(settings, message.channel)
    if message.channel == Channel.PUSH.value:
        return await _send_push(settings, message) if backend == "fcm" else Delivery(backend, refused=PUSH_DISABLED)
    if backend == "console":
        _print_to_console(message)
    elif backend == "smtp" and message.channel == Channel.EMAIL.value:
        return await _send_smtp(settings, message)
    elif is_sms_provider(backend) and message.channel == Channel.SMS.value:
        return await _send_sms(settings, backend, message)
    else:
        raise LookupError(f"no {backend!r} backend for {message.channel} messages")
    return Delivery(backend)


# One SMS channel per (provider, settings) in this process, so its HTTP client keeps its connections to the
# provider open between messages (the kit's client rebuilds itself on another event loop). A few are kept: the
# settings are held with their channel, so a new settings object (a test's) gets a channel of its own.
_SMS_CHANNELS: dict[tuple[str, int], tuple[Settings, SmsChannel]] = {}
_SMS_CHANNELS_KEPT = 8


def _sms_channel(settings: Settings, provider: str) -> SmsChannel:
    key = (provider, id(settings))
    kept = _SMS_CHANNELS.get(key)
    if kept is None or kept[0] is not settings:
        if len(_SMS_CHANNELS) >= _SMS_CHANNELS_KEPT:
            _SMS_CHANNELS.pop(next(iter(_SMS_CHANNELS)))  # the oldest; its idle connections close with it
        kept = (settings, channel_for(settings, provider))
        _SMS_CHANNELS[key] = kept
    return kept[1]


async def _send_sms(settings: Settings, provider: str, message: OutgoingMessage) -> Delivery:
    sent = await _sms_channel(settings, provider).send(
        SmsMessage(reference=message.id, to=message.recipient, text=message.body),
        callback_url=delivery_report_url(settings, provider),
    )
    refused = (sent.reason or "refused") if sent.status is SmsStatus.FAILED else None
    return Delivery(provider, sent.provider_message_id, refused)


async def _send_push(settings: Settings, message: OutgoingMessage) -> Delivery:
    async with fcm_channel(settings) as channel:
        sent = await channel.send(
            PushMessage(
                token=message.recipient,
                title=message.subject,
                body=message.body,
                data={"notification_id": str(message.id)},  # the app fetches the rest, signed in
            )
        )
    return Delivery("fcm", sent.message_id, sent.error_code)


def _print_to_console(message: OutgoingMessage) -> None:
    log.info(
        "notification_console",
        notification_id=str(message.id),
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
    )


async def _send_smtp(settings: Settings, message: OutgoingMessage) -> Delivery:
    result = await send_email(settings, compose(settings, message))
    return Delivery("smtp", refused=result.refused, undeliverable=result.undeliverable)
