"""FreeMoPay passes the connector contract against its simulator over loopback HTTP (bearer-token mode)."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.freemopay import AuthMode, FreeMoPayConnector, FreeMoPaySimulator
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

APP_KEY = "fmp_contract_app"
SECRET_KEY = "fmp_contract_secret_0123456789"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return FreeMoPaySimulator(app_key=APP_KEY, secret_key=SECRET_KEY, settings=timings)


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return FreeMoPayConnector(
        app_key=APP_KEY, secret_key=SecretStr(SECRET_KEY), base_url=base_url, auth_mode=AuthMode.TOKEN, policy=policy
    )


class TestFreeMoPayContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=magic_phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED),
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
                FailureReason.PAYEE_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED),
                FailureReason.ACCOUNT_INACTIVE: magic_phone(Outcome.ACCOUNT_INACTIVE),
            },
        ),
        currency="XAF",
        amount=1500,
    )
