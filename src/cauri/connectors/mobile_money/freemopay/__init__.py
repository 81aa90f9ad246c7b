"""FreeMoPay v2 (Cameroon, MTN and Orange through one aggregator): connector, simulator, standalone client.

from cauri.connectors.mobile_money.freemopay import FreeMoPayClient, FreeMoPayConnector, FreeMoPaySimulator
"""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.freemopay.client import DEFAULT_BASE_URL, DEFAULT_POLICY, AuthMode
from cauri.connectors.mobile_money.freemopay.connector import FREEMOPAY_LIMITS, FreeMoPayConnector
from cauri.connectors.mobile_money.freemopay.schemas import (
    CallbackNotification,
    DepositRequest,
    PaymentDetails,
    PaymentInit,
    WithdrawRequest,
)
from cauri.connectors.mobile_money.freemopay.simulator import (
    DEFAULT_APP_KEY,
    DEFAULT_SECRET_KEY,
    FreeMoPaySimulator,
)
from cauri.connectors.mobile_money.freemopay.standalone import FreeMoPayClient, SyncFreeMoPayClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "FREEMOPAY_LIMITS",
    "PROVIDER",
    "AuthMode",
    "CallbackNotification",
    "DepositRequest",
    "FreeMoPayClient",
    "FreeMoPayConnector",
    "FreeMoPaySimulator",
    "PaymentDetails",
    "PaymentInit",
    "SyncFreeMoPayClient",
    "WithdrawRequest",
]


def build(config: ConnectorConfig) -> FreeMoPayConnector:
    app_key = config.plain("app_key") or config.secret("app_key").get_secret_value()
    return FreeMoPayConnector(
        app_key=app_key,
        secret_key=config.secret("secret_key"),
        base_url=config.setting("base_url") or DEFAULT_BASE_URL,
        auth_mode=config.setting("auth_mode") or AuthMode.TOKEN,
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> FreeMoPaySimulator:
    """A simulator accepting the credentials in ``config``, or the published demo ones when there are none."""
    app_key = config.plain("app_key") or DEFAULT_APP_KEY
    secret: SecretStr | None = config.optional_secret("secret_key")
    return FreeMoPaySimulator(
        app_key=app_key,
        secret_key=secret.get_secret_value() if secret else DEFAULT_SECRET_KEY,
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="freemopay",
    display_name="FreeMoPay",
    build=_build,
    credential_fields=(
        CredentialField("app_key", "Clé d'application (appKey)", "Application key (appKey)", secret=False),
        CredentialField("secret_key", "Clé secrète (secretKey)", "Secret key (secretKey)"),
    ),
    setting_names=("base_url", "auth_mode"),
    countries=frozenset({"CM"}),
    simulator=simulator,
)
