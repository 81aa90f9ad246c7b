"""Mojaloop through the SDK scheme adapter's outbound API: connector, standalone client, simulator, registry entry.

from cauri.connectors.mobile_money.mojaloop import MojaloopClient, MojaloopConnector, BulkItem, MojaloopSimulator
"""

from __future__ import annotations

import os

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.mojaloop.client import DEFAULT_POLICY
from cauri.connectors.mobile_money.mojaloop.connector import (
    BulkItem,
    BulkItemResult,
    BulkResult,
    BulkSubmission,
    MojaloopConnector,
    TransferState,
)
from cauri.connectors.mobile_money.mojaloop.simulator import MAX_BULK_ITEMS, MojaloopSimulator, magic_phone
from cauri.connectors.mobile_money.mojaloop.standalone import MojaloopClient, SyncMojaloopClient
from cauri.connectors.mobile_money.mojaloop.transformers import BulkPhase, Party, Quote
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "MAX_BULK_ITEMS",
    "PROVIDER",
    "BulkItem",
    "BulkItemResult",
    "BulkPhase",
    "BulkResult",
    "BulkSubmission",
    "MojaloopClient",
    "MojaloopConnector",
    "MojaloopSimulator",
    "Party",
    "Quote",
    "SyncMojaloopClient",
    "TransferState",
    "magic_phone",
]

_TRUE = {"1", "true", "yes", "on"}


def build(config: ConnectorConfig) -> MojaloopConnector:
    max_fee = config.setting("max_fee", "0") or "0"
    return MojaloopConnector(
        base_url=config.require_setting("base_url"),
        payer_id_value=config.require_setting("payer_id_value"),
        payer_id_type=config.setting("payer_id_type", "MSISDN") or "MSISDN",
        payer_name=config.setting("payer_name"),
        api_token=config.optional_secret("api_token"),
        callback_token=config.optional_secret("callback_token"),
        max_fee=int(max_fee),
        send_transfer_id=(config.setting("send_transfer_id", "true") or "true").lower() in _TRUE,
        bulk_status_path=config.setting("bulk_status_path") or "/bulkTransactions/{id}",
        policy=config.http_policy(DEFAULT_POLICY),
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> MojaloopSimulator:
    """The SDK as a DFSP runs it: auto-accept on unless ``CAURI_MOJALOOP_SIM_AUTO_ACCEPT=false``; bulk results go
    to ``CAURI_MOJALOOP_SIM_BACKEND_URL`` (the SDK's ``BACKEND_ENDPOINT``) or the ``backend_url`` setting."""
    token = config.optional_secret("api_token")
    auto_accept = os.environ.get("CAURI_MOJALOOP_SIM_AUTO_ACCEPT", "true").lower() in _TRUE
    return MojaloopSimulator(
        api_token=token.get_secret_value() if token else None,
        auto_accept_party=auto_accept,
        auto_accept_quote=auto_accept,
        backend_url=config.setting("backend_url") or os.environ.get("CAURI_MOJALOOP_SIM_BACKEND_URL"),
        settings=settings,
    )


PROVIDER = ProviderSpec(
    name="mojaloop",
    display_name="Mojaloop (SDK scheme adapter)",
    build=_build,
    credential_fields=(
        CredentialField("api_token", "Jeton de l'API sortante", "Outbound API token", required=False),
        CredentialField("callback_token", "Jeton des rappels groupés", "Bulk callback token", required=False),
    ),
    setting_names=(
        "base_url",
        "payer_id_type",
        "payer_id_value",
        "payer_name",
        "max_fee",
        "send_transfer_id",
        "bulk_status_path",
        "backend_url",
    ),
    # Any scheme member can be reached; Cauri's markets with Mojaloop-based switches (e.g. UEMOA's) first.
    countries=frozenset({"CI", "SN", "BJ", "TG", "BF", "ML", "NE", "GW", "CM"}),
    simulator=simulator,
)
