"""Valid lines as rows of PostgreSQL's ``COPY … FROM STDIN (FORMAT text)``, written where the lines are checked.

A million-line upload spends most of its time turning lines into rows. Written here, by the process that
checks the lines (:meth:`cauri.disbursements.validation.BulkValidation.stream` with ``process_path``), a chunk
reaches the database as one block of bytes: the process that holds the request's transaction does no work per
line. The columns are :data:`COPY_COLUMNS` (``bulk_lines``); text format: one row per line ending in ``\\n``,
columns separated by tabs, ``\\N`` for NULL, and a backslash before a backslash, tab, newline or carriage return
inside a value (:func:`copy_text`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

# The columns of a stored line, in the order of the rows (models.LINE_COPY_COLUMNS is this tuple).
COPY_COLUMNS: Final[tuple[str, ...]] = (
    "batch_id",
    "line_number",
    "organization_id",
    "transfer_id",
    "chosen_id",
    "amount",
    "currency",
    "party_id_type",
    "party_identifier",
    "payee_name",
    "review",
    "state",
    "attempts",
    "polls",
    "updated_at",
)
NULL: Final = "\\N"
_SPECIAL: Final = re.compile(r"[\\\t\n\r]")
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ESCAPED: Final = re.compile(r"\\(.)")
_UNESCAPES: Final = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}

# A decoded row: line, transfer id, amount, currency, party id type, party identifier, payee name, review codes.
DecodedRow = tuple[int, str, int, str, str, str, str | None, tuple[str, ...]]


def copy_text(value: str) -> str:
    """``value`` as a COPY text field: backslash, tab, newline and carriage return escaped."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _unescaped(value: str) -> str:
    return _ESCAPED.sub(lambda match: _UNESCAPES[match.group(1)], value) if "\\" in value else value


@dataclass(frozen=True)
class CopyRowFormat:
    """What every row of one upload shares: its batch, organisation, initial state and timestamp."""

    batch_id: uuid.UUID
    organization_id: uuid.UUID
    state: str  # the initial line state (PENDING)
    updated_at: datetime  # timezone-aware

    def head(self) -> str:
        """The text before each row's line number."""
        return f"{self.batch_id}\t"

    def tail(self) -> str:
        """The text after each row's review column (state, attempts, polls, updated_at), newline included."""
        return f"\t{copy_text(self.state)}\t0\t0\t{self.updated_at.isoformat()}\n"

    def row(
        self,
        *,
        line: int,
        transfer_id: str,
        amount: int,
        currency: str,
        party_id_type: str,
        party_identifier: str,
        payee_name: str | None,
        review: tuple[str, ...] = (),
        chosen_id: bool,
    ) -> str:
        """One row, written plainly (the checking loop writes the same text inline)."""
        name = NULL if payee_name is None else copy_text(payee_name)
        codes = ",".join(review)
        return (
            f"{self.head()}{line}\t{self.organization_id}\t{copy_text(transfer_id)}\t{'t' if chosen_id else 'f'}\t"
            f"{amount}\t{copy_text(currency)}\t{copy_text(party_id_type)}\t{copy_text(party_identifier)}\t"
            f"{name}\t{copy_text(codes) if codes else NULL}{self.tail()}"
        )


def decode_copy_rows(data: bytes) -> list[DecodedRow]:
    """The lines back from rows written by :class:`CopyRowFormat` (for callers that want the lines themselves)."""
    rows: list[DecodedRow] = []
    for text in data.decode("utf-8").split("\n"):
        if not text:
            continue
        cells = text.split("\t")
        if len(cells) != len(COPY_COLUMNS):
            raise ValueError(f"a COPY row has {len(cells)} columns, not {len(COPY_COLUMNS)}")
        name, review = cells[9], cells[10]
        rows.append(
            (
                int(cells[1]),
                _unescaped(cells[3]),
                int(cells[5]),
                _unescaped(cells[6]),
                _unescaped(cells[7]),
                _unescaped(cells[8]),
                None if name == NULL else _unescaped(name),
                () if review == NULL else tuple(_unescaped(review).split(",")),
            )
        )
    return rows
