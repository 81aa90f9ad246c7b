"""The framework's own rules: request validation, declared capabilities, stable reasons, signatures, wire amounts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from cauri.connectors.base import (
    CallbackEvent,
    Capability,
    CollectRequest,
    PaymentConnector,
    PaymentKind,
    PaymentStatus,
    PayoutRequest,
    ProviderPayment,
)
from cauri.connectors.mobile_money.sandbox import PROVIDER as SANDBOX
from cauri.connectors.mobile_money.sandbox import transformers
from cauri.connectors.registry import ConnectorConfig, ConnectorRegistry
from cauri.kit.errors import (
    FAILURE_MESSAGES,
    AuthError,
    ConnectorError,
    Declined,
    FailureReason,
    InvalidRequest,
    InvalidSignature,
    RateLimited,
    Timeout,
    Unsupported,
)
from cauri.kit.signatures import signature_header, verify_timestamped_hmac

PHONE = "+237670000100"


class StatusOnly(PaymentConnector):
    """A provider that can only be asked for the status of a collection."""

    name = "status-only"
    capabilities = frozenset({Capability.COLLECT_STATUS})
    currencies = frozenset({"XAF"})

    async def _collect_status(self, reference: str, provider_reference: str | None) -> ProviderPayment:
        return ProviderPayment(
            provider_reference=provider_reference or "p-1",
            reference=reference,
            status=transformers.status_from_wire("WHATEVER_NEW"),
            amount=100,
            currency="XAF",
        )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -5}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"amount": 10.5}, "invalid_amount"),
        ({"currency": "ABC"}, "invalid_currency"),
        ({"payer_phone": "670000100"}, "invalid_phone"),
        ({"payer_phone": "+237 670 000 100"}, "invalid_phone"),
        ({"reference": ""}, "invalid_reference"),
        ({"reference": "r" * 65}, "invalid_reference"),
    ],
)
def test_requests_refuse_bad_values(changes: dict[str, object], code: str) -> None:
    values: dict[str, object] = {"reference": "ref-1", "amount": 100, "currency": "XAF", "payer_phone": PHONE}
    values.update(changes)
    with pytest.raises(InvalidRequest) as raised:
        CollectRequest(**values)  # type: ignore[arg-type]
    assert raised.value.code == code


def test_a_payout_request_needs_an_e164_payee() -> None:
    with pytest.raises(InvalidRequest):
        PayoutRequest("ref-1", 100, "XAF", payee_phone="00237670000100")
    assert PayoutRequest("ref-1", 100, "XAF", payee_phone=PHONE).payee_phone == PHONE


async def test_undeclared_capabilities_raise_a_clear_bilingual_error() -> None:
    connector = StatusOnly()
    with pytest.raises(Unsupported) as raised:
        await connector.collect(CollectRequest("ref-1", 100, "XAF", PHONE))
    assert "« status-only »" in raised.value.message_fr and "« collect »" in raised.value.message_fr
    assert raised.value.message_en == "Provider 'status-only' does not support 'collect'."
    with pytest.raises(Unsupported):
        await connector.balance("XAF")
    with pytest.raises(Unsupported):
        connector.verify_callback({}, b"{}")
    assert raised.value.to_app_error().status == 422


async def test_an_unknown_provider_status_reads_as_pending() -> None:
    payment = await StatusOnly().collect_status("ref-1")
    assert payment.status is PaymentStatus.PENDING
    assert transformers.status_from_wire("SUCCESSFUL") is PaymentStatus.SUCCEEDED
    assert transformers.status_from_wire(None) is PaymentStatus.PENDING


def test_declaring_a_capability_without_its_hook_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="declares callbacks but does not implement _verify_callback"):

        class Careless(PaymentConnector):
            name = "careless"
            capabilities = frozenset({Capability.CALLBACKS})
            currencies = frozenset({"XOF"})

            def _parse_callback(self, headers: Mapping[str, str], raw_body: bytes) -> CallbackEvent:
                raise NotImplementedError


def test_every_failure_reason_has_french_and_english_messages() -> None:
    assert set(FAILURE_MESSAGES) == set(FailureReason)
    for reason in FailureReason:
        assert reason.message_fr and reason.message_en and reason.message_fr != reason.message_en
        assert reason.message("en") == reason.message_en
    declined = Declined(FailureReason.INSUFFICIENT_FUNDS, provider="sandbox", provider_code="BALANCE_TOO_LOW")
    assert declined.message_fr == "Solde insuffisant." and not declined.retryable
    problem = declined.to_app_error()
    assert problem.status == 422 and problem.extra["reason"] == "insufficient_funds"
    assert "BALANCE_TOO_LOW" in str(declined)


def test_retryable_errors_say_so() -> None:
    assert Timeout(outcome_unknown=True).to_app_error().extra["outcome_unknown"] is True
    assert RateLimited(retry_after=3).retryable
    assert not AuthError().retryable


def test_failure_codes_map_to_stable_reasons_by_direction() -> None:
    collect, payout = PaymentKind.COLLECTION, PaymentKind.PAYOUT
    assert transformers.failure_from_wire("SUBSCRIBER_NOT_FOUND", collect) is FailureReason.PAYER_NOT_FOUND
    assert transformers.failure_from_wire("SUBSCRIBER_NOT_FOUND", payout) is FailureReason.PAYEE_NOT_FOUND
    assert transformers.failure_from_wire("SOMETHING_NEW", collect) is FailureReason.PROVIDER_ERROR
    assert transformers.failure_from_wire(None, collect) is None


def test_wire_amounts_convert_at_the_edge_only() -> None:
    assert transformers.amount_to_wire(1250, "EUR") == "12.50"
    assert transformers.amount_to_wire(1500, "XAF") == "1500"
    assert transformers.amount_from_wire("12.5", "EUR") == 1250
    with pytest.raises(InvalidRequest):
        transformers.amount_from_wire("100.5", "XAF")
    with pytest.raises(InvalidRequest):
        transformers.amount_from_wire("cent", "XAF")


@pytest.mark.parametrize(
    ("read", "raw"),
    [
        (transformers.payment_from_wire, {"id": "p1", "state": "SUCCESSFUL", "amount": "100", "currency": "XAF"}),
        (transformers.balance_from_wire, {"currency": "XAF"}),  # no available amount
        (transformers.account_from_wire, {"name": "Awa"}),  # no status: never read as active
        (transformers.bulk_from_wire, {"reference": "b1", "items": [{"state": "SUCCESSFUL"}]}),
    ],
)
def test_a_sandbox_answer_of_another_shape_is_unreadable(
    read: Callable[[dict[str, Any]], object], raw: dict[str, Any]
) -> None:
    with pytest.raises(ConnectorError) as caught:
        read(raw)
    assert caught.value.code == "provider_unreadable_answer"


def test_signatures_are_checked_over_raw_bytes_with_a_tolerance() -> None:
    body = b'{"id":"evt_1","amount":"100"}'
    now = int(time.time())
    header = signature_header("s3cret", body, now)
    assert verify_timestamped_hmac(provider="x", secrets=["s3cret"], header_value=header, raw_body=body) == now
    rejected = {
        "other body": (header, body.replace(b"100", b"900"), None),
        "other secret": (signature_header("nope", body, now), body, None),
        "malformed": (f"t=soon,v1={'a' * 64}", body, None),
        "no v1": (f"t={now}", body, None),
        "from the future": (signature_header("s3cret", body, now + 301), body, None),
        "too old": (header, body, now + 301.0),
    }
    for name, (value, raw, at) in rejected.items():
        with pytest.raises(InvalidSignature):
            verify_timestamped_hmac(provider="x", secrets=["s3cret"], header_value=value, raw_body=raw, now=at)
            pytest.fail(name)
    assert verify_timestamped_hmac(provider="x", secrets=["s3cret"], header_value=header, raw_body=body, now=now + 299)


def test_the_registry_refuses_a_second_provider_of_the_same_name() -> None:
    fresh = ConnectorRegistry()
    assert "sandbox" in fresh.names()  # issue 4 registers more providers beside it
    with pytest.raises(ValueError, match="already registered"):
        fresh.register(SANDBOX)
    fresh.register(SANDBOX, replace=True)


def test_a_missing_credential_is_named() -> None:
    config = ConnectorConfig(provider="sandbox", credentials={"api_key": SecretStr("sk")}, settings={"base_url": "x"})
    with pytest.raises(AuthError) as raised:
        SANDBOX.build(config)
    assert "webhook_secret" in raised.value.message_en
    assert raised.value.code == "connector_credentials_missing"
