"""Wave passes the connector contract against its simulator over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.wave import WaveConnector, WaveSimulator
from cauri.connectors.mobile_money.wave import webhooks as wave_webhooks
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

API_KEY = "wave_sn_prod_contract_0123456789"
WEBHOOK_SECRET = "wave_sn_WHS_contract_0123456789"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return WaveSimulator(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, settings=timings)


def point_webhooks(simulator: SimulatedProvider, receiver: str) -> None:
    """Wave sends every event to the one URL set in its business portal; here, the contract's receiver."""
    assert isinstance(simulator, WaveSimulator)
    simulator.webhook_url = f"{receiver}/callbacks/{{client_reference}}"


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return WaveConnector(
        api_key=SecretStr(API_KEY),
        webhook_secrets=[SecretStr(WEBHOOK_SECRET)],
        success_url="https://cauri.example/paiement/wave/termine",
        error_url="https://cauri.example/paiement/wave/echec",
        base_url=base_url,
        policy=policy,
    )


def phone(outcome: Outcome) -> str:
    return magic_phone(outcome, "SN")


class TestWaveContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: phone(Outcome.NOT_ALLOWED),
                FailureReason.REJECTED_BY_PAYER: phone(Outcome.REJECTED_BY_PAYER),
                FailureReason.PROVIDER_ERROR: phone(Outcome.PROVIDER_ERROR),
                FailureReason.ACCOUNT_INACTIVE: phone(Outcome.ACCOUNT_INACTIVE),
            },
            pending_forever=phone(Outcome.PENDING_FOREVER),
            expires=phone(Outcome.EXPIRES),
            unknown_status=phone(Outcome.UNKNOWN_STATUS),
            timeout_after_accept=phone(Outcome.TIMEOUT_AFTER_ACCEPT),
            server_error=phone(Outcome.UNAVAILABLE),
            server_error_after_processing=phone(Outcome.ERROR_AFTER_PROCESSING),
            rate_limited=phone(Outcome.RATE_LIMITED),
            duplicated_callback=phone(Outcome.DUPLICATED_CALLBACK),
            late_callback=phone(Outcome.LATE_CALLBACK),
            no_callback=phone(Outcome.NO_CALLBACK),
            slow=phone(Outcome.SLOW),
            payout_success=magic_phone(Outcome.SUCCESS, "CI"),
            payout_failures={
                FailureReason.PAYEE_NOT_FOUND: phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: phone(Outcome.NOT_ALLOWED),
                FailureReason.ACCOUNT_INACTIVE: phone(Outcome.ACCOUNT_INACTIVE),
            },
        ),
        currency="XOF",
        amount=2000,
        sign_callback=lambda body, timestamp, secret: wave_webhooks.sign(secret, body, timestamp),
        webhook_secret=WEBHOOK_SECRET,
        point_webhooks=point_webhooks,
    )
