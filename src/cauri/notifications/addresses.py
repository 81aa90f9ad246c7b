"""Recipients' addresses, checked before anything is queued: an e-mail address that is one, a phone number that is a
mobile number (an SMS to a landline is lost money); and a recipient's time zone from their number or country when
the caller does not know it (quiet hours are the recipient's, not the server's)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as number_zones

from cauri.core.errors import field_error

MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_UNKNOWN_ZONE = "Etc/Unknown"


def check_email(value: str, *, field: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise field_error(
            field,
            "invalid_email",
            f"Adresse e-mail invalide : « {value} ».",
            f"Invalid e-mail address: {value!r}.",
        ) from None


def mobile_number(value: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number when ``value`` is a valid mobile number in international form (+…), else None."""
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    return number


def check_number(value: str, *, field: str) -> phonenumbers.PhoneNumber:
    """A valid number in international form (mobile or not), else a 422 naming ``field``."""
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise _invalid_number(value, field)
    return number


def _invalid_number(value: str, field: str) -> Exception:
    return field_error(
        field,
        "invalid_phone",
        f"Numéro de téléphone invalide : « {value} » (format international attendu, +221 77…).",
        f"Invalid phone number: {value!r} (international form expected, +221 77…).",
    )


@dataclass(frozen=True, slots=True)
class NumberFacts:
    mobile: bool
    zone: str | None  # as zone_of_number


_COUNTRY_ZONES: dict[int, str | None] = {}


def number_facts(value: str, *, field: str) -> NumberFacts:
    """``check_number``, ``is_mobile`` and ``zone_of_number`` in one parse, the number's type (the costly part)
    computed once: a fan-out checks every recipient's number. A number is valid exactly when its type is known
    (``is_valid_number`` is the type check against the number's own region)."""
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        raise _invalid_number(value, field) from None
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise _invalid_number(value, field)
    code = number.country_code or 0
    if phonenumbers.is_number_type_geographical(kind, code):
        zones = number_zones.time_zones_for_geographical_number(number)
        zone = zones[0] if zones and zones[0] != _UNKNOWN_ZONE else None
    else:  # the country's zones, the same for every number of that type: looked up once per country code
        if code not in _COUNTRY_ZONES:
            _COUNTRY_ZONES[code] = zone_of_number(value)
        zone = _COUNTRY_ZONES[code]
    return NumberFacts(mobile=kind in MOBILE_TYPES, zone=zone)


def is_mobile(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) in MOBILE_TYPES


def check_mobile(value: str, *, field: str) -> phonenumbers.PhoneNumber:
    number = mobile_number(value)
    if number is None:
        raise field_error(
            field,
            "not_a_mobile_number",
            f"« {value} » n'est pas un numéro de mobile au format international (+221 77…) : "
            "un SMS n'y arriverait pas.",
            f"{value!r} is not a mobile number in international form (+221 77…): an SMS would not reach it.",
        )
    return number


def region_of(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.region_code_for_number(number) or ""


def zone_of_number(value: str) -> str | None:
    """The time zone of a number's country (the first one of a country with several: DR Congo's Kinshasa)."""
    try:
        zones = number_zones.time_zones_for_number(phonenumbers.parse(value.strip(), None))
    except phonenumbers.NumberParseException:
        return None
    return zones[0] if zones and zones[0] != _UNKNOWN_ZONE else None


@lru_cache(maxsize=256)
def zone_of_country(country: str) -> str | None:
    """The time zone of a country (ISO 3166 alpha-2), from the numbering plan's data."""
    example = phonenumbers.example_number_for_type(country.upper(), PhoneNumberType.MOBILE)
    if example is None:
        return None
    zones = number_zones.time_zones_for_number(example)
    return zones[0] if zones and zones[0] != _UNKNOWN_ZONE else None
