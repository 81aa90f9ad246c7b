"""``CAURI_SMS_BACKEND`` → a configured :class:`SmsChannel`, and where its callbacks are received."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from cauri.core.config import Settings
from cauri.kit.errors import AuthError
from cauri.notifications.sms.africastalking.client import AfricasTalkingChannel
from cauri.notifications.sms.base import SmsChannel
from cauri.notifications.sms.orange_sms.client import OrangeSmsChannel
from cauri.notifications.sms.twilio.client import TwilioChannel

CALLBACK_PREFIX = "/api/v1/notifications/sms"


def _missing(setting: str, provider: str) -> AuthError:
    return AuthError(
        f"Identifiants SMS manquants : {setting}.", f"Missing SMS credentials: {setting}.", provider=provider
    )


def _africastalking(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> SmsChannel:
    if settings.africastalking_api_key is None:
        raise _missing("CAURI_AFRICASTALKING_API_KEY", "africastalking")
    return AfricasTalkingChannel(
        base_url=settings.africastalking_base_url,
        username=settings.africastalking_username,
        api_key=settings.africastalking_api_key,
        sender_id=settings.africastalking_sender_id,
        callback_token=settings.sms_callback_token,
        transport=transport,
    )


def _twilio(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> SmsChannel:
    if not settings.twilio_account_sid or settings.twilio_auth_token is None:
        raise _missing("CAURI_TWILIO_ACCOUNT_SID, CAURI_TWILIO_AUTH_TOKEN", "twilio")
    return TwilioChannel(
        base_url=settings.twilio_base_url,
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        sender=settings.twilio_from,
        transport=transport,
    )


def _orange_sms(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> SmsChannel:
    if not settings.orange_sms_client_id or settings.orange_sms_client_secret is None:
        raise _missing("CAURI_ORANGE_SMS_CLIENT_ID, CAURI_ORANGE_SMS_CLIENT_SECRET", "orange_sms")
    return OrangeSmsChannel(
        base_url=settings.orange_sms_base_url,
        client_id=settings.orange_sms_client_id,
        client_secret=settings.orange_sms_client_secret,
        sender_address=settings.orange_sms_sender_address,
        sender_name=settings.orange_sms_sender_name,
        callback_token=settings.sms_callback_token,
        transport=transport,
    )


CHANNELS: dict[str, Callable[[Settings, httpx.AsyncBaseTransport | None], SmsChannel]] = {
    "africastalking": _africastalking,
    "twilio": _twilio,
    "orange_sms": _orange_sms,
}


def is_sms_provider(name: str) -> bool:
    return name in CHANNELS


def channel_for(settings: Settings, provider: str, transport: httpx.AsyncBaseTransport | None = None) -> SmsChannel:
    """The channel of ``provider`` with the settings' credentials; ``LookupError`` for an unknown name."""
    factory = CHANNELS.get(provider)
    if factory is None:
        raise LookupError(f"no SMS provider {provider!r}")
    return factory(settings, transport)


def delivery_report_url(settings: Settings, provider: str) -> str:
    """Where ``provider`` posts its delivery reports (Twilio and Orange take it per message)."""
    return f"{settings.public_base_url.rstrip('/')}{CALLBACK_PREFIX}/{provider}/delivery-reports"
