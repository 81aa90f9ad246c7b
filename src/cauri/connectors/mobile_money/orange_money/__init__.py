"""Orange Money — WebPay and the Cameroon USSD push: connectors, simulator, standalone client.

One provider, ``orange_money``; the setting ``channel`` picks the API (``webpay``, the default, or ``ussd_push``).

    from cauri.connectors.mobile_money.orange_money import OrangeMoneyClient, OrangeMoneySimulator
"""

from __future__ import annotations

from collections.abc import Mapping

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.orange_money.client import DEFAULT_POLICY, USSD_BASE_URL, WEBPAY_BASE_URL
from cauri.connectors.mobile_money.orange_money.connector import (
    USSD_LIMITS,
    WEBPAY_COUNTRY_CURRENCIES,
    WEBPAY_LIMITS,
    OrangeUssdPushConnector,
    OrangeWebPayConnector,
)
from cauri.connectors.mobile_money.orange_money.schemas import (
    UssdPayment,
    WebPayment,
    WebPayNotification,
    WebPayStatus,
)
from cauri.connectors.mobile_money.orange_money.simulator import (
    DEFAULT_AUTH_TOKEN,
    DEFAULT_CHANNEL_USER,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_MERCHANT_KEY,
    DEFAULT_PIN,
    OrangeMoneySimulator,
    orange_phone,
)
from cauri.connectors.mobile_money.orange_money.standalone import OrangeMoneyClient, SyncOrangeMoneyClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.core.config import Settings
from cauri.kit.errors import InvalidRequest
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "PROVIDER",
    "USSD_LIMITS",
    "WEBPAY_COUNTRY_CURRENCIES",
    "WEBPAY_LIMITS",
    "OrangeMoneyClient",
    "OrangeMoneySimulator",
    "OrangeUssdPushConnector",
    "OrangeWebPayConnector",
    "SyncOrangeMoneyClient",
    "UssdPayment",
    "WebPayNotification",
    "WebPayStatus",
    "WebPayment",
    "orange_phone",
]


def build(config: ConnectorConfig) -> OrangeWebPayConnector | OrangeUssdPushConnector:
    channel = config.setting("channel") or "webpay"
    policy = config.http_policy(DEFAULT_POLICY)
    if channel == "webpay":
        return OrangeWebPayConnector(
            client_id=config.plain("client_id") or config.secret("client_id").get_secret_value(),
            client_secret=config.secret("client_secret"),
            merchant_key=config.secret("merchant_key"),
            base_url=config.setting("base_url") or WEBPAY_BASE_URL,
            country=config.setting("webpay_country") or "dev",
            currency_code=config.setting("webpay_currency"),
            return_url=config.setting("return_url"),
            cancel_url=config.setting("cancel_url"),
            lang=config.setting("lang") or "fr",
            merchant_name=config.setting("merchant_name") or "",
            token_url=config.setting("token_url"),
            policy=policy,
        )
    if channel == "ussd_push":
        return OrangeUssdPushConnector(
            consumer_key=config.plain("client_id") or config.secret("client_id").get_secret_value(),
            consumer_secret=config.secret("client_secret"),
            auth_token=config.secret("auth_token"),
            channel_user_msisdn=config.secret("channel_user_msisdn").get_secret_value(),
            pin=config.secret("pin"),
            base_url=config.setting("base_url") or USSD_BASE_URL,
            token_url=config.setting("token_url"),
            msisdn_format=config.setting("msisdn_format") or "national",
            policy=policy,
        )
    raise InvalidRequest(
        f"Canal Orange inconnu : {channel!r} (webpay ou ussd_push).",
        f"Unknown Orange channel: {channel!r} (webpay or ussd_push).",
        provider="orange_money",
        code="invalid_setting",
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def _app_settings(settings: Settings) -> Mapping[str, str]:
    """Where WebPay sends the payer's browser back: Cauri's public pages unless the organisation sets its own."""
    base = settings.public_base_url.rstrip("/")
    return {"return_url": f"{base}/paiement/orange/termine", "cancel_url": f"{base}/paiement/orange/annule"}


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> OrangeMoneySimulator:
    """A simulator accepting the credentials in ``config``, or the published demo ones when there are none."""

    def secret(name: str, default: str) -> str:
        value = config.optional_secret(name)
        return value.get_secret_value() if value is not None else default

    return OrangeMoneySimulator(
        client_id=config.plain("client_id") or DEFAULT_CLIENT_ID,
        client_secret=secret("client_secret", DEFAULT_CLIENT_SECRET),
        merchant_key=secret("merchant_key", DEFAULT_MERCHANT_KEY),
        consumer_key=config.plain("client_id") or DEFAULT_CONSUMER_KEY,
        consumer_secret=secret("client_secret", DEFAULT_CONSUMER_SECRET),
        auth_token=secret("auth_token", DEFAULT_AUTH_TOKEN),
        channel_user_msisdn=config.plain("channel_user_msisdn") or DEFAULT_CHANNEL_USER,
        pin=secret("pin", DEFAULT_PIN),
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="orange_money",
    display_name="Orange Money",
    build=_build,
    credential_fields=(
        CredentialField("client_id", "Identifiant client (clé consommateur)", "Client id (consumer key)", secret=False),
        CredentialField("client_secret", "Secret client", "Client secret"),
        CredentialField("merchant_key", "Clé marchand WebPay", "WebPay merchant key", required=False),
        CredentialField("auth_token", "Jeton X-AUTH-TOKEN (USSD)", "X-AUTH-TOKEN (USSD)", required=False),
        CredentialField(
            "channel_user_msisdn",
            "Numéro du compte marchand (USSD)",
            "Channel user number (USSD)",
            secret=False,
            required=False,
        ),
        CredentialField("pin", "Code PIN du compte marchand (USSD)", "Channel user PIN (USSD)", required=False),
    ),
    setting_names=(
        "channel",
        "base_url",
        "token_url",
        "webpay_country",
        "webpay_currency",
        "return_url",
        "cancel_url",
        "lang",
        "merchant_name",
        "msisdn_format",
    ),
    countries=frozenset({"CI", "SN", "CM", "ML", "BF", "GN"}),
    app_settings=_app_settings,
    simulator=simulator,
)
