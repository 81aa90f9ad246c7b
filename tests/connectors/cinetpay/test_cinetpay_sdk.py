"""CinetPay's own SDK (``cinetpay-python``, a dev dependency) against the simulator's current API.

If the simulator drifted from what CinetPay's SDK sends and reads, this fails: the login, a direct payment and its
status (by our id and by the payment token), a refused payment, a reused id, a transfer and its status, the balance,
the token renewed after it expired, and the notification the SDK parses and checks against the init's token.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cauri.connectors.mobile_money.cinetpay import CinetPaySimulator, magic_phone
from cauri.kit.outcomes import Outcome
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import CallbackSink, serve_app_in_thread

cinetpay = pytest.importorskip("cinetpay")  # in the dev dependencies; skipped only outside them

KEY, PASSWORD = "sk_test_sdk_drive", "cp-password-sdk"


def until(read: Callable[[], Any], *, pending: tuple[str, ...] = ("INITIATED", "PENDING")) -> Any:
    deadline = time.monotonic() + 10
    while (answer := read()).status in pending:
        assert time.monotonic() < deadline, answer
        time.sleep(0.02)
    return answer


def test_the_official_sdk_drives_the_simulator() -> None:
    simulator = CinetPaySimulator(apikey=KEY, api_password=PASSWORD, settings=SimulatorSettings(settle_seconds=0.05))
    sink = CallbackSink()
    with serve_app_in_thread(simulator.app) as url, serve_app_in_thread(sink) as sink_url:
        credentials = {"CI": cinetpay.CountryCredentials(api_key=KEY, api_password=PASSWORD)}
        client = cinetpay.CinetPayClient(cinetpay.ClientConfig(credentials=credentials, base_url=url))
        reference = f"sdk{uuid.uuid4().hex[:12]}"
        request = cinetpay.PaymentRequest(
            currency="XOF",
            merchant_transaction_id=reference,
            amount=1000,
            lang="fr",
            designation="Commande 42",
            client_email="awa@example.com",
            client_first_name="Awa",
            client_last_name="Diallo",
            success_url="https://shop.example/ok",
            failed_url="https://shop.example/ko",
            notify_url=f"{sink_url}/notify/{reference}",
            channel="PUSH",
            payment_method="OM_CI",
            client_phone_number=magic_phone(Outcome.SUCCESS),
            direct_pay=True,
        )
        opened = client.payment.initialize(request, "CI")
        assert (opened.code, opened.details.status, opened.details.must_be_redirected) == (200, "INITIATED", False)
        paid = until(lambda: client.payment.get_status(reference, "CI"))
        assert (paid.code, paid.status, paid.transaction_id) == (100, "SUCCESS", opened.transaction_id)
        assert client.payment.get_status(opened.payment_token, "CI").status == "SUCCESS"
        with pytest.raises(cinetpay.ApiError) as reused:
            client.payment.initialize(request, "CI")
        assert (reused.value.api_code, reused.value.api_status) == (1200, "TRANSACTION_EXIST")

        refused_reference = f"sdk{uuid.uuid4().hex[:12]}"
        fields = {name: getattr(request, name) for name in request.__dataclass_fields__}
        client.payment.initialize(
            cinetpay.PaymentRequest(
                **{
                    **fields,
                    "merchant_transaction_id": refused_reference,
                    "client_phone_number": magic_phone(Outcome.INSUFFICIENT_FUNDS),
                }
            ),
            "CI",
        )
        refused = until(lambda: client.payment.get_status(refused_reference, "CI"))
        assert (refused.code, refused.status) == (2005, "INSUFFICIENT_BALANCE")

        transfer = client.transfer.create(
            cinetpay.TransferRequest(
                currency="XOF",
                merchant_transaction_id=f"tr{uuid.uuid4().hex[:12]}",
                phone_number=magic_phone(Outcome.SUCCESS, "SN"),
                amount=1500,
                payment_method="OM_SN",
                reason="Salaire",
                notify_url=f"{sink_url}/notify/transfer",
            ),
            "CI",
        )
        assert transfer.status == "PENDING" and transfer.notify_token
        sent = until(lambda: client.transfer.get_status(transfer.transaction_id, "CI"))
        assert (sent.status, sent.amount, sent.fee_amount) == ("SUCCESS", "1500", "15")
        balance = client.balance.get("CI")
        assert int(balance.available_balance) == simulator.merchant_balance("XOF")

        simulator.expire_tokens()
        assert client.balance.get("CI").currency == "XOF", "the SDK renews an expired token and replays"
        assert simulator.logins == 2

        for path, token in ((f"/notify/{reference}", opened.notify_token), ("/notify/transfer", transfer.notify_token)):
            deadline = time.monotonic() + 10
            while not sink.for_path(path):
                assert time.monotonic() < deadline, path
                time.sleep(0.02)
            payload = cinetpay.parse_notification(json.loads(sink.for_path(path)[0].body))
            assert cinetpay.verify_notification(token, payload.notify_token)
    assert simulator.collected(reference) == 1000
    assert simulator.paid_out(transfer.merchant_transaction_id) == 1500
