"""Mojaloop (SDK scheme adapter outbound API) passes the connector contract over loopback HTTP: payouts only."""

from __future__ import annotations

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.mojaloop import MojaloopConnector, MojaloopSimulator, magic_phone
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

PAYER = "22507000001"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return MojaloopSimulator(settings=timings)


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return MojaloopConnector(base_url=base_url, payer_id_value=PAYER, policy=policy)


PAYOUT_FAILURES = {
    FailureReason.PAYEE_NOT_FOUND: magic_phone(Outcome.NOT_FOUND),
    FailureReason.INSUFFICIENT_FUNDS: magic_phone(Outcome.INSUFFICIENT_FUNDS),
    FailureReason.LIMIT_REACHED: magic_phone(Outcome.LIMIT_REACHED),
    FailureReason.NOT_ALLOWED: magic_phone(Outcome.NOT_ALLOWED, "SN"),
    FailureReason.PROVIDER_ERROR: magic_phone(Outcome.PROVIDER_ERROR),
    FailureReason.ACCOUNT_INACTIVE: magic_phone(Outcome.ACCOUNT_INACTIVE, "BJ"),
}


class TestMojaloopContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=magic_phone(Outcome.SUCCESS),
            failures=PAYOUT_FAILURES,  # payouts: the generic tests drive payouts for a payout-only provider
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
            payout_success=magic_phone(Outcome.SUCCESS, "SN"),
            payout_failures=PAYOUT_FAILURES,
            account_missing=magic_phone(Outcome.NOT_FOUND, "SN"),
        ),
        currency="XOF",
        amount=2500,
    )
