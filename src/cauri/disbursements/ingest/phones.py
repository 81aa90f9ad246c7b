"""Phone numbers of a bulk file, normalised to E.164 fast enough for a million lines.

The rule is :func:`reference_e164`, which is :func:`cauri.core.phone.parse_phone` on the cell without its
separators (spaces of every kind, dots, dashes, parentheses), then, for a cell of bare digits that is not a valid
number of the default region, the same digits read as international (Mojaloop's MSISDN is written that way:
``22892530829`` is ``+228 92 53 08 29``).

``parse_phone`` costs about 40 µs (most of it spent finding the carrier's name, which a payment line does not
need). :class:`PhoneNormaliser` gives the same answers in a couple of microseconds for the numbering plans where
that is simple — a country calling code used by one region, with no national prefix to strip (all of UEMOA and
CEMAC) — by applying libphonenumber's own metadata (the plan's patterns and lengths) the way its validity check
does. Everything else goes through ``parse_phone``. ``tests/disbursements/test_phones.py`` checks that both
always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from cauri.core.errors import ValidationFailed
from cauri.core.phone import parse_phone

# Characters people put between digits; removed before anything else.
_SEPARATORS: Final = str.maketrans("", "", " \t\u00a0\u2007\u2009\u202f.-()")
_PLUS_AND_DIGITS: Final = re.compile(r"\+?[0-9]+")
# An international number written without "+" (E.164 digits; Mojaloop's MSISDN pattern).
_INTERNATIONAL_WITHOUT_PLUS: Final = re.compile(r"[1-9][0-9]{4,14}")
_MAX_INPUT: Final = 250  # libphonenumber refuses longer strings
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on a national significant number


class _Slow:
    """Marker: the fast path cannot decide; ask ``parse_phone``."""


_SLOW: Final = _Slow()
_Result = str | None | _Slow


def clean_phone(raw: str) -> str:
    return raw.strip().translate(_SEPARATORS)


def _parse_e164(text: str, region: str) -> str | None:
    try:
        return parse_phone(text, region).e164
    except ValidationFailed:
        return None


def reference_e164(raw: str, default_region: str) -> str | None:
    """The rule, written plainly (slow): E.164 of a phone cell, or None when it is not a valid number."""
    cleaned = clean_phone(raw)
    e164 = _parse_e164(cleaned, default_region)
    if e164 is None and _INTERNATIONAL_WITHOUT_PLUS.fullmatch(cleaned):
        e164 = _parse_e164("+" + cleaned, default_region)
    return e164


@dataclass(frozen=True, slots=True)
class _Plan:
    """One region's numbering plan, as libphonenumber's validity check reads it."""

    country_code: int
    prefix: str  # the country code as text
    general_lengths: frozenset[int]
    general_pattern: re.Pattern[str]
    max_length: int
    local_only_lengths: frozenset[int]
    # (possible lengths, pattern) of each number type the plan defines; mobile and fixed line first.
    types: tuple[tuple[frozenset[int], re.Pattern[str]], ...]

    def accepts(self, national: str) -> bool:
        """libphonenumber's ``is_valid_number``: the number fits the plan and is of some known type."""
        size = len(national)
        if size not in self.general_lengths or not self.general_pattern.fullmatch(national):
            return False
        return any((not lengths or size in lengths) and pattern.fullmatch(national) for lengths, pattern in self.types)


def _simple_plan(region: str) -> _Plan | None:
    """The region's plan when the fast path applies to it, else None."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None:
        return None
    if len(COUNTRY_CODE_TO_REGION_CODE.get(metadata.country_code, ())) != 1:
        return None  # +1, +7, +44, +262…: the region depends on the number
    if metadata.national_prefix_for_parsing or metadata.international_prefix != "00":
        return None  # national prefixes and other dialling prefixes have their own rules
    general = metadata.general_desc
    if general is None or not general.national_number_pattern or not general.possible_length:
        return None
    descriptions = (
        metadata.mobile,
        metadata.fixed_line,
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    )
    return _Plan(
        country_code=metadata.country_code,
        prefix=str(metadata.country_code),
        general_lengths=frozenset(general.possible_length),
        general_pattern=re.compile(general.national_number_pattern),
        max_length=max(general.possible_length),
        local_only_lengths=frozenset(general.possible_length_local_only or ()),
        types=tuple(
            (frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern))
            for desc in descriptions
            if desc is not None and desc.national_number_pattern
        ),
    )


def _country_code_of(digits: str) -> int:
    """libphonenumber's reading of the country code at the start of international digits (0 if none)."""
    if not digits or digits[0] == "0":
        return 0
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            return code
    return 0


class PhoneNormaliser:
    """E.164 of phone cells for one default region; same answers as :func:`reference_e164`, faster."""

    def __init__(self, default_region: str) -> None:
        region = default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown default region {default_region!r}")
        self.default_region = region
        self._home = home = _simple_plan(region)
        self._plans: dict[int, _Plan | None] = {}
        self._country_codes: dict[str, int] = {}  # by the first three digits, which decide it
        # The quickest path: a valid number of the home plan's first type (mobile), in E.164 or in national form,
        # as one regular expression each: the plan's lengths, its general pattern and the type's pattern.
        self._plus_prefix = ""
        self._quick_international: re.Pattern[str] | None = None
        self._quick_national: re.Pattern[str] | None = None
        if home is not None and home.types and _country_code_of(home.prefix + "000") == home.country_code:
            lengths, first_type = home.types[0]
            sizes = sorted(
                size
                for size in home.general_lengths
                if _MIN_NSN <= size <= _MAX_NSN and (not lengths or size in lengths)
            )
            if sizes:
                self._plus_prefix = "+" + home.prefix
                digits = "|".join(f"[0-9]{{{size}}}" for size in sizes)
                number = f"(?=(?:{digits})\\Z)(?=(?:{home.general_pattern.pattern})\\Z)(?:{first_type.pattern})\\Z"
                self._quick_international = re.compile(re.escape(self._plus_prefix) + number)
                # Not "00…" (international) nor the own country code without "+" (libphonenumber's own rule).
                self._quick_national = re.compile(f"(?!00|{home.prefix}){number}")

    def e164(self, raw: str) -> str | None:
        # What _fast would answer for a valid home mobile number, without its detours. Spaces are the usual
        # separators: a number that holds no other one is already clean once they are removed.
        spaced = raw.replace(" ", "")
        if spaced[:1] == "+":
            if self._quick_international is not None and self._quick_international.match(spaced):
                return spaced
        elif self._quick_national is not None and self._quick_national.match(spaced):
            return self._plus_prefix + spaced
        cleaned = clean_phone(raw)
        result = self._fast(cleaned)
        if isinstance(result, _Slow):
            result = _parse_e164(cleaned, self.default_region)
        if result is None and _INTERNATIONAL_WITHOUT_PLUS.fullmatch(cleaned):
            retry = self._international(cleaned)
            result = _parse_e164("+" + cleaned, self.default_region) if isinstance(retry, _Slow) else retry
        return result

    def _fast(self, cleaned: str) -> _Result:
        if len(cleaned) > _MAX_INPUT or not _PLUS_AND_DIGITS.fullmatch(cleaned):
            return _SLOW
        if cleaned[0] == "+":
            return self._international(cleaned[1:])
        if cleaned.startswith("00"):  # parse_phone reads a leading 00 as "+"
            return self._international(cleaned[2:])
        return self._national(cleaned)

    def _plan_for(self, country_code: int) -> _Plan | None:
        try:
            return self._plans[country_code]
        except KeyError:
            regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
            plan = _simple_plan(regions[0]) if len(regions) == 1 else None
            self._plans[country_code] = plan
            return plan

    def _international(self, digits: str) -> _Result:
        if len(digits) <= 2:
            return _SLOW
        country_code = self._country_codes.get(digits[:3])
        if country_code is None:
            country_code = self._country_codes[digits[:3]] = _country_code_of(digits)
        plan = self._plan_for(country_code) if country_code else None
        if plan is None:
            return _SLOW
        return _checked(plan, digits[len(plan.prefix) :])

    def _national(self, digits: str) -> _Result:
        plan = self._home
        if plan is None or len(digits) < _MIN_NSN:
            return _SLOW
        national = digits
        if digits.startswith(plan.prefix):
            # libphonenumber's rule for a number that starts with the region's own country code, without "+".
            stripped = digits[len(plan.prefix) :]
            pattern = plan.general_pattern
            too_long = len(digits) > plan.max_length and len(digits) not in plan.local_only_lengths
            if (not pattern.fullmatch(digits) and pattern.fullmatch(stripped)) or too_long:
                national = stripped
        return _checked(plan, national)


def _checked(plan: _Plan, national: str) -> _Result:
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return _SLOW
    # The national significant number keeps its leading zeros (Côte d'Ivoire's 07…), so it is the text itself.
    return "+" + plan.prefix + national if plan.accepts(national) else None
