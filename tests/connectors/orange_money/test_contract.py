"""Orange Money passes the connector contract over loopback HTTP, through WebPay and through the USSD push."""

from __future__ import annotations

from pydantic import SecretStr

from cauri.connectors.base import CollectRequest, PaymentConnector, ProviderPayment
from cauri.connectors.contract import ConnectorUnderTest, MagicPhones, PaymentConnectorContract
from cauri.connectors.mobile_money.orange_money import (
    OrangeMoneySimulator,
    OrangeUssdPushConnector,
    OrangeWebPayConnector,
    orange_phone,
)
from cauri.connectors.mobile_money.orange_money import transformers as orange
from cauri.kit.errors import FailureReason
from cauri.kit.http import HttpPolicy
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatedProvider, SimulatorSettings

CLIENT_ID, CLIENT_SECRET, MERCHANT_KEY = "om_contract_client", "om_contract_secret_0123456789", "om_contract_mk"
CONSUMER_KEY, CONSUMER_SECRET = "omcm_contract_consumer", "omcm_contract_secret_0123456789"
AUTH_TOKEN, CHANNEL_USER, PIN = "omcm_contract_x_auth", "691000001", "4321"


def make_simulator(timings: SimulatorSettings) -> SimulatedProvider:
    return OrangeMoneySimulator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        merchant_key=MERCHANT_KEY,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        auth_token=AUTH_TOKEN,
        channel_user_msisdn=CHANNEL_USER,
        pin=PIN,
        settings=timings,
    )


class WebPayWithItsCustomer(OrangeWebPayConnector):
    """WebPay's payer types their number on Orange's page, so no request names them: before each order, the
    simulated customer is told which number they will pay with (that is all this subclass adds)."""

    def __init__(self, simulator: OrangeMoneySimulator, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.customer = simulator

    async def _collect(self, request: CollectRequest) -> ProviderPayment:
        self.customer.expect_payer(orange.order_id(request.reference), request.payer_phone.removeprefix("+"))
        return await super()._collect(request)


def make_webpay(base_url: str, simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    assert isinstance(simulator, OrangeMoneySimulator)
    return WebPayWithItsCustomer(
        simulator,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
        merchant_key=SecretStr(MERCHANT_KEY),
        base_url=base_url,
        return_url="https://cauri.example/paiement/orange/termine",
        cancel_url="https://cauri.example/paiement/orange/annule",
        policy=policy,
    )


def make_ussd_push(base_url: str, _simulator: SimulatedProvider, policy: HttpPolicy) -> PaymentConnector:
    return OrangeUssdPushConnector(
        consumer_key=CONSUMER_KEY,
        consumer_secret=SecretStr(CONSUMER_SECRET),
        auth_token=SecretStr(AUTH_TOKEN),
        channel_user_msisdn=CHANNEL_USER,
        pin=SecretStr(PIN),
        base_url=base_url,
        policy=policy,
    )


def phones(failures: dict[FailureReason, str], country: str) -> MagicPhones:
    return MagicPhones(
        success=orange_phone(Outcome.SUCCESS, country),
        failures=failures,
        pending_forever=orange_phone(Outcome.PENDING_FOREVER, country),
        expires=orange_phone(Outcome.EXPIRES, country),
        unknown_status=orange_phone(Outcome.UNKNOWN_STATUS, country),
        timeout_after_accept=orange_phone(Outcome.TIMEOUT_AFTER_ACCEPT, country),
        server_error=orange_phone(Outcome.UNAVAILABLE, country),
        server_error_after_processing=orange_phone(Outcome.ERROR_AFTER_PROCESSING, country),
        rate_limited=orange_phone(Outcome.RATE_LIMITED, country),
        duplicated_callback=orange_phone(Outcome.DUPLICATED_CALLBACK, country),
        late_callback=orange_phone(Outcome.LATE_CALLBACK, country),
        no_callback=orange_phone(Outcome.NO_CALLBACK, country),
        slow=orange_phone(Outcome.SLOW, country),
    )


class TestOrangeWebPayContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_webpay,
        # WebPay reports FAILED without a reason: every refusal is provider_error.
        phones=phones({FailureReason.PROVIDER_ERROR: orange_phone(Outcome.PROVIDER_ERROR, "CI")}, "CI"),
        currency="XOF",
        amount=1500,
    )


class TestOrangeUssdPushContract(PaymentConnectorContract):
    subject = ConnectorUnderTest(
        simulator=make_simulator,
        connector=make_ussd_push,
        phones=phones(
            {
                FailureReason.INSUFFICIENT_FUNDS: orange_phone(Outcome.INSUFFICIENT_FUNDS),  # inittxnstatus 60019
                FailureReason.PROVIDER_ERROR: orange_phone(Outcome.PROVIDER_ERROR),
            },
            "CM",
        ),
        currency="XAF",
        amount=2500,
    )
