"""The small kernels everything else trusts: money parsing, phone numbers, language negotiation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.core.errors import ValidationFailed
from cauri.core.i18n import negotiate
from cauri.core.money import Money, format_money, parse_amount
from cauri.core.phone import mask_phone, normalise_phone, parse_phone


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("10 000", "XOF", 10000),
        ("62\u00a0500", "XOF", 62500),
        ("62\u202f500", "XAF", 62500),
        ("1500", "XAF", 1500),
        ("12,50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        (" 7 ", "XOF", 7),
        (250, "XOF", 250),
    ],
)
def test_parse_amount_accepts_what_people_write(text: str | int, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency", "code"),
    [
        ("100.5", "XOF", "fractional_amount"),
        ("1.234", "EUR", "fractional_amount"),
        ("abc", "XOF", "invalid_amount"),
        ("", "XOF", "invalid_amount"),
        ("NaN", "XOF", "invalid_amount"),
        ("10", "ZZZ", "unknown_currency"),
    ],
)
def test_parse_amount_refuses_with_the_field_named(text: str, currency: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_amount(text, currency, field="montant")
    assert raised.value.errors[0].code == code
    assert raised.value.field in ("montant", "currency")


@given(st.integers(min_value=0, max_value=10**15))
def test_xof_amounts_round_trip_through_text(amount: int) -> None:
    text = f"{amount:,}".replace(",", " ")
    assert parse_amount(text, "XOF") == amount


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(10.5, "XOF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(1, "XOF") + Money(1, "XAF")
    assert (Money(1500, "XOF") + Money(500, "XOF")).amount == 2000


def test_money_is_displayed_the_francophone_way() -> None:
    shown = format_money(Money(10000, "XOF"))
    assert shown.replace("\u202f", " ").replace("\u00a0", " ") == "10 000 F CFA"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("690 00 00 00", "CM", "+237690000000"),
        ("+237 6 90 00 00 00", "SN", "+237690000000"),
        ("00237690000000", "CM", "+237690000000"),
        ("78 693 68 18", "SN", "+221786936818"),
        ("+221 78 693 68 18", "CM", "+221786936818"),
        ("07 41 40 37 29", "CI", "+2250741403729"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


def test_phone_carrier_and_region_come_from_the_numbering_plan() -> None:
    info = parse_phone("677 12 34 56", "CM")
    assert info.region == "CM"
    assert info.carrier  # MTN Cameroon in libphonenumber's carrier data


@pytest.mark.parametrize("raw", ["", "123", "abc", "+999 123", "6900000000000000"])
def test_invalid_phone_numbers_name_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        normalise_phone(raw, "CM", field="payee")
    assert raised.value.field == "payee"


def test_masked_phone_keeps_only_the_ends() -> None:
    assert mask_phone("+237690001234") == "+237******234"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "fr"),
        ("", "fr"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-CM,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE,en;q=0.5", "en"),
        ("en;q=0.2,fr;q=0.8", "fr"),
        ("de", "fr"),
        ("*", "fr"),
        ("en;q=garbage", "fr"),
    ],
)
def test_language_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


@given(st.text(max_size=200))
def test_language_negotiation_never_fails(header: str) -> None:
    assert negotiate(header) in ("fr", "en")
