"""How many SMS a text costs: GSM-7 (160 characters, 153 per part of a long message) or UCS-2 (70, 67 per part).

One character outside the GSM 03.38 alphabet (``ê ç â î ô û œ ë ï``… — ``é è à ù Ç É`` are inside) turns the whole
message into UCS-2, so a French text can cost more than twice as much for one circumflex. :func:`transliterate`
offers the GSM-7 spelling of a French message (``ê`` → ``e``, ``ç`` → ``c``, ``œ`` → ``oe``, typographic quotes
and spaces to their plain forms), keeping every character GSM-7 already has.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 basic character set (the escape 0x1B excluded: it introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + character).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # a concatenated message loses 7 septets per part to its header
UCS2_SINGLE, UCS2_PART = 70, 67

# French (and common typographic) characters that have a GSM-7 spelling. Characters GSM-7 holds are not here.
_FRENCH_TRANSLITERATION: dict[str, str] = {
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ë": "e", "ï": "i", "ÿ": "y", "ç": "c",
    "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U", "Ë": "E", "Ï": "I", "Ÿ": "Y",
    "À": "A", "È": "E", "Ù": "U", "œ": "oe", "Œ": "OE",
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\t": " ",
}  # fmt: skip
_REPLACEMENT = "?"


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsCount:
    """What a message costs: its encoding, its length in that encoding's units, and its number of SMS."""

    encoding: SmsEncoding
    units: int  # septets for GSM-7 (an extension character counts 2), UTF-16 code units for UCS-2
    segments: int
    per_part: int  # the capacity of one SMS for this message (160/70 alone, 153/67 as a part of a long one)
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance, once each


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _gsm7_cost(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair


def _pack(costs: list[int], single: int, part: int) -> tuple[int, int]:
    """(units, segments): parts are filled in order and a two-unit character is never split across two parts
    (an escape sequence or a surrogate pair cut in half is garbage on the handset)."""
    units = sum(costs)
    if units <= single:
        return units, 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return units, segments


def count_segments(text: str) -> SmsCount:
    """The encoding and the number of SMS ``text`` is sent as."""
    non_gsm = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))
    if not non_gsm:
        units, segments = _pack([_gsm7_cost(c) for c in text], GSM7_SINGLE, GSM7_PART)
        return SmsCount(SmsEncoding.GSM7, units, segments, GSM7_SINGLE if segments == 1 else GSM7_PART, ())
    units, segments = _pack([_ucs2_cost(c) for c in text], UCS2_SINGLE, UCS2_PART)
    return SmsCount(SmsEncoding.UCS2, units, segments, UCS2_SINGLE if segments == 1 else UCS2_PART, non_gsm)


def _transliterate_char(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in _FRENCH_TRANSLITERATION:
        return _FRENCH_TRANSLITERATION[char]
    # Other accented letters (á, ō, ș…): the base letter, when decomposing leaves a GSM-7 one.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and is_gsm7(base) else _REPLACEMENT


def transliterate(text: str) -> str:
    """The GSM-7 spelling of ``text``: every character GSM-7 holds is kept, the others replaced (``?`` last)."""
    return "".join(_transliterate_char(char) for char in text)
