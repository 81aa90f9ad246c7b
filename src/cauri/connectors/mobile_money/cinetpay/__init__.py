"""CinetPay: connector, standalone client, simulator and registry entry.

from cauri.connectors.mobile_money.cinetpay import CinetPayClient, CinetPayConnector, CinetPaySimulator
"""

from __future__ import annotations

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.cinetpay.client import BASE_URL, DEFAULT_POLICY
from cauri.connectors.mobile_money.cinetpay.connector import CinetPayConnector
from cauri.connectors.mobile_money.cinetpay.simulator import CinetPaySimulator, magic_phone
from cauri.connectors.mobile_money.cinetpay.standalone import CinetPayClient, SyncCinetPayClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "PROVIDER",
    "CinetPayClient",
    "CinetPayConnector",
    "CinetPaySimulator",
    "SyncCinetPayClient",
    "magic_phone",
]


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
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> CinetPaySimulator:
    """A CinetPay site accepting the credentials in ``config`` (simulator defaults when none)."""
    apikey, secret = config.optional_secret("apikey"), config.optional_secret("secret_key")
    return CinetPaySimulator(
        apikey=apikey.get_secret_value() if apikey else "cinetpay-apikey-cauri",
        site_id=config.plain("site_id") or "105900",
        secret_key=secret.get_secret_value() if secret else "cinetpay-secret-cauri",
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="cinetpay",
    display_name="CinetPay",
    build=_build,
    credential_fields=(
        CredentialField("apikey", "Clé d'API", "API key"),
        CredentialField("site_id", "Identifiant du site", "Site id", secret=False),
        CredentialField("secret_key", "Clé secrète (x-token)", "Secret key (x-token)"),
        CredentialField("previous_secret_key", "Ancienne clé secrète", "Previous secret key", required=False),
    ),
    setting_names=("base_url", "channels"),
    countries=frozenset({"CI", "SN", "CM", "BF", "ML", "TG", "BJ", "NE", "GN", "CD"}),
    simulator=simulator,
)
