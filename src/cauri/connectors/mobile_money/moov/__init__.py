"""Moov Money / Flooz (SOAP): connector, standalone client, simulator and registry entry.

from cauri.connectors.mobile_money.moov import MoovClient, MoovConnector, MoovSimulator
"""

from __future__ import annotations

import json

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.moov.client import DEFAULT_POLICY, SERVICE_PATH
from cauri.connectors.mobile_money.moov.connector import MoovConnector
from cauri.connectors.mobile_money.moov.simulator import MoovSimulator, magic_phone
from cauri.connectors.mobile_money.moov.standalone import MoovClient, SyncMoovClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = ["PROVIDER", "MoovClient", "MoovConnector", "MoovSimulator", "SyncMoovClient", "magic_phone"]


def build(config: ConnectorConfig) -> MoovConnector:
    operations = json.loads(config.setting("operations") or "{}")
    return MoovConnector(
        base_url=config.require_setting("base_url"),
        token=config.secret("token"),
        service_path=config.setting("service_path") or SERVICE_PATH,
        operations={str(k): str(v) for k, v in operations.items()} if isinstance(operations, dict) else None,
        wallet_id=config.setting("wallet_id") or "0",
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> MoovSimulator:
    token = config.optional_secret("token")
    return MoovSimulator(token=token.get_secret_value() if token else "moov-merchant-token", settings=settings)


PROVIDER = ProviderSpec(
    name="moov",
    display_name="Moov Money / Flooz",
    build=_build,
    credential_fields=(
        CredentialField("token", "Jeton marchand (chiffré AES par Moov)", "Merchant token (AES, from Moov)"),
    ),
    setting_names=("base_url", "service_path", "operations", "wallet_id"),
    countries=frozenset({"BJ", "TG"}),
    simulator=simulator,
)
