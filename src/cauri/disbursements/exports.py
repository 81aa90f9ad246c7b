"""Writing bulk results for spreadsheets: CSV and XLSX, streamed, and never opened as formulas.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (or their full-width forms,
possibly after spaces) would be run as a formula by Excel or LibreOffice: a payee named ``=HYPERLINK(…)`` must
not become a link, nor ``+221 77…`` a sum. :func:`escape_cell` prefixes such text with a single quote, which keeps
it readable (``'+221770000000``) and inert. Numbers stay numbers: only text is escaped.

CSV is UTF-8 with a BOM (so Excel reads accents right); French Excel wants ``;`` between cells and a decimal
comma, which ``delimiter=";"`` gives. XLSX is written with openpyxl's write-only mode, row by row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Final

from cauri.core.i18n import Language, pick
from cauri.core.money import Money, currency_exponent
from cauri.disbursements.ingest.messages import Issue
from cauri.disbursements.validation import ValidLine

_FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_FLUSH_BYTES: Final = 64 * 1024

Cell = str | int | Decimal | float | date | datetime | bool | None


def escape_cell(value: Cell) -> Cell:
    """Text that a spreadsheet would read as a formula gets a leading single quote; anything else is unchanged."""
    if isinstance(value, str) and value:
        first = value[0]
        if first == " ":
            stripped = value.lstrip(" ")
            first = stripped[0] if stripped else ""
        if first in _FORMULA_TRIGGERS:
            return "'" + value
    return value


def _csv_text(value: Cell, decimal_comma: bool) -> str | int:
    value = escape_cell(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal | float):
        text = str(value)
        return text.replace(".", ",") if decimal_comma else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class _CsvPieces:
    """CSV text written row by row and handed out in pieces of about 64 KiB."""

    def __init__(self, header: Sequence[str], *, delimiter: str, bom: bool, decimal_comma: bool | None) -> None:
        self.comma = delimiter == ";" if decimal_comma is None else decimal_comma
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=delimiter, lineterminator="\r\n")
        if bom:
            self.buffer.write("\ufeff")
        self.writer.writerow([_csv_text(cell, self.comma) for cell in header])

    def add(self, row: Sequence[Cell]) -> bytes | None:
        self.writer.writerow([_csv_text(cell, self.comma) for cell in row])
        if self.buffer.tell() >= _FLUSH_BYTES:
            return self.rest()
        return None

    def rest(self) -> bytes:
        piece = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        return piece


async def aiter_csv(
    header: Sequence[str],
    rows: AsyncIterable[Sequence[Cell]],
    *,
    delimiter: str = ",",
    bom: bool = True,
    decimal_comma: bool | None = None,
) -> AsyncIterator[bytes]:
    """:func:`iter_csv` for rows read asynchronously (e.g. from the database, page by page)."""
    pieces = _CsvPieces(header, delimiter=delimiter, bom=bom, decimal_comma=decimal_comma)
    async for row in rows:
        piece = pieces.add(row)
        if piece is not None:
            yield piece
    yield pieces.rest()


def iter_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    delimiter: str = ",",
    bom: bool = True,
    decimal_comma: bool | None = None,
) -> Iterator[bytes]:
    """CSV bytes in pieces of about 64 KiB, for a streaming HTTP response. ``decimal_comma`` defaults to
    ``delimiter == ";"`` (the French Excel convention)."""
    pieces = _CsvPieces(header, delimiter=delimiter, bom=bom, decimal_comma=decimal_comma)
    for row in rows:
        piece = pieces.add(row)
        if piece is not None:
            yield piece
    yield pieces.rest()


def write_csv(
    out: IO[bytes],
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    delimiter: str = ",",
    bom: bool = True,
    decimal_comma: bool | None = None,
) -> None:
    for piece in iter_csv(header, rows, delimiter=delimiter, bom=bom, decimal_comma=decimal_comma):
        out.write(piece)


class XlsxSheet:
    """A one-sheet .xlsx workbook filled row by row (openpyxl write-only mode), formula-safe, then saved."""

    def __init__(self, header: Sequence[str], *, sheet_title: str = "Résultats") -> None:
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._illegal = ILLEGAL_CHARACTERS_RE
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title=sheet_title[:31])
        self.append(header)

    def _cell(self, value: Cell) -> Cell:
        value = escape_cell(value)
        if isinstance(value, str):
            return str(self._illegal.sub("", value))  # control characters are not allowed in the XML
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.replace(tzinfo=None)  # Excel has no time zones; ours are UTC
        return value

    def append(self, row: Sequence[Cell]) -> None:
        self.sheet.append([self._cell(value) for value in row])

    def save(self, out: IO[bytes]) -> None:
        self.workbook.save(out)


XLSX_PAGE = 5000  # rows handed to the worker thread at once
XLSX_SPOOL_BYTES = 8 << 20  # kept in memory below this size, spooled to disk beyond
XLSX_BLOCK = 1 << 16


async def aiter_xlsx(header: Sequence[str], rows: AsyncIterable[Sequence[Cell]]) -> AsyncIterator[bytes]:
    """An .xlsx workbook of rows read asynchronously: built page by page in a worker thread (openpyxl is
    synchronous), spooled, then read out in blocks. It is built while the bytes are consumed, i.e. once an HTTP
    route has answered and its transaction is over (SQLite has one writer lock)."""
    sheet = XlsxSheet(header)

    def append(page: list[Sequence[Cell]]) -> None:
        for row in page:
            sheet.append(row)

    page: list[Sequence[Cell]] = []
    async for row in rows:
        page.append(row)
        if len(page) >= XLSX_PAGE:
            await asyncio.to_thread(append, page)
            page = []
    await asyncio.to_thread(append, page)
    with tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES) as spool:
        await asyncio.to_thread(sheet.save, spool)
        spool.seek(0)
        while block := await asyncio.to_thread(spool.read, XLSX_BLOCK):
            yield block


def write_xlsx(
    out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Cell]], *, sheet_title: str = "Résultats"
) -> None:
    """An .xlsx workbook with one sheet, written row by row (openpyxl write-only mode)."""
    sheet = XlsxSheet(header, sheet_title=sheet_title)
    for row in rows:
        sheet.append(row)
    sheet.save(out)


def amount_value(minor: int, currency: str) -> Decimal | int:
    """Minor units as the number a person reads: 62500 XOF -> 62500; 150050 EUR -> Decimal("1500.50")."""
    if currency_exponent(currency) == 0:
        return minor
    return Money(minor, currency).to_decimal()


def issue_table(issues: Iterable[Issue], language: Language | None = None) -> tuple[list[str], Iterator[list[Cell]]]:
    """The validation report as a sheet the operator can fix the file from."""
    header = [
        pick("Ligne", "Line", language),
        pick("Colonne", "Column", language),
        pick("Gravité", "Severity", language),
        "Code",
        "Message",
        pick("Valeur", "Value", language),
    ]
    severities = {"error": pick("erreur", "error", language), "warning": pick("à vérifier", "review", language)}

    def rows() -> Iterator[list[Cell]]:
        for issue in issues:
            yield [
                issue.line,
                issue.column,
                severities[issue.severity.value],
                issue.code.value,
                issue.message(language),
                issue.value,
            ]

    return header, rows()


def valid_line_table(
    lines: Iterable[ValidLine], language: Language | None = None
) -> tuple[list[str], Iterator[list[Cell]]]:
    """The normalised lines, as they will be paid."""
    header = [
        pick("Ligne", "Line", language),
        pick("Identifiant de transfert", "Transfer id", language),
        pick("Montant", "Amount", language),
        pick("Devise", "Currency", language),
        pick("Type d'identifiant", "Party id type", language),
        pick("Identifiant", "Party identifier", language),
        pick("Nom", "Name", language),
        pick("À vérifier", "To review", language),
    ]

    def rows() -> Iterator[list[Cell]]:
        for line in lines:
            yield [
                line.line,
                line.transfer_id,
                amount_value(line.amount, line.currency),
                line.currency,
                line.party_id_type,
                line.party_identifier,
                line.payee_name,
                ", ".join(code.value for code in line.review),
            ]

    return header, rows()


_LINE_STATES: dict[str, tuple[str, str]] = {
    "PENDING": ("en attente", "pending"),
    "PROCESSING": ("en cours", "processing"),
    "COMPLETED": ("payé", "paid"),
    "FAILED": ("échec", "failed"),
    "CANCELLED": ("annulé", "cancelled"),
}


def result_header(language: Language | None = None) -> list[str]:
    """The columns of a batch's results sheet (one row per line, see :func:`result_row`)."""
    return [
        pick("Ligne", "Line", language),
        pick("Identifiant de transfert", "Transfer id", language),
        pick("Nom", "Name", language),
        pick("Type d'identifiant", "Party id type", language),
        pick("Identifiant", "Party identifier", language),
        pick("Montant", "Amount", language),
        pick("Devise", "Currency", language),
        pick("État", "State", language),
        pick("Motif", "Reason", language),
        pick("Explication", "Explanation", language),
        pick("Tentatives", "Attempts", language),
        pick("Référence fournisseur", "Provider reference", language),
        pick("Payé le (UTC)", "Paid at (UTC)", language),
    ]


def result_row(
    *,
    line_number: int,
    transfer_id: str,
    payee_name: str | None,
    party_id_type: str,
    party_identifier: str,
    amount: int,
    currency: str,
    state: str,
    failure_reason: str | None,
    failure_message: str | None,
    attempts: int,
    provider_payment_id: str | None,
    completed_at: datetime | None,
    language: Language | None = None,
) -> list[Cell]:
    label = _LINE_STATES.get(state)
    return [
        line_number,
        transfer_id,
        payee_name,
        party_id_type,
        party_identifier,
        amount_value(amount, currency),
        currency,
        pick(*label, language) if label else state,
        failure_reason,
        failure_message,
        attempts,
        provider_payment_id,
        completed_at,
    ]
