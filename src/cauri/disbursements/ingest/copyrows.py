"""Valid lines as rows of PostgreSQL's binary ``COPY … FROM STDIN (FORMAT binary)``, written where they are checked.

A million-line upload spends most of its time turning lines into rows. Written here, by the process that
checks the lines (:meth:`cauri.disbursements.validation.BulkValidation.stream` with ``copy``), a chunk reaches
the database as one block of bytes: the process that holds the request's transaction does no work per line.

The binary format rather than text: nothing to escape (every value is preceded by its length), fewer bytes,
and PostgreSQL reads integers, UUIDs and timestamps without parsing them. A block is the format's header, one
tuple per line (the field count, then each field as a 32-bit length, -1 for NULL, and its bytes: UUIDs as their
16 bytes, integers big-endian, booleans as one byte, texts in UTF-8, timestamps as microseconds since
2000-01-01 UTC), and the trailer. The columns are :data:`COPY_COLUMNS` (``bulk_lines``).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no extension
COPY_TRAILER: Final = struct.pack(">h", -1)
NULL_FIELD: Final = struct.pack(">i", -1)
_POSTGRES_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
LENGTH: Final = struct.Struct(">i")
INTEGER_FIELD: Final = struct.Struct(">ii")  # length 4, value
BIGINT_FIELD: Final = struct.Struct(">iq")  # length 8, value
TRUE_FIELD: Final = b"\x00\x00\x00\x01\x01"
FALSE_FIELD: Final = b"\x00\x00\x00\x01\x00"

# A decoded row: line, transfer id, amount, currency, party id type, party identifier, payee name, review codes.
DecodedRow = tuple[int, str, int, str, str, str, str | None, tuple[str, ...]]


def text_field(value: str) -> bytes:
    """A text value as a field: its length in bytes, then its UTF-8."""
    data = value.encode()
    return LENGTH.pack(len(data)) + data


@dataclass(frozen=True)
class CopyRowFormat:
    """What every row of one upload shares: its batch, organisation, initial state and timestamp."""

    batch_id: uuid.UUID
    organization_id: uuid.UUID
    state: str  # the initial line state (PENDING)
    updated_at: datetime  # timezone-aware

    def head(self) -> bytes:
        """The bytes of each row before its line number: the field count and the batch id."""
        return struct.pack(">hi", len(COPY_COLUMNS), 16) + self.batch_id.bytes

    def organization(self) -> bytes:
        """The organisation id field."""
        return LENGTH.pack(16) + self.organization_id.bytes

    def tail(self) -> bytes:
        """The bytes of each row after its review: state, attempts, polls and updated_at."""
        microseconds = (self.updated_at - _POSTGRES_EPOCH) // _MICROSECOND
        return (
            text_field(self.state)
            + INTEGER_FIELD.pack(4, 0)
            + INTEGER_FIELD.pack(4, 0)
            + BIGINT_FIELD.pack(8, microseconds)
        )

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
    ) -> bytes:
        """One row, written plainly (the checking loop writes the same bytes inline)."""
        return b"".join(
            (
                self.head(),
                INTEGER_FIELD.pack(4, line),
                self.organization(),
                text_field(transfer_id),
                TRUE_FIELD if chosen_id else FALSE_FIELD,
                BIGINT_FIELD.pack(8, amount),
                text_field(currency),
                text_field(party_id_type),
                text_field(party_identifier),
                NULL_FIELD if payee_name is None else text_field(payee_name),
                text_field(",".join(review)) if review else NULL_FIELD,
                self.tail(),
            )
        )


def copy_block(rows: list[bytes]) -> bytes:
    """Rows as the whole input of one ``COPY … (FORMAT binary)``."""
    return b"".join((COPY_HEADER, *rows, COPY_TRAILER))


def decode_copy_rows(data: bytes) -> list[DecodedRow]:
    """The lines back from a block of :func:`copy_block` (for callers that want the lines themselves)."""
    if not data.startswith(COPY_HEADER) or not data.endswith(COPY_TRAILER):
        raise ValueError("not a binary COPY block")
    rows: list[DecodedRow] = []
    position, end = len(COPY_HEADER), len(data) - len(COPY_TRAILER)
    while position < end:
        (count,) = struct.unpack_from(">h", data, position)
        position += 2
        fields: list[bytes | None] = []
        for _ in range(count):
            (length,) = LENGTH.unpack_from(data, position)
            position += 4
            if length < 0:
                fields.append(None)
            else:
                fields.append(data[position : position + length])
                position += length
        if count != len(COPY_COLUMNS):
            raise ValueError(f"a COPY row has {count} columns, not {len(COPY_COLUMNS)}")
        line, transfer_id, amount, currency, kind, identifier, name, review = (
            fields[1],
            fields[3],
            fields[5],
            fields[6],
            fields[7],
            fields[8],
            fields[9],
            fields[10],
        )
        assert line is not None and transfer_id is not None and amount is not None
        assert currency is not None and kind is not None and identifier is not None
        rows.append(
            (
                int.from_bytes(line, "big", signed=True),
                transfer_id.decode(),
                int.from_bytes(amount, "big", signed=True),
                currency.decode(),
                kind.decode(),
                identifier.decode(),
                None if name is None else name.decode(),
                () if review is None else tuple(review.decode().split(",")),
            )
        )
    return rows
