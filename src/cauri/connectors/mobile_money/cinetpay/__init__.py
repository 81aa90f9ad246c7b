"""CinetPay: connector, standalone client, simulator and registry entry.

from cauri.connectors.mobile_money.cinetpay import CinetPayClient, CinetPayConnector, CinetPaySimulator
"""

from __future__ import annotations

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.cinetpay.client import BASE_URL, DEFAULT_POLICY
from cauri.connectors.mobile_money.cinetpay.connector import CinetPayConnector, CinetPayV1Connector
from cauri.connectors.mobile_money.cinetpay.simulator import CinetPaySimulator, magic_phone
from cauri.connectors.mobile_money.cinetpay.standalone import (
    CinetPayClient,
    CinetPayCurrentClient,
    SyncCinetPayClient,
    SyncCinetPayCurrentClient,
)
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.errors import AuthError
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "PROVIDER",
    "CinetPayClient",
    "CinetPayConnector",
    "CinetPayCurrentClient",
    "CinetPaySimulator",
    "CinetPayV1Connector",
    "SyncCinetPayClient",
    "SyncCinetPayCurrentClient",
    "magic_phone",
]


API_VERSIONS = ("v2", "v1")


def api_version(config: ConnectorConfig) -> str:
    """``v2`` (checkout v2, the default) or ``v1`` (the current API); a credential field or a setting."""
    version = (config.plain("api_version") or config.setting("api_version") or "v2").strip().lower()
    if version not in API_VERSIONS:
        raise AuthError(
            f"Version d'API CinetPay inconnue : {version} (v2 ou v1).",
            f"Unknown CinetPay API version: {version} (v2 or v1).",
            provider="cinetpay",
            code="connector_setting_invalid",
        )
    return version


def build_v1(config: ConnectorConfig) -> CinetPayV1Connector:
    return CinetPayV1Connector(
        api_key=config.secret("apikey"),
        api_password=config.secret("api_password"),
        base_url=config.setting("base_url"),
        channel=config.setting("channel") or "PUSH",
        policy=config.http_policy(DEFAULT_POLICY),
    )


def build(config: ConnectorConfig) -> CinetPayConnector:
    secrets = [config.secret("secret_key")]
    previous = config.optional_secret("previous_secret_key")
    if previous is not None:
        secrets.append(previous)
    return CinetPayConnector(
        apikey=config.secret("apikey"),
        site_id=config.plain("site_id") or config.require_setting("site_id"),
        secret_keys=secrets,
        base_url=config.setting("base_url") or BASE_URL,
        channels=config.setting("channels") or "MOBILE_MONEY",
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build_v1(config) if api_version(config) == "v1" else build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> CinetPaySimulator:
    """A CinetPay site accepting the credentials in ``config`` (simulator defaults when none)."""
    apikey, secret = config.optional_secret("apikey"), config.optional_secret("secret_key")
    password = config.optional_secret("api_password")
    return CinetPaySimulator(
        apikey=apikey.get_secret_value() if apikey else "cinetpay-apikey-cauri",
        site_id=config.plain("site_id") or "105900",
        secret_key=secret.get_secret_value() if secret else "cinetpay-secret-cauri",
        api_password=password.get_secret_value() if password else "cinetpay-password-cauri",
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="cinetpay",
    display_name="CinetPay",
    build=_build,
    credential_fields=(
        CredentialField("apikey", "Clé d'API", "API key"),
        # Checkout v2 needs the site and its secret key; the current API (api_version v1) the API password.
        CredentialField("site_id", "Identifiant du site (v2)", "Site id (v2)", secret=False, required=False),
        CredentialField("secret_key", "Clé secrète x-token (v2)", "Secret key, x-token (v2)", required=False),
        CredentialField("previous_secret_key", "Ancienne clé secrète", "Previous secret key", required=False),
        CredentialField("api_password", "Mot de passe d'API (v1)", "API password (v1)", required=False),
        CredentialField(
            "api_version", "Version d'API (v2 ou v1)", "API version (v2 or v1)", secret=False, required=False
        ),
    ),
    setting_names=("base_url", "channels", "channel", "api_version"),
    countries=frozenset({"CI", "SN", "CM", "BF", "ML", "TG", "BJ", "NE", "GN", "CD"}),
    simulator=simulator,
)
