"""The kit's amount converters: integer minor units to and from a provider's decimal strings, never a float."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cauri.core.money import CURRENCY_EXPONENTS
from cauri.kit.amounts import (
    UnreadableAmount,
    optional_minor_units,
    positive_minor_units,
    to_major_units,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("amount", "currency", "trim", "text"),
    [
        (1500, "XOF", False, "1500"),
        (1250, "EUR", False, "12.50"),
        (1250, "EUR", True, "12.5"),
        (1500, "EUR", True, "15"),
        (5, "USD", False, "0.05"),
        (0, "XAF", True, "0"),
    ],
)
def test_minor_units_become_the_providers_decimal_string(amount: int, currency: str, trim: bool, text: str) -> None:
    assert to_major_units(amount, currency, trim=trim) == text


@given(amount=st.integers(min_value=0, max_value=10**15), currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_every_amount_survives_the_round_trip(amount: int, currency: str) -> None:
    for trim in (False, True):
        assert to_minor_units(to_major_units(amount, currency, trim=trim), currency) == amount


@pytest.mark.parametrize(("value", "currency"), [("12.345", "EUR"), ("1.5", "XOF"), ("abc", "XOF"), ("1", "ZZZ")])
def test_an_unreadable_amount_is_refused_not_rounded(value: str, currency: str) -> None:
    with pytest.raises(UnreadableAmount):
        to_minor_units(value, currency)


def test_missing_and_non_positive_amounts() -> None:
    assert optional_minor_units(None, "XOF") is None
    assert optional_minor_units("", "XOF") is None
    assert optional_minor_units(1500, "XOF") == 1500
    assert positive_minor_units("0", "XOF") is None
    assert positive_minor_units("-5", "XOF") is None
    assert positive_minor_units("12.5", "EUR") == 1250
    assert positive_minor_units("Infinity", "EUR") is None
