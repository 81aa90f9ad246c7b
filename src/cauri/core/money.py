"""Money: an integer of minor units plus an ISO 4217 code. Never a float.

Conversion from human text ("10 000", "62 500,00", "1.5") happens only at the edges, through
:func:`parse_amount`; display goes through :func:`format_money` (babel, "10 000 F CFA").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency

from cauri.core.errors import field_error

# Minor-unit exponents of the currencies Cauri's markets use (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    "XOF": 0,  # franc CFA (UEMOA): Senegal, Côte d'Ivoire, Benin, Togo, Burkina Faso, Mali, Niger, Guinea-Bissau
    "XAF": 0,  # franc CFA (CEMAC): Cameroon, Gabon, Congo, Chad, CAR, Equatorial Guinea
    "GNF": 0,  # Guinean franc
    "CDF": 2,
    "GHS": 2,
    "NGN": 2,
    "KES": 2,
    "RWF": 0,
    "UGX": 0,
    "MAD": 2,
    "EUR": 2,
    "USD": 2,
}


def currency_exponent(currency: str, *, field: str = "currency") -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise field_error(
            field,
            "unknown_currency",
            f"Devise inconnue ou non prise en charge : {currency!r}.",
            f"Unknown or unsupported currency: {currency!r}.",
        ) from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        currency_exponent(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        return format_money(self)


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def parse_amount(text: str | int, currency: str, *, field: str = "amount") -> int:
    """Human or wire amount -> minor units. Accepts "10 000", "10000", "62 500,50" (EUR), "1.5" (EUR).

    Rejects fractions a currency does not have ("100.5" XOF), negatives, and anything not a number.
    """
    exponent = currency_exponent(currency)
    if isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    else:
        cleaned = _SPACES.sub("", str(text))
        if cleaned.count(",") == 1 and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise field_error(
                field, "invalid_amount", f"Montant invalide : {text!r}.", f"Invalid amount: {text!r}."
            ) from None
    if not value.is_finite():
        raise field_error(field, "invalid_amount", "Montant invalide.", "Invalid amount.")
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise field_error(
            field,
            "fractional_amount",
            f"Le montant a trop de décimales pour {currency} ({exponent} au plus).",
            f"Too many decimals for {currency} (at most {exponent}).",
        )
    return int(minor)


def format_money(money: Money, locale: str = "fr_SN") -> str:
    return format_currency(money.to_decimal(), money.currency, locale=locale)
