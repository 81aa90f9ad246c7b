"""Reading one cell: amounts, currencies, party id types, transfer ids and names, as people type them.

Each reader returns the normalised value or an :class:`IssueCode`; no exception on the hot path, since a
million-line file may have a million bad cells.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from cauri.core.money import CURRENCY_EXPONENTS
from cauri.disbursements.ingest.messages import IssueCode

# Spaces people and spreadsheets put in numbers: space, NBSP (French Excel), NNBSP (French locale in recent
# systems), thin and figure spaces, and the apostrophe of Swiss formats.
_NUMBER_SPACES: Final = str.maketrans("", "", " \t\u00a0\u2007\u2009\u202f'")
_AMOUNT: Final = re.compile(r"([+-]?)([0-9]+)(?:[.,]([0-9]*))?")
_MAX_AMOUNT_DIGITS: Final = 18  # keeps every amount inside a signed 64-bit column
_SCALE: Final[tuple[int, ...]] = tuple(10**exponent for exponent in range(_MAX_AMOUNT_DIGITS + 1))

# Mojaloop's party id types (FSPIOP API).
MOJALOOP_PARTY_ID_TYPES: Final = frozenset(
    {"MSISDN", "EMAIL", "PERSONAL_ID", "BUSINESS", "DEVICE", "ACCOUNT_ID", "IBAN", "ALIAS"}
)
_PARTY_ID_TYPE_SPELLINGS: Final = {name.replace("_", ""): name for name in MOJALOOP_PARTY_ID_TYPES}

_TRANSFER_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IBAN: Final = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_PARTY_IDENTIFIER_MAX: Final = 128  # Mojaloop PartyIdentifier
PAYEE_NAME_MAX: Final = 140


def parse_amount_cell(text: str, exponent: int) -> int | IssueCode:
    """ "62 500" -> 62500 (XOF); "1 234,50" -> 123450 (EUR); "62 500,00" -> 62500 (XOF, zero decimals only).

    Returns minor units (possibly <= 0: the caller says why that is refused) or the issue.
    """
    compact = text.translate(_NUMBER_SPACES) if not text.isdigit() else text
    if compact.isdigit() and compact.isascii() and len(compact) + exponent <= _MAX_AMOUNT_DIGITS:
        return int(compact) * _SCALE[exponent]
    match = _AMOUNT.fullmatch(compact)
    if match is None:
        return IssueCode.INVALID_AMOUNT
    sign, whole, decimals = match.groups()
    decimals = (decimals or "").rstrip("0")
    if len(decimals) > exponent:
        return IssueCode.FRACTIONAL_AMOUNT
    whole = whole.lstrip("0") or "0"
    if len(whole) + exponent > _MAX_AMOUNT_DIGITS:
        return IssueCode.AMOUNT_TOO_LARGE
    minor = int(whole) * _SCALE[exponent] + (int(decimals.ljust(exponent, "0")) if decimals else 0)
    return -minor if sign == "-" else minor


def parse_currency_cell(text: str) -> str | IssueCode:
    code = text.strip().upper()
    return code if code in CURRENCY_EXPONENTS else IssueCode.UNKNOWN_CURRENCY


def parse_party_id_type_cell(text: str) -> str | IssueCode:
    """ "msisdn", "MSISDN", "Account ID", "account_id" -> the Mojaloop name."""
    key = "".join(ch for ch in text.upper() if ch.isalnum())
    return _PARTY_ID_TYPE_SPELLINGS.get(key, IssueCode.UNKNOWN_PARTY_ID_TYPE)


def parse_transfer_id_cell(text: str) -> str | IssueCode:
    value = text.strip()
    return value if _TRANSFER_ID.fullmatch(value) else IssueCode.INVALID_TRANSFER_ID


def parse_party_identifier_cell(party_id_type: str, text: str) -> str | IssueCode:
    """Identifiers other than MSISDN (which :mod:`phones` reads): checked for shape, normalised where obvious."""
    value = text.strip()
    if party_id_type == "EMAIL":
        return value.lower() if _EMAIL.fullmatch(value) and len(value) <= _PARTY_IDENTIFIER_MAX else _bad()
    if party_id_type == "IBAN":
        iban = value.replace(" ", "").upper()
        return iban if _IBAN.fullmatch(iban) and _iban_checksum_ok(iban) else _bad()
    if not value or len(value) > _PARTY_IDENTIFIER_MAX or not value.isprintable():
        return _bad()
    return value


def _bad() -> IssueCode:
    return IssueCode.INVALID_PARTY_IDENTIFIER


def _iban_checksum_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def parse_payee_name_cell(text: str) -> str | IssueCode | None:
    """Trimmed, inner runs of spaces collapsed, composed accents (NFC, as macOS exports decomposed ones)."""
    if not text:
        return None
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        name = text  # already tidy: the only space a printable text can hold is " ", here single and inside
    else:
        name = " ".join(text.split())
        if not name:
            return None
    if not name.isascii():
        name = unicodedata.normalize("NFC", name)
    if len(name) > PAYEE_NAME_MAX or not name.isprintable():
        return IssueCode.INVALID_PAYEE_NAME
    return name
