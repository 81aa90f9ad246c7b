"""The SMS simulators ``cauri simulate africastalking|twilio|orange_sms`` serves: their credential fields, the
development values from the ``CAURI_*`` settings, and their callback URLs, which point at this service's public
routes (``CAURI_PUBLIC_BASE_URL``) with ``CAURI_SMS_CALLBACK_TOKEN`` where the provider does not sign."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorBase, SimulatorSettings
from cauri.notifications.sms.africastalking import simulator as africastalking
from cauri.notifications.sms.orange_sms import simulator as orange_sms
from cauri.notifications.sms.registry import CALLBACK_PREFIX
from cauri.notifications.sms.simulation import SmsSimulatorBase
from cauri.notifications.sms.twilio import simulator as twilio
from cauri.notifications.sms.wire import TOKEN_PARAMETER, with_query

Credentials = Mapping[str, SecretStr]


def callback_url(settings: Settings, provider: str, kind: str, *, token: bool) -> str:
    """``kind``: ``delivery-reports`` or ``inbound``; ``token``: add the callback token (unsigned providers)."""
    url = f"{settings.public_base_url.rstrip('/')}{CALLBACK_PREFIX}/{provider}/{kind}"
    if token and settings.sms_callback_token is not None:
        return with_query(url, {TOKEN_PARAMETER: settings.sms_callback_token.get_secret_value()})
    return url


def present_credentials(**values: str | SecretStr | None) -> dict[str, SecretStr]:
    return {
        name: value if isinstance(value, SecretStr) else SecretStr(value)
        for name, value in values.items()
        if value  # an unset setting leaves the simulator's demo value
    }


def _secret(credentials: Credentials, name: str, default: str) -> SecretStr:
    return credentials.get(name) or SecretStr(default)


def plain_credential(credentials: Credentials, name: str, default: str) -> str:
    return _secret(credentials, name, default).get_secret_value()


def _africastalking(timings: SimulatorSettings, credentials: Credentials, settings: Settings) -> SmsSimulatorBase:
    return africastalking.AfricasTalkingSimulator(
        timings,
        username=plain_credential(credentials, "username", africastalking.DEMO_USERNAME),
        api_key=_secret(credentials, "api_key", africastalking.DEMO_API_KEY),
        delivery_report_url=callback_url(settings, "africastalking", "delivery-reports", token=True),
        inbound_url=callback_url(settings, "africastalking", "inbound", token=True),
    )


def _twilio(timings: SimulatorSettings, credentials: Credentials, settings: Settings) -> SmsSimulatorBase:
    return twilio.TwilioSimulator(
        timings,
        account_sid=plain_credential(credentials, "account_sid", twilio.DEMO_ACCOUNT_SID),
        auth_token=_secret(credentials, "auth_token", twilio.DEMO_AUTH_TOKEN),
        inbound_url=callback_url(settings, "twilio", "inbound", token=False),
    )


def _orange_sms(timings: SimulatorSettings, credentials: Credentials, settings: Settings) -> SmsSimulatorBase:
    return orange_sms.OrangeSmsSimulator(
        timings,
        client_id=plain_credential(credentials, "client_id", orange_sms.DEMO_CLIENT_ID),
        client_secret=_secret(credentials, "client_secret", orange_sms.DEMO_CLIENT_SECRET),
        subscription_url=callback_url(settings, "orange_sms", "delivery-reports", token=True),
    )


@dataclass(frozen=True)
class SimulatorSpec:
    """A notification channel's simulator for ``cauri simulate`` (SMS here, FCM in ``push/simulator.py``)."""

    fields: tuple[str, ...]
    dev_credentials: Callable[[Settings], dict[str, SecretStr]]
    build: Callable[[SimulatorSettings, Credentials, Settings], SimulatorBase]


SMS_SIMULATORS: dict[str, SimulatorSpec] = {
    "africastalking": SimulatorSpec(
        ("username", "api_key"),
        lambda s: present_credentials(username=s.africastalking_username, api_key=s.africastalking_api_key),
        _africastalking,
    ),
    "twilio": SimulatorSpec(
        ("account_sid", "auth_token"),
        lambda s: present_credentials(account_sid=s.twilio_account_sid, auth_token=s.twilio_auth_token),
        _twilio,
    ),
    "orange_sms": SimulatorSpec(
        ("client_id", "client_secret"),
        lambda s: present_credentials(client_id=s.orange_sms_client_id, client_secret=s.orange_sms_client_secret),
        _orange_sms,
    ),
}
