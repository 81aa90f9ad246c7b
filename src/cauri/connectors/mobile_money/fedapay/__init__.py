"""FedaPay: connector, standalone client, simulator and registry entry.

from cauri.connectors.mobile_money.fedapay import FedaPayClient, FedaPayConnector, FedaPaySimulator
"""

from __future__ import annotations

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.fedapay.client import DEFAULT_POLICY
from cauri.connectors.mobile_money.fedapay.connector import FedaPayConnector
from cauri.connectors.mobile_money.fedapay.simulator import FedaPaySimulator, magic_phone
from cauri.connectors.mobile_money.fedapay.standalone import FedaPayClient, SyncFedaPayClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = ["PROVIDER", "FedaPayClient", "FedaPayConnector", "FedaPaySimulator", "SyncFedaPayClient", "magic_phone"]


def build(config: ConnectorConfig) -> FedaPayConnector:
    secrets = [config.secret("webhook_secret")]
    previous = config.optional_secret("previous_webhook_secret")
    if previous is not None:
        secrets.append(previous)
    return FedaPayConnector(
        api_key=config.secret("api_key"),
        webhook_secrets=secrets,
        environment=config.setting("environment", "sandbox") or "sandbox",
        base_url=config.setting("base_url"),
        default_mode=config.setting("default_mode"),
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> FedaPaySimulator:
    """A FedaPay account accepting the credentials in ``config`` (simulator defaults when none)."""
    api_key = config.optional_secret("api_key")
    secret = config.optional_secret("webhook_secret")
    return FedaPaySimulator(
        api_key=api_key.get_secret_value() if api_key else "sk_sandbox_cauri",
        webhook_secret=secret.get_secret_value() if secret else "wh_sandbox_cauri",
        webhook_url=config.setting("webhook_url"),
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="fedapay",
    display_name="FedaPay",
    build=_build,
    credential_fields=(
        CredentialField("api_key", "Clé secrète (sk_…)", "Secret key (sk_…)"),
        CredentialField("webhook_secret", "Secret des webhooks", "Webhook secret"),
        CredentialField(
            "previous_webhook_secret", "Ancien secret des webhooks", "Previous webhook secret", required=False
        ),
    ),
    setting_names=("environment", "base_url", "default_mode", "webhook_url"),
    # Benin, Togo, Côte d'Ivoire; Senegal (free_sn), Niger (airtel_ne), Guinea (mtn_open_gn): transformers.MODES.
    countries=frozenset({"BJ", "TG", "CI", "SN", "NE", "GN"}),
    simulator=simulator,
)
