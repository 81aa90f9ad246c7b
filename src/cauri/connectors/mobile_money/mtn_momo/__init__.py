"""MTN Mobile Money Open API (collection and disbursement): connector, simulator, standalone client.

from cauri.connectors.mobile_money.mtn_momo import MtnMomoClient, MtnMomoConnector, MtnMomoSimulator
"""

from __future__ import annotations

import os

from cauri.connectors.base import PaymentConnector
from cauri.connectors.mobile_money.mtn_momo.client import DEFAULT_POLICY, PRODUCTION_URL, SANDBOX_URL
from cauri.connectors.mobile_money.mtn_momo.connector import (
    ENVIRONMENT_CURRENCIES,
    MTN_LIMITS,
    MtnMomoConnector,
    parse_environments,
)
from cauri.connectors.mobile_money.mtn_momo.schemas import (
    AccountBalance,
    AccountHolderIdType,
    BasicUserInfo,
    Party,
    PayoutOperation,
    Product,
    RequestToPay,
    RequestToWithdraw,
    TransactionStatus,
    Transfer,
)
from cauri.connectors.mobile_money.mtn_momo.simulator import (
    DEFAULT_API_KEY,
    DEFAULT_API_USER,
    DEFAULT_COLLECTION_KEY,
    DEFAULT_DISBURSEMENT_KEY,
    MtnMomoSimulator,
    ReasonFormat,
    SandboxBehaviour,
    SandboxNumber,
    mtn_phone,
)
from cauri.connectors.mobile_money.mtn_momo.standalone import MtnMomoClient, SyncMtnMomoClient
from cauri.connectors.registry import ConnectorConfig, CredentialField, ProviderSpec
from cauri.kit.simulation import SimulatorSettings

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_USER",
    "DEFAULT_COLLECTION_KEY",
    "DEFAULT_DISBURSEMENT_KEY",
    "ENVIRONMENT_CURRENCIES",
    "MTN_LIMITS",
    "PROVIDER",
    "AccountBalance",
    "AccountHolderIdType",
    "BasicUserInfo",
    "MtnMomoClient",
    "MtnMomoConnector",
    "MtnMomoSimulator",
    "Party",
    "PayoutOperation",
    "Product",
    "ReasonFormat",
    "RequestToPay",
    "RequestToWithdraw",
    "SandboxBehaviour",
    "SandboxNumber",
    "SyncMtnMomoClient",
    "TransactionStatus",
    "Transfer",
    "mtn_phone",
]


_TRUE = frozenset({"1", "true", "yes", "on"})


def build(config: ConnectorConfig) -> MtnMomoConnector:
    environment = config.setting("target_environment") or "sandbox"
    default_url = SANDBOX_URL if environment == "sandbox" else PRODUCTION_URL
    api_user = config.plain("api_user") or config.secret("api_user").get_secret_value()
    return MtnMomoConnector(
        api_user=api_user,
        api_key=config.secret("api_key"),
        collection_key=config.optional_secret("collection_subscription_key"),
        disbursement_key=config.optional_secret("disbursement_subscription_key"),
        base_url=config.setting("base_url") or default_url,
        target_environment=environment,
        target_environments=parse_environments(config.setting("target_environments")),
        balance_product=config.setting("balance_product") or Product.DISBURSEMENT,
        policy=config.http_policy(DEFAULT_POLICY),
        payout_operation=config.setting("payout_operation") or PayoutOperation.TRANSFER,
        check_payee=(config.setting("check_payee") or "").lower() in _TRUE,
        balance_by_currency=(config.setting("balance_by_currency") or "").lower() in _TRUE,
    )


def _build(config: ConnectorConfig) -> PaymentConnector:
    return build(config)


def simulator(settings: SimulatorSettings, config: ConnectorConfig) -> MtnMomoSimulator:
    """A simulator accepting the credentials in ``config``, or the published demo ones when there are none."""

    def secret(name: str, default: str) -> str:
        value = config.optional_secret(name)
        return value.get_secret_value() if value is not None else default

    return MtnMomoSimulator(
        api_user=config.plain("api_user") or DEFAULT_API_USER,
        api_key=secret("api_key", DEFAULT_API_KEY),
        collection_key=secret("collection_subscription_key", DEFAULT_COLLECTION_KEY),
        disbursement_key=secret("disbursement_subscription_key", DEFAULT_DISBURSEMENT_KEY),
        settings=settings,
        delayed_success_seconds=max(settings.settle_seconds * 5, 1.0),
        # "string" (the sandbox's bare reason) or "object" ({code, message}, MTN's specification)
        reason_format=os.environ.get("CAURI_SIMULATE_MTN_MOMO_REASON_FORMAT", ReasonFormat.STRING),
    )


PROVIDER = ProviderSpec(
    name="mtn_momo",
    display_name="MTN Mobile Money",
    build=_build,
    credential_fields=(
        CredentialField("api_user", "Utilisateur API (X-Reference-Id)", "API user (X-Reference-Id)", secret=False),
        CredentialField("api_key", "Clé de l'utilisateur API", "API user key"),
        CredentialField(
            "collection_subscription_key",
            "Clé d'abonnement Collection",
            "Collection subscription key",
            required=False,
        ),
        CredentialField(
            "disbursement_subscription_key",
            "Clé d'abonnement Disbursement",
            "Disbursement subscription key",
            required=False,
        ),
    ),
    setting_names=(
        "base_url",
        "target_environment",
        "target_environments",
        "balance_product",
        "payout_operation",
        "check_payee",
        "balance_by_currency",
    ),
    countries=frozenset({"CM", "CI", "BJ", "CG", "GN"}),
    simulator=simulator,
)
