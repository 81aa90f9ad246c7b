"""CinetPay passes the connector contract against its simulator over loopback HTTP."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.cinetpay import (
    CinetPayConnector,
    CinetPaySimulator,
    CinetPayV1Connector,
    magic_phone,
)
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

APIKEY, SITE_ID, SECRET = "cp-apikey-contract-0123456789", "445160", "cp-secret-contract-0123456789"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return CinetPaySimulator(apikey=APIKEY, site_id=SITE_ID, secret_key=SECRET, settings=timings)


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return CinetPayConnector(
        apikey=SecretStr(APIKEY),
        site_id=SITE_ID,
        secret_keys=[SecretStr(SECRET)],
        base_url=f"{base_url}/v2",
        policy=policy,
    )


class TestCinetPayContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=magic_phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS, "SN"),
                FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED, "CM"),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED, "BF"),
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
        ),
        currency="XOF",
        amount=2500,
    )


API_PASSWORD = "cp-password-contract-0123456789"
V1_KEY = "sk_test_contract_0123456789"


def make_v1_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return CinetPaySimulator(apikey=V1_KEY, api_password=API_PASSWORD, settings=timings)


def make_v1_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return CinetPayV1Connector(
        api_key=SecretStr(V1_KEY), api_password=SecretStr(API_PASSWORD), base_url=base_url, policy=policy
    )


class TestCinetPayCurrentApiContract(PaymentConnectorContract):
    """The current API (``api_version: v1``): collections, transfers (payouts) and the balance."""

    subject = ConnectorUnderTest(
        simulator=make_v1_simulator,
        connector=make_v1_connector,
        phones=MagicPhones(
            success=magic_phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS, "SN"),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED, "BF"),
                FailureReason.PROVIDER_ERROR: magic_phone(Outcome.PROVIDER_ERROR, "CM"),
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
                FailureReason.PAYEE_NOT_FOUND: magic_phone(Outcome.NOT_FOUND, "SN"),
                FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED),
                FailureReason.PROVIDER_ERROR: magic_phone(Outcome.PROVIDER_ERROR, "CM"),
                FailureReason.ACCOUNT_INACTIVE: magic_phone(Outcome.ACCOUNT_INACTIVE, "BF"),
            },
        ),
        currency="XOF",
        amount=2500,
    )
