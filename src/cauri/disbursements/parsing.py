"""Reading a bulk payment file: bytes in, rows of text cells out, one block at a time.

What users send is what their accounting software or French Excel writes: CSV with ``;`` or ``,`` (or a tab),
UTF-8 with or without BOM or Windows-1252, CRLF, LF or CR line ends, sometimes a ``sep=;`` first line; or an
``.xlsx`` workbook. :func:`open_bulk_file` recognises all of it from the first bytes and the header, then
streams rows, so a million-line file is never held in memory (for ``.xlsx``, openpyxl's read-only mode holds
the workbook's shared-string table, not the rows).

Line numbers are the ones a spreadsheet shows: the header is line 1 (blank lines above it count too).
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import IO, Any, Final

from cauri.disbursements.ingest.filetypes import XLSX, sniff, zip_kind
from cauri.disbursements.ingest.messages import BulkFileError, Issue, IssueCode, make_issue
from cauri.disbursements.ingest.text import LineState, TextDecoder, decoded_blocks, physical_lines


class Container(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class FileFormat(StrEnum):
    STANDARD = "standard"  # transferId,amount,currency,partyIdType,partyIdentifier (Mojaloop bulk CSV)
    PAYMENT_LIST = "payment_list"  # type_id,valeur_id,devise,montant (transfer ids generated)


class Field(StrEnum):
    TRANSFER_ID = "transfer_id"
    AMOUNT = "amount"
    CURRENCY = "currency"
    PARTY_ID_TYPE = "party_id_type"
    PARTY_IDENTIFIER = "party_identifier"
    PAYEE_NAME = "payee_name"


# Header spellings, as written in the documentation, by format; matched on header_key().
COLUMNS: Final[dict[FileFormat, dict[str, Field]]] = {
    FileFormat.STANDARD: {
        "transferId": Field.TRANSFER_ID,
        "amount": Field.AMOUNT,
        "currency": Field.CURRENCY,
        "partyIdType": Field.PARTY_ID_TYPE,
        "partyIdentifier": Field.PARTY_IDENTIFIER,
    },
    FileFormat.PAYMENT_LIST: {
        "type_id": Field.PARTY_ID_TYPE,
        "valeur_id": Field.PARTY_IDENTIFIER,
        "devise": Field.CURRENCY,
        "montant": Field.AMOUNT,
    },
}
# The optional payee name column, in either format.
NAME_COLUMNS: Final = (
    "nom",
    "name",
    "payee_name",
    "payeeName",
    "partyName",
    "nom_beneficiaire",
    "nom du bénéficiaire",
    "bénéficiaire",
    "nom complet",
    "full_name",
    "nom et prénom",
    "nom et prénoms",
    "prénom et nom",
)

DEFAULT_MAX_LINE_LENGTH: Final = 1024
BLOCK_SIZE: Final = 64 * 1024
_DELIMITERS: Final = (";", ",", "\t", "|")
_XLSX_MAX_COLUMNS: Final = 64  # header search width; data rows are read up to the header's width + 8
_XLSX_EXTRA_COLUMNS: Final = 8
_BLANK: Final = " \t\r\n;,|\"'\u00a0"


def header_key(text: str) -> str:
    """Case, accents, spaces and punctuation do not matter: "Valeur ID", "valeur_id", "VALEUR-ID" are one."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum() and not unicodedata.combining(ch))


_KEYED_COLUMNS: Final = {
    fmt: {header_key(name): field for name, field in cols.items()} for fmt, cols in COLUMNS.items()
}
_NAME_KEYS: Final = frozenset(header_key(name) for name in NAME_COLUMNS)


@dataclass(frozen=True)
class Layout:
    """Which column holds which field, as found in the header."""

    file_format: FileFormat
    header: tuple[str, ...]  # as written in the file
    positions: dict[Field, int]

    @property
    def width(self) -> int:
        return len(self.header)

    @property
    def required_width(self) -> int:
        """Cells a line must have: up to the last required column (a trailing name may be left out)."""
        return 1 + max(index for field, index in self.positions.items() if field is not Field.PAYEE_NAME)

    def column(self, field: Field) -> str:
        return self.header[self.positions[field]]


# One line of the file: (line number, cells, problem found while reading it or None).
RawRow = tuple[int, list[str], IssueCode | None]


@dataclass
class OpenedFile:
    container: Container
    delimiter: str | None  # None for xlsx
    layout: Layout
    header_line: int
    rows: Generator[RawRow, None, None]  # raises BulkFileError if the file turns out unreadable further down
    decoder: TextDecoder | None = None  # None for xlsx

    @property
    def encoding(self) -> str | None:
        """The text encoding ("utf-8", "utf-8-sig", "windows-1252", "utf-16"; None for xlsx). Without a BOM it is
        final only once the rows are read: the first byte that is not UTF-8 may come late."""
        return self.decoder.encoding if self.decoder is not None else None


def open_bulk_file(
    source: IO[bytes], *, max_line_length: int = DEFAULT_MAX_LINE_LENGTH, block_size: int = BLOCK_SIZE
) -> OpenedFile:
    """Recognise the file's kind, encoding, separator and format; the rows are read as they are iterated.

    ``source`` is a binary file object (an upload spooled to disk); an ``.xlsx`` one must be seekable.
    Raises :class:`BulkFileError` for a file that is not a payment list (wrong header, not a spreadsheet…).
    """
    start = source.tell() if source.seekable() else 0
    head = source.read(block_size)
    if not head:
        raise BulkFileError(make_issue(IssueCode.EMPTY_FILE))
    kind = sniff(head)
    if kind is XLSX and source.seekable():
        kind = zip_kind(source, start) or XLSX
    if kind is XLSX:
        source.seek(start)
        return _open_xlsx(source, max_line_length)
    if kind is not None:
        raise BulkFileError(make_issue(IssueCode.UNSUPPORTED_FILE_TYPE, kind=kind.described()))
    return _open_csv(source, head, max_line_length, block_size)


def _is_blank(line: str) -> bool:
    return not line.strip(_BLANK)


def _open_csv(source: IO[bytes], head: bytes, max_line_length: int, block_size: int) -> OpenedFile:
    decoder = TextDecoder(head)
    state = LineState()
    lines = physical_lines(decoded_blocks(source, head, decoder, block_size), max_line_length, state)
    line_number = 0
    delimiter: str | None = None
    for line in lines:
        if state.truncated:
            raise BulkFileError(_header_issues(["…"])[0])
        stripped = line.strip()
        if not line_number and delimiter is None and stripped.lower().startswith("sep=") and len(stripped) == 5:
            delimiter = stripped[4]  # Excel's own hint; the line is not shown as a row
            continue
        line_number += 1
        if _is_blank(line):
            continue
        if delimiter is None:
            delimiter = _sniff_delimiter(line)
        header = next(csv.reader([line], delimiter=delimiter), [])
        layout = _layout(header)
        return OpenedFile(
            container=Container.CSV,
            decoder=decoder,
            delimiter=delimiter,
            layout=layout,
            header_line=line_number,
            rows=_csv_rows(lines, delimiter, line_number, state, max_line_length),
        )
    raise BulkFileError(make_issue(IssueCode.EMPTY_FILE))


def _sniff_delimiter(line: str) -> str:
    """The separator that makes the line a recognised header; failing that, the most frequent one."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([line], delimiter=delimiter), [])
        keys = {header_key(cell) for cell in cells}
        known = max(len(keys & set(columns)) for columns in _KEYED_COLUMNS.values()) + len(keys & _NAME_KEYS)
        return known, line.count(delimiter)

    return max(_DELIMITERS, key=score)


def _csv_rows(
    lines: Iterator[str], delimiter: str, header_line: int, state: LineState, max_line_length: int
) -> Generator[RawRow, None, None]:
    reader = csv.reader(lines, delimiter=delimiter)
    line_number = header_line
    while True:
        state.truncated = False
        state.lines = 0
        try:
            # The loop asks the reader for a row after the state of the row before was reset.
            for cells in reader:
                line_number += 1
                # A quoted cell may hold line breaks (a spreadsheet shows one row), within the same length limit.
                if state.truncated or (state.lines > 1 and sum(map(len, cells)) > max_line_length):
                    yield line_number, [], IssueCode.LINE_TOO_LONG
                else:
                    yield line_number, cells, None
                state.truncated = False
                state.lines = 0
        except csv.Error:  # an unclosed quote ran past the csv module's field size limit
            line_number += 1
            yield line_number, [], IssueCode.MALFORMED_LINE
        else:
            return


# ---------------------------------------------------------------------------------------------------- header


def _layout(header: list[str]) -> Layout:
    while header and not header[-1].strip():
        header.pop()  # Excel writes trailing separators when another row was wider
    keys = [header_key(cell) for cell in header]
    scores = {fmt: len(set(keys) & set(columns)) for fmt, columns in _KEYED_COLUMNS.items()}
    file_format = max(scores, key=lambda fmt: scores[fmt])
    if scores[file_format] == 0:
        raise BulkFileError(*_header_issues(header))
    columns = _KEYED_COLUMNS[file_format]
    positions: dict[Field, int] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, (cell, key) in enumerate(zip(header, keys, strict=True)):
        field = columns.get(key) or (Field.PAYEE_NAME if key in _NAME_KEYS else None)
        if field is None:
            unknown.append(cell.strip())
        elif field in positions:
            duplicates.append(cell.strip())
        else:
            positions[field] = index
    missing = [name for name, field in COLUMNS[file_format].items() if field not in positions]
    issues = []
    if missing:
        issues.append(make_issue(IssueCode.MISSING_COLUMNS, columns=_quoted(missing)))
    if unknown:
        issues.append(make_issue(IssueCode.UNKNOWN_COLUMNS, columns=_quoted(unknown)))
    if duplicates:
        issues.append(make_issue(IssueCode.DUPLICATE_COLUMNS, columns=_quoted(duplicates)))
    if issues:
        raise BulkFileError(*issues)
    return Layout(file_format=file_format, header=tuple(cell.strip() for cell in header), positions=positions)


def _header_issues(header: list[str]) -> list[Issue]:
    shown = _quoted([cell.strip() for cell in header][:8]) if header else "∅"
    return [make_issue(IssueCode.UNRECOGNISED_HEADER, columns=shown)]


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name[:40]}"' for name in names)


# ---------------------------------------------------------------------------------------------------- xlsx


def _open_xlsx(source: IO[bytes], max_line_length: int) -> OpenedFile:
    import openpyxl  # imported here: it is slow to import and CSV files do not need it

    try:
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True, keep_links=False)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record a wrong size; read what is there
    except Exception:  # openpyxl raises many kinds on a damaged file; the user's answer is the same
        raise BulkFileError(make_issue(IssueCode.UNREADABLE_XLSX)) from None
    try:
        header_line, header = _xlsx_header(sheet)
        layout = _layout(header)
    except BaseException:
        workbook.close()
        raise
    width = layout.width + _XLSX_EXTRA_COLUMNS
    rows = sheet.iter_rows(min_row=header_line + 1, max_col=width, values_only=True)
    return OpenedFile(
        container=Container.XLSX,
        delimiter=None,
        layout=layout,
        header_line=header_line,
        rows=_xlsx_rows(workbook, rows, header_line, max_line_length),
    )


def _xlsx_header(sheet: Any) -> tuple[int, list[str]]:
    rows = sheet.iter_rows(max_col=_XLSX_MAX_COLUMNS, values_only=True)
    try:
        for number, values in enumerate(rows, start=1):
            cells = [cell_text(value) for value in values]
            if any(cell.strip() for cell in cells):
                return number, cells
    except Exception:
        raise BulkFileError(make_issue(IssueCode.UNREADABLE_XLSX)) from None
    finally:
        rows.close()  # releases the sheet's XML stream now, not whenever the generator is collected
    raise BulkFileError(make_issue(IssueCode.EMPTY_FILE))


def _xlsx_rows(
    workbook: Any, rows: Iterator[tuple[object, ...]], header_line: int, limit: int
) -> Generator[RawRow, None, None]:
    line_number = header_line
    try:
        for values in rows:
            line_number += 1
            cells = [cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if sum(map(len, cells)) > limit:
                yield line_number, [], IssueCode.LINE_TOO_LONG
            else:
                yield line_number, cells, None
    except Exception:
        raise BulkFileError(make_issue(IssueCode.UNREADABLE_XLSX)) from None
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person would type: 62500.0 -> "62500", 1500.5 -> "1500.5"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value)
    return text


__all__ = [
    "COLUMNS",
    "NAME_COLUMNS",
    "BulkFileError",
    "Container",
    "Field",
    "FileFormat",
    "Layout",
    "OpenedFile",
    "RawRow",
    "cell_text",
    "header_key",
    "open_bulk_file",
]
