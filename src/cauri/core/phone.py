"""Phone numbers: parsed, validated and normalised to E.164 with Google's libphonenumber data."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import carrier

from cauri.core.errors import field_error


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    region: str  # ISO 3166 alpha-2, e.g. "CM"
    carrier: str  # operator name from the numbering plan, e.g. "MTN", "Orange"; "" when unknown


def parse_phone(raw: str, default_region: str = "CM", *, field: str = "phone") -> PhoneInfo:
    """Parse a number as people type it ("690 00 00 00", "+237 6 90 00 00 00", "00237690000000")."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise field_error(
            field,
            "invalid_phone",
            f"Numéro de téléphone invalide : {raw!r}.",
            f"Invalid phone number: {raw!r}.",
        )
    return PhoneInfo(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "",
        carrier=carrier.name_for_number(number, "en") or "",
    )


def normalise_phone(raw: str, default_region: str = "CM", *, field: str = "phone") -> str:
    return parse_phone(raw, default_region, field=field).e164


def mask_phone(e164: str) -> str:
    """+237690001234 -> +237******234 (for logs and receipts)."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:4] + "*" * (len(e164) - 7) + e164[-3:]
