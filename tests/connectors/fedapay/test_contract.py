"""FedaPay passes the connector contract against its simulator over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.fedapay import FedaPayConnector, FedaPaySimulator, magic_phone
from cauri.connectors.mobile_money.fedapay import webhooks as fedapay_webhooks
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

API_KEY = "sk_sandbox_contract_0123456789"
WEBHOOK_SECRET = "wh_sandbox_contract_0123456789"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return FedaPaySimulator(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, settings=timings)


def point_webhooks(simulator: SimulatedProvider, receiver: str) -> None:
    """FedaPay posts every event to the one URL of the merchant's dashboard; the simulator fills in each object's
    ``merchant_reference`` (our reference) so each payment's events reach its own receiver path."""
    assert isinstance(simulator, FedaPaySimulator)
    simulator.webhook_url = f"{receiver}/callbacks/{{merchant_reference}}"


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return FedaPayConnector(
        api_key=SecretStr(API_KEY), webhook_secrets=[SecretStr(WEBHOOK_SECRET)], base_url=base_url, policy=policy
    )


class TestFedaPayContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=magic_phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS, "BJ-MOOV"),
                FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED, "CI"),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED, "TG"),
                FailureReason.REJECTED_BY_PAYER: magic_phone(Outcome.REJECTED_BY_PAYER),
                FailureReason.PROVIDER_ERROR: magic_phone(Outcome.PROVIDER_ERROR),
                FailureReason.ACCOUNT_INACTIVE: magic_phone(Outcome.ACCOUNT_INACTIVE),
            },
            pending_forever=magic_phone(Outcome.PENDING_FOREVER),
            expires=magic_phone(Outcome.EXPIRES),
            unknown_status=magic_phone(Outcome.UNKNOWN_STATUS),
            timeout_after_accept=magic_phone(Outcome.TIMEOUT_AFTER_ACCEPT),
            server_error=magic_phone(Outcome.UNAVAILABLE),
            server_error_after_processing=magic_phone(Outcome.ERROR_AFTER_PROCESSING),
            rate_limited=magic_phone(Outcome.RATE_LIMITED),
            duplicated_callback=magic_phone(Outcome.DUPLICATED_CALLBACK),
            late_callback=magic_phone(Outcome.LATE_CALLBACK),
            no_callback=magic_phone(Outcome.NO_CALLBACK),
            slow=magic_phone(Outcome.SLOW),
            payout_failures={
                FailureReason.PAYEE_NOT_FOUND: magic_phone(Outcome.NOT_FOUND, "TG-TOGOCEL"),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED, "SN-FREE"),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED, "NE"),
                FailureReason.PROVIDER_ERROR: magic_phone(Outcome.PROVIDER_ERROR, "GN"),
                FailureReason.ACCOUNT_INACTIVE: magic_phone(Outcome.ACCOUNT_INACTIVE, "BJ-CELTIIS"),
            },
        ),
        currency="XOF",
        amount=2500,
        sign_callback=lambda body, timestamp, secret: fedapay_webhooks.sign(secret, body, timestamp),
        webhook_secret=WEBHOOK_SECRET,
        point_webhooks=point_webhooks,
    )
