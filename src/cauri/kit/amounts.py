"""Amounts between Cauri's integer minor units and a provider's decimal strings in major units.

Cauri never holds a float (DESIGN.md, convention 1): a connector converts at its wire, with these two functions,
and a simulator reads what it is sent with :func:`positive_minor_units`. A zero-decimal currency (XOF, XAF) keeps
its units: 1500 XOF is "1500"; 1250 EUR cents is "12.50" (or "12.5" with ``trim``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cauri.core.money import CURRENCY_EXPONENTS


class UnreadableAmount(ValueError):
    """Not a number, a fraction of the currency's minor unit, or a currency Cauri does not know."""


def _exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnreadableAmount(f"unknown currency {currency!r}") from None


def to_major_units(amount: int, currency: str, *, trim: bool = False) -> str:
    """Minor units -> the decimal string in major units: ``1250, "EUR"`` -> ``"12.50"`` (``"12.5"`` with ``trim``,
    for providers that write no needless zeros)."""
    exponent = _exponent(currency)
    text = f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def to_minor_units(value: object, currency: str) -> int:
    """A provider's amount in major units (string or number) -> minor units; :class:`UnreadableAmount` otherwise."""
    exponent = _exponent(currency)
    try:
        minor = Decimal(str(value)).scaleb(exponent)
    except InvalidOperation:
        raise UnreadableAmount(f"amount {value!r}") from None
    if not minor.is_finite() or minor != minor.to_integral_value():
        raise UnreadableAmount(f"fractional amount {value!r} for {currency}")
    return int(minor)


def optional_minor_units(value: object, currency: str) -> int | None:
    """:func:`to_minor_units`, where a missing amount (None or "") is None."""
    if value is None or value == "":
        return None
    return to_minor_units(value, currency)


def positive_minor_units(value: object, currency: str) -> int | None:
    """A simulator reading a request: the amount in minor units, or None when it is unreadable or not positive."""
    try:
        minor = to_minor_units(value, currency)
    except UnreadableAmount:
        return None
    return minor if minor > 0 else None
