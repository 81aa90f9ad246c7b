"""MTN MoMo passes the connector contract against its simulator over loopback HTTP (MTN's sandbox: EUR)."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import PaymentConnector
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.mtn_momo import MtnMomoConnector, MtnMomoSimulator, SandboxNumber, mtn_phone
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

API_USER = "0b6f4a52-9a7e-4c1d-8f3b-5d2e7c9a1b40"
API_KEY = "mtn_contract_api_key_0123456789"
COLLECTION_KEY = "mtn_contract_collection_key"
DISBURSEMENT_KEY = "mtn_contract_disbursement_key"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return MtnMomoSimulator(
        api_user=API_USER,
        api_key=API_KEY,
        collection_key=COLLECTION_KEY,
        disbursement_key=DISBURSEMENT_KEY,
        callback_host="127.0.0.1",
        settings=timings,
    )


def make_connector(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return MtnMomoConnector(
        api_user=API_USER,
        api_key=SecretStr(API_KEY),
        collection_key=SecretStr(COLLECTION_KEY),
        disbursement_key=SecretStr(DISBURSEMENT_KEY),
        base_url=base_url,
        policy=policy,
    )


class TestMtnMomoContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_connector,
        phones=MagicPhones(
            success=mtn_phone(Outcome.SUCCESS),
            failures={
                FailureReason.PAYER_NOT_FOUND: mtn_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: mtn_phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: mtn_phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: mtn_phone(Outcome.NOT_ALLOWED),
                FailureReason.REJECTED_BY_PAYER: mtn_phone(SandboxNumber.REJECTED),
                FailureReason.PROVIDER_ERROR: mtn_phone(SandboxNumber.FAILED),
                FailureReason.EXPIRED: mtn_phone(SandboxNumber.TIMEOUT),
            },
            pending_forever=mtn_phone(SandboxNumber.ONGOING),
            expires=mtn_phone(Outcome.EXPIRES),
            unknown_status=mtn_phone(Outcome.UNKNOWN_STATUS),
            timeout_after_accept=mtn_phone(Outcome.TIMEOUT_AFTER_ACCEPT),
            server_error=mtn_phone(Outcome.UNAVAILABLE),
            server_error_after_processing=mtn_phone(Outcome.ERROR_AFTER_PROCESSING),
            rate_limited=mtn_phone(Outcome.RATE_LIMITED),
            duplicated_callback=mtn_phone(Outcome.DUPLICATED_CALLBACK),
            late_callback=mtn_phone(Outcome.LATE_CALLBACK),
            no_callback=mtn_phone(Outcome.NO_CALLBACK),
            slow=mtn_phone(Outcome.SLOW),
            payout_failures={
                FailureReason.PAYEE_NOT_FOUND: mtn_phone(Outcome.NOT_FOUND),
                FailureReason.INSUFFICIENT_FUNDS: mtn_phone(Outcome.INSUFFICIENT_FUNDS),
                FailureReason.LIMIT_REACHED: mtn_phone(Outcome.LIMIT_REACHED),
                FailureReason.NOT_ALLOWED: mtn_phone(Outcome.NOT_ALLOWED),
            },
            account_missing=mtn_phone(Outcome.NOT_FOUND),
        ),
        currency="EUR",
        amount=2500,
    )
