"""The built-in ``sandbox`` provider: connector, simulator and registry entry.

from cauri.connectors.mobile_money.sandbox import SandboxConnector, SandboxSimulator
    from cauri.kit.outcomes import magic_phone  # numbers that choose each outcome
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.sandbox.client import DEFAULT_POLICY
from cauri.connectors.mobile_money.sandbox.connector import SandboxConnector
from cauri.connectors.mobile_money.sandbox.simulator import SandboxSimulator
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings

__all__ = ["PROVIDER", "SandboxConnector", "SandboxSimulator"]


def build(config: ConnectorConfig) -> SandboxConnector:
    webhook_secrets = [config.secret("webhook_secret")]
    previous = config.optional_secret("previous_webhook_secret")
    if previous is not None:
        webhook_secrets.append(previous)
    return SandboxConnector(
        base_url=config.require_setting("base_url"),
        api_key=config.optional_secret("api_key"),
        client_id=config.plain("client_id"),
        client_secret=config.optional_secret("client_secret"),
        webhook_secrets=webhook_secrets,
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def _app_settings(settings: Settings) -> Mapping[str, str]:
    return {"base_url": settings.sandbox_base_url}


def _dev_credentials(settings: Settings) -> Mapping[str, SecretStr]:
    return {"api_key": settings.sandbox_api_key, "webhook_secret": settings.sandbox_webhook_secret}


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> SandboxSimulator:
    """A simulator accepting exactly the credentials in ``config``."""
    api_key = config.optional_secret("api_key")
    client_secret = config.optional_secret("client_secret")
    return SandboxSimulator(
        api_key=api_key.get_secret_value() if api_key else "",
        webhook_secret=config.secret("webhook_secret").get_secret_value(),
        client_id=config.plain("client_id"),
        client_secret=client_secret.get_secret_value() if client_secret else None,
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="sandbox",
    display_name="Sandbox (simulateur Cauri)",
    build=_build,
    credential_fields=(
        CredentialField("api_key", "Clé d'API", "API key", required=False),
        CredentialField("client_id", "Identifiant client OAuth", "OAuth client id", secret=False, required=False),
        CredentialField("client_secret", "Secret client OAuth", "OAuth client secret", required=False),
        CredentialField("webhook_secret", "Secret des notifications", "Webhook secret"),
        CredentialField(
            "previous_webhook_secret", "Ancien secret des notifications", "Previous webhook secret", required=False
        ),
    ),
    setting_names=("base_url",),
    countries=frozenset({"CM", "CI", "SN"}),
    app_settings=_app_settings,
    dev_credentials=_dev_credentials,
    simulator=simulator,
)
