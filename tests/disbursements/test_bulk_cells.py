"""Amount and phone cells: what people type reads back to the same value (property-based)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cauri.core.errors import ValidationFailed
from cauri.core.money import CURRENCY_EXPONENTS, parse_amount
from cauri.disbursements.ingest.cells import parse_amount_cell, parse_payee_name_cell
from cauri.disbursements.ingest.messages import IssueCode
from cauri.disbursements.ingest.phones import PhoneNormaliser, reference_e164

SPACES = [" ", "\u00a0", "\u202f", ""]  # what French Excel and French locales put between thousands
# Regions where the fast path applies (UEMOA, CEMAC) and some where it hands over to parse_phone.
FAST_REGIONS = ["SN", "CI", "CM", "TG", "BJ", "BF", "ML", "NE", "GA", "CG", "TD", "GN"]
SLOW_REGIONS = ["GH", "NG", "FR", "US", "GB", "MA", "CD"]


def group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[str, int, str]:
    currency = draw(st.sampled_from(sorted(CURRENCY_EXPONENTS)))
    exponent = CURRENCY_EXPONENTS[currency]
    minor = draw(st.integers(min_value=1, max_value=10**15))
    whole, fraction = divmod(minor, 10**exponent)
    text = group(str(whole), draw(st.sampled_from(SPACES)))
    decimals = str(fraction).rjust(exponent, "0") if exponent else ""
    if exponent == 0 and draw(st.booleans()):
        decimals = "0" * draw(st.integers(1, 2))  # "62 500,00": zero decimals are fine for XOF
    if decimals:
        text += draw(st.sampled_from([",", "."])) + decimals
    return text, minor, currency


@settings(max_examples=300, deadline=None)
@given(written_amounts())
@example(("62 500", 62500, "XOF"))
@example(("62\u202f500,00", 62500, "XOF"))
@example(("1 234,50", 123450, "EUR"))
def test_amount_cells_read_back_as_the_minor_units_written(case: tuple[str, int, str]) -> None:
    text, minor, currency = case

    assert parse_amount_cell(text, CURRENCY_EXPONENTS[currency]) == minor
    assert parse_amount(text, currency) == minor  # the same reading as the money core


@pytest.mark.parametrize(
    ("text", "exponent", "expected"),
    [
        ("62 500,50", 0, IssueCode.FRACTIONAL_AMOUNT),
        ("1.555", 2, IssueCode.FRACTIONAL_AMOUNT),
        ("1,000.50", 2, IssueCode.INVALID_AMOUNT),
        ("1e5", 0, IssueCode.INVALID_AMOUNT),
        ("62 500 F", 0, IssueCode.INVALID_AMOUNT),
        ("", 0, IssueCode.INVALID_AMOUNT),
        ("1" * 19, 0, IssueCode.AMOUNT_TOO_LARGE),
        ("1" * 17, 2, IssueCode.AMOUNT_TOO_LARGE),
        ("-500", 0, -500),
        ("+500", 0, 500),
        ("000", 0, 0),
        ("1'000", 0, 1000),
    ],
)
def test_amount_cells_that_are_not_plain_amounts(text: str, exponent: int, expected: int | IssueCode) -> None:
    assert parse_amount_cell(text, exponent) == expected


def test_payee_names_are_tidied_and_bounded() -> None:
    assert parse_payee_name_cell("  Kouassi \u00a0 Ake\u0301  ") == "Kouassi Aké"
    assert parse_payee_name_cell("   ") is None
    assert parse_payee_name_cell("x" * 141) is IssueCode.INVALID_PAYEE_NAME
    assert parse_payee_name_cell("Awa\x00") is IssueCode.INVALID_PAYEE_NAME


def _valid_numbers(region: str) -> list[str]:
    numbers = []
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example_number = phonenumbers.example_number_for_type(region, kind)
        if example_number is not None:
            numbers.append(phonenumbers.format_number(example_number, phonenumbers.PhoneNumberFormat.E164))
    return numbers


@st.composite
def written_phones(draw: st.DrawFn) -> tuple[str, str, str]:
    """(region, e164, the number as someone might write it)."""
    region = draw(st.sampled_from(FAST_REGIONS + SLOW_REGIONS))
    e164 = draw(st.sampled_from(_valid_numbers(region)))
    number = phonenumbers.parse(e164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    digits = e164[1:]
    written = draw(
        st.sampled_from([e164, international, national, "00" + digits, digits, international.replace(" ", "\u00a0")])
    )
    return region, e164, written


@settings(max_examples=300, deadline=None)
@given(written_phones())
def test_phone_cells_read_back_as_the_number_written(case: tuple[str, str, str]) -> None:
    region, e164, written = case

    assert PhoneNormaliser(region).e164(written) == e164


phone_text = st.text(alphabet="+0123456789 -.()", max_size=20)


@settings(max_examples=1500, deadline=None)
@given(region=st.sampled_from(FAST_REGIONS + SLOW_REGIONS), text=phone_text)
@example(region="CI", text="2250741403729")
@example(region="CI", text="0741403729")
@example(region="SN", text="22892530829")
@example(region="SN", text="+0221786936818")
@example(region="SN", text="000221786936818")
@example(region="CM", text="237237677123456")
def test_fast_phone_reading_always_agrees_with_parse_phone(region: str, text: str) -> None:
    assert PhoneNormaliser(region).e164(text) == reference_e164(text, region)


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(FAST_REGIONS),
    prefix=st.sampled_from(["", "+", "00"]),
    digits=st.text(alphabet="0123456789", min_size=6, max_size=15),
)
def test_fast_phone_reading_agrees_on_number_shaped_digits(region: str, prefix: str, digits: str) -> None:
    assert PhoneNormaliser(region).e164(prefix + digits) == reference_e164(prefix + digits, region)


def test_an_unknown_default_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="region"):
        PhoneNormaliser("XX")


def test_reference_is_parse_phone_with_international_digits_as_a_second_reading() -> None:
    assert reference_e164("+221 78 693 68 18", "CM") == "+221786936818"
    assert reference_e164("22892530829", "SN") == "+22892530829"  # not Senegalese: read as +228
    assert reference_e164("786936818", "SN") == "+221786936818"
    assert reference_e164("12", "SN") is None
    with pytest.raises(ValidationFailed):
        from cauri.core.phone import parse_phone

        parse_phone("22892530829", "SN")


@pytest.mark.parametrize(
    ("region", "cleaned", "e164"),
    [
        ("SN", "+221786936818", "+221786936818"),
        ("SN", "786936818", "+221786936818"),
        ("SN", "221786936818", "+221786936818"),
        ("CI", "0741403729", "+2250741403729"),
        ("CI", "+2250741403729", "+2250741403729"),
        ("CM", "00237677123456", "+237677123456"),
        ("SN", "+22890810111", "+22890810111"),
        ("SN", "+22894037655", None),
    ],
)
def test_common_west_and_central_african_numbers_never_need_the_slow_path(
    region: str, cleaned: str, e164: str | None
) -> None:
    # The answer is the same either way (see above); this guards the speed a million-line file relies on.
    assert PhoneNormaliser(region)._fast(cleaned) == e164
