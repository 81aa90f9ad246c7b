"""Wave (Senegal, Côte d'Ivoire, Mali, Burkina Faso): connector, simulator, standalone client.

from cauri.connectors.mobile_money.wave import WaveClient, WaveConnector, WaveSimulator
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.wave.client import DEFAULT_BASE_URL, DEFAULT_POLICY
from cauri.connectors.mobile_money.wave.connector import WAVE_LIMITS, WaveConnector
from cauri.connectors.mobile_money.wave.schemas import (
    CheckoutSession,
    CheckoutSessionCreate,
    PageInfo,
    Payout,
    PayoutBatch,
    PayoutBatchCreate,
    PayoutCreate,
    TransactionPage,
    WaveBalance,
    WaveTransaction,
    WebhookEvent,
)
from cauri.connectors.mobile_money.wave.simulator import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, WaveSimulator
from cauri.connectors.mobile_money.wave.standalone import SyncWaveClient, WaveClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "PROVIDER",
    "WAVE_LIMITS",
    "CheckoutSession",
    "CheckoutSessionCreate",
    "PageInfo",
    "Payout",
    "PayoutBatch",
    "PayoutBatchCreate",
    "PayoutCreate",
    "SyncWaveClient",
    "TransactionPage",
    "WaveBalance",
    "WaveClient",
    "WaveConnector",
    "WaveSimulator",
    "WaveTransaction",
    "WebhookEvent",
]


def build(config: ConnectorConfig) -> WaveConnector:
    secrets = [config.secret("webhook_secret")]
    previous = config.optional_secret("previous_webhook_secret")
    if previous is not None:
        secrets.append(previous)
    return WaveConnector(
        api_key=config.secret("api_key"),
        webhook_secrets=secrets,
        success_url=config.setting("success_url"),
        error_url=config.setting("error_url"),
        base_url=config.setting("base_url") or DEFAULT_BASE_URL,
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def _app_settings(settings: Settings) -> Mapping[str, str]:
    """Where Wave sends the payer's browser after paying: Cauri's public pages unless the organisation sets its own."""
    base = settings.public_base_url.rstrip("/")
    return {"success_url": f"{base}/paiement/wave/termine", "error_url": f"{base}/paiement/wave/echec"}


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> WaveSimulator:
    """A simulator accepting the credentials in ``config``, or the published demo ones when there are none."""
    api_key: SecretStr | None = config.optional_secret("api_key")
    secret: SecretStr | None = config.optional_secret("webhook_secret")
    return WaveSimulator(
        api_key=api_key.get_secret_value() if api_key else DEFAULT_API_KEY,
        webhook_secret=secret.get_secret_value() if secret else DEFAULT_WEBHOOK_SECRET,
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="wave",
    display_name="Wave",
    build=_build,
    credential_fields=(
        CredentialField("api_key", "Clé d'API Wave", "Wave API key"),
        CredentialField("webhook_secret", "Secret des webhooks", "Webhook secret"),
        CredentialField(
            "previous_webhook_secret", "Ancien secret des webhooks", "Previous webhook secret", required=False
        ),
    ),
    setting_names=("base_url", "success_url", "error_url"),
    countries=frozenset({"SN", "CI", "ML", "BF"}),
    app_settings=_app_settings,
    simulator=simulator,
)
