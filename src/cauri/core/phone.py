"""Phone numbers: parsed, validated and normalised to E.164 with Google's libphonenumber data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from babel import Locale, UnknownLocaleError
from phonenumbers import carrier

from cauri.core.errors import FieldError, ValidationFailed

# Why a number without its international prefix was read in a given country: the caller says, in FR and EN.
ORGANIZATION_REGION = ("le pays par défaut de l'organisation", "the organisation's default country")
PLATFORM_REGION = ("le pays par défaut du service (CAURI_DEFAULT_REGION)", "the service's default country")
GIVEN_REGION = ("le pays indiqué (region)", "the country given (region)")


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    region: str  # ISO 3166 alpha-2, e.g. "CM"
    carrier: str  # operator name from the numbering plan, e.g. "MTN", "Orange"; "" when unknown


@lru_cache(maxsize=512)
def country_name(region: str, language: str) -> str:
    """ "Cameroun (CM, +237)": the country's name in ``language``, its code and calling code."""
    try:
        name = Locale(language).territories.get(region, region)
    except (UnknownLocaleError, ValueError):
        name = region
    code = phonenumbers.country_code_for_region(region)
    return f"{name} ({region}, +{code})" if code else f"{name} ({region})"


def _international(raw: str) -> str:
    """The number as typed, "00" read as "+" (how West Africans often write the international prefix)."""
    text = (raw or "").strip()
    return "+" + text[2:] if text.startswith("00") else text


def invalid_phone(
    raw: str, field: str, default_region: str, region_reason: tuple[str, str] = ORGANIZATION_REGION
) -> ValidationFailed:
    """A 422 that says which country the number was read in, and why, so the fix is obvious."""
    text = _international(raw)
    region = default_region.upper()
    if text.startswith("+"):
        try:
            number = phonenumbers.parse(text, None)
            region = phonenumbers.region_code_for_number(number) or ""
        except phonenumbers.NumberParseException:
            region = ""
        if region:
            fr = f"Ce n'est pas un numéro valide de {country_name(region, 'fr')}."
            en = f"This is not a valid number of {country_name(region, 'en')}."
        else:
            fr, en = "Indicatif international inconnu.", "Unknown international calling code."
    else:
        fr = (
            f"Sans indicatif international (+…), il est lu comme un numéro de {country_name(region, 'fr')}, "
            f"{region_reason[0]}, et n'en est pas un. Ajoutez l'indicatif du pays, par exemple +221 77 123 45 67."
        )
        en = (
            f"Without an international prefix (+…), it is read as a number of {country_name(region, 'en')}, "
            f"{region_reason[1]}, and it is not one. Add the country's calling code, e.g. +221 77 123 45 67."
        )
    message_fr = f"Numéro de téléphone invalide : {raw!r}. {fr}"
    message_en = f"Invalid phone number: {raw!r}. {en}"
    return ValidationFailed(
        message_fr,
        message_en,
        field=field,
        errors=[FieldError(field, "invalid_phone", message_fr, message_en)],
        extra={"expected_region": region} if region else None,
    )


def parse_phone(
    raw: str,
    default_region: str = "CM",
    *,
    field: str = "phone",
    region_reason: tuple[str, str] = ORGANIZATION_REGION,
) -> PhoneInfo:
    """Parse a number as people type it ("690 00 00 00", "+237 6 90 00 00 00", "00237690000000")."""
    try:
        number = phonenumbers.parse(_international(raw), default_region.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise invalid_phone(raw, field, default_region, region_reason)
    return PhoneInfo(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "",
        carrier=carrier.name_for_number(number, "en") or "",
    )


def normalise_phone(
    raw: str,
    default_region: str = "CM",
    *,
    field: str = "phone",
    region_reason: tuple[str, str] = ORGANIZATION_REGION,
) -> str:
    return parse_phone(raw, default_region, field=field, region_reason=region_reason).e164


def mask_phone(e164: str) -> str:
    """+237690001234 -> +237******234 (for logs and receipts)."""
    if len(e164) <= 7:
        return "*" * len(e164)
    return e164[:4] + "*" * (len(e164) - 7) + e164[-3:]
