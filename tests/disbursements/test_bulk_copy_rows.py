"""Valid lines written as rows of PostgreSQL's COPY where they are checked (``stream(copy=…)``): the same lines,
issues and report as the line objects, escaped so that PostgreSQL reads back exactly what was written; and the
line checker's fast path answers exactly as its full checks."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from cauri.disbursements.ingest.checks import LineChecker
from cauri.disbursements.ingest.copyrows import COPY_COLUMNS, CopyRowFormat, copy_block, decode_copy_rows
from cauri.disbursements.ingest.phones import PhoneNormaliser
from cauri.disbursements.models import LINE_COPY_COLUMNS, BulkLine
from cauri.disbursements.parsing import Field, FileFormat, Layout
from cauri.disbursements.validation import (
    TransferIdGenerator,
    ValidatedChunk,
    ValidationOptions,
    ValidLine,
    collect,
    generated_transfer_id,
    validate_bulk_file,
)
from tests.conftest import service_url
from tests.disbursements.bulk_files import BATCH_ID, csv_bytes, xlsx_bytes

ROWS = CopyRowFormat(BATCH_ID, uuid.UUID(int=9), "PENDING", datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
TRICKY_NAMES = ["Awa Diallo", "Diallo \\ Awa", "\\N", "C:\\temp\\new", "Kouassi Aké", "« Ndèye »", "N\\tiang"]


def test_the_rows_have_the_columns_of_a_stored_line() -> None:
    assert LINE_COPY_COLUMNS == COPY_COLUMNS
    assert set(COPY_COLUMNS) <= set(BulkLine.__table__.columns.keys())


def raw_fields(block: bytes) -> list[list[bytes | None]]:
    """Each row's fields as bytes (None for NULL), read plainly from a binary COPY block."""
    assert block.startswith(b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert block.endswith(b"\xff\xff")
    rows, position = [], 19
    while position < len(block) - 2:
        count = int.from_bytes(block[position : position + 2], "big")
        position += 2
        row: list[bytes | None] = []
        for _ in range(count):
            length = int.from_bytes(block[position : position + 4], "big", signed=True)
            position += 4
            row.append(None if length < 0 else block[position : position + length])
            position += max(length, 0)
        rows.append(row)
    assert position == len(block) - 2
    return rows


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.none(), st.text()), identifier=st.text(min_size=1), review=st.booleans())
@example(name="\\N", identifier="a\tb", review=False)
@example(name="tab\there\nnew\rline\\", identifier="\\", review=True)
def test_a_row_reads_back_as_written_whatever_the_text(name: str | None, identifier: str, review: bool) -> None:
    codes = ("duplicate_payee_amount",) if review else ()
    row = ROWS.row(
        line=7,
        transfer_id="tx-1",
        amount=5000,
        currency="XOF",
        party_id_type="ALIAS",
        party_identifier=identifier,
        payee_name=name,
        review=codes,
        chosen_id=True,
    )
    block = copy_block([row, row])
    assert decode_copy_rows(block) == [(7, "tx-1", 5000, "XOF", "ALIAS", identifier, name, codes)] * 2
    (fields, _) = raw_fields(block)
    assert len(fields) == len(COPY_COLUMNS)
    assert fields[0] == BATCH_ID.bytes and fields[2] == ROWS.organization_id.bytes and fields[4] == b"\x01"
    assert fields[11:] == [b"PENDING", bytes(4), bytes(4), (825_683_400_000_000).to_bytes(8, "big")]


def messy_rows(count: int, *, standard: bool = False) -> list[list[str]]:
    header = (
        ["transferId", "amount", "currency", "partyIdType", "partyIdentifier", "nom"]
        if standard
        else ["type_id", "valeur_id", "devise", "montant", "nom"]
    )
    rows = [header]
    for index in range(count):
        kind = "ALIAS" if index % 11 == 5 else "MSISDN"
        identifier = f"alias\\{index}" if kind == "ALIAS" else f"+221 77 {index:03d} 00 {index % 100:02d}"
        name = TRICKY_NAMES[index % len(TRICKY_NAMES)]
        cells = [kind, identifier, "XOF", f"{1000 + index % 7} ", name]
        rows.append([f"tx-{index}", cells[3], "XOF", kind, identifier, name] if standard else cells)
    amount, identifier = (1, 4) if standard else (3, 1)
    rows[10][amount] = "dix mille"  # invalid amount
    rows[30][identifier] = "12"  # invalid phone
    rows[40] = list(rows[41])  # same payee and amount: a warning
    rows[50] = ["", "", "", "", ""]  # blank
    rows[60][-1] = "x" * 141  # name too long
    if standard:
        rows[20][0] = rows[5][0]  # duplicate transfer id
        rows[40][0] = "tx-forty"
    return rows


def stream_options(**overrides: Any) -> ValidationOptions:
    values: dict[str, Any] = {
        "batch_id": BATCH_ID,
        "default_region": "SN",
        "chunk_size": 37,
        "supported_party_id_types": frozenset({"MSISDN", "ALIAS"}),
    }
    values.update(overrides)
    return ValidationOptions(**values)


async def streamed(
    data: bytes, tmp_path: Path | None, *, known: Any = None
) -> tuple[dict[str, Any], list[ValidLine], list[ValidatedChunk]]:
    path = None
    if tmp_path is not None:
        path = tmp_path / "list.bin"
        path.write_bytes(data)
    validation = validate_bulk_file(io.BytesIO(data), stream_options(), known_transfer_ids=known)
    chunks = [
        chunk async for chunk in validation.stream(offload=False, process_path=str(path) if path else None, copy=ROWS)
    ]
    return validation.report.to_dict(), [line for chunk in chunks for line in chunk.lines], chunks


@pytest.mark.parametrize("in_child", [False, True], ids=["thread", "child"])
@pytest.mark.parametrize(
    "data",
    [
        csv_bytes(messy_rows(400), encoding="cp1252"),
        csv_bytes(messy_rows(400, standard=True), delimiter=","),
        xlsx_bytes(messy_rows(120)),  # type: ignore[arg-type]
        b"nom;prenom\r\nDiallo;Awa\r\n",
        b"type_id;valeur_id;devise;montant\r\n",
    ],
    ids=["payment_list_cp1252", "standard", "xlsx", "unrecognised", "no_lines"],
)
async def test_copy_rows_carry_exactly_the_lines_issues_and_report_of_the_objects(
    data: bytes, in_child: bool, tmp_path: Path
) -> None:
    report, lines, chunks = await streamed(data, tmp_path if in_child else None)
    expected_report, expected_lines = collect(io.BytesIO(data), stream_options())
    assert lines == expected_lines
    assert report == expected_report.to_dict()
    assert all(chunk.copy_rows is not None for chunk in chunks)
    assert sum(chunk.valid_count for chunk in chunks) == len(expected_lines)
    chosen = b"\x01" if report["file_format"] == FileFormat.STANDARD else b"\x00"
    for chunk in chunks:
        assert chunk.copy_rows is not None
        for fields in raw_fields(chunk.copy_rows):
            assert fields[0] == BATCH_ID.bytes and fields[2] == ROWS.organization_id.bytes and fields[4] == chosen


@pytest.mark.parametrize("in_child", [False, True], ids=["thread", "child"])
async def test_ids_the_file_chose_wait_for_the_earlier_batches_check_as_objects(in_child: bool, tmp_path: Path) -> None:
    """Lines of a standard file may be refused by the database's answer, which changes the duplicates after
    them: they are resolved by the caller, as objects, exactly as without ``copy``."""
    data = csv_bytes(messy_rows(200, standard=True))
    report, lines, chunks = await streamed(data, tmp_path if in_child else None, known=lambda ids: {"tx-41"})
    expected_report, expected_lines = collect(
        io.BytesIO(data), stream_options(), known_transfer_ids=lambda ids: {"tx-41"}
    )
    assert (report, lines) == (expected_report.to_dict(), expected_lines)
    assert all(chunk.copy_rows is None for chunk in chunks)
    assert "transfer_id_already_used" in report["counts_by_code"]


@pytest.mark.parametrize("standard", [False, True], ids=["payment_list", "standard"])
async def test_postgresql_reads_the_rows_back_as_the_lines(standard: bool) -> None:
    url = service_url("postgres")
    data = csv_bytes(messy_rows(300, standard=standard))
    _, lines, chunks = await streamed(data, None)
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await connection.execute(
            "CREATE TEMP TABLE copied (batch_id uuid, line_number integer, organization_id uuid, "
            "transfer_id varchar(64), chosen_id boolean, amount bigint, currency varchar(3), "
            "party_id_type varchar(16), party_identifier varchar(128), payee_name varchar(140), "
            "review varchar(200), state varchar(16), attempts integer, polls integer, updated_at timestamptz)"
        )
        for chunk in chunks:
            assert chunk.copy_rows is not None
            await connection.copy_to_table(
                "copied", source=memoryview(chunk.copy_rows), columns=list(COPY_COLUMNS), format="binary"
            )
        stored = await connection.fetch("SELECT * FROM copied ORDER BY line_number")
    finally:
        await connection.close()
    assert [
        ValidLine(
            row["line_number"],
            row["transfer_id"],
            row["amount"],
            row["currency"],
            row["party_id_type"],
            row["party_identifier"],
            row["payee_name"],
            tuple(row["review"].split(",")) if row["review"] else (),
        )
        for row in stored
    ] == lines
    assert {
        (row["batch_id"], row["organization_id"], row["chosen_id"], row["state"], row["attempts"], row["polls"])
        for row in stored
    } == {(BATCH_ID, ROWS.organization_id, standard, "PENDING", 0, 0)}
    assert {row["updated_at"] for row in stored} == {ROWS.updated_at}
    assert any(row["payee_name"] == "Diallo \\ Awa" for row in stored)
    assert any(row["payee_name"] == "\\N" for row in stored)
    assert any(row["party_identifier"] == "alias\\5" for row in stored)


# -- the fast path of the line checker --------------------------------------------------------------------------

LAYOUTS = {
    FileFormat.PAYMENT_LIST: Layout(
        FileFormat.PAYMENT_LIST,
        ("type_id", "valeur_id", "devise", "montant", "nom"),
        {
            Field.PARTY_ID_TYPE: 0,
            Field.PARTY_IDENTIFIER: 1,
            Field.CURRENCY: 2,
            Field.AMOUNT: 3,
            Field.PAYEE_NAME: 4,
        },
    ),
    FileFormat.STANDARD: Layout(
        FileFormat.STANDARD,
        ("transferId", "amount", "currency", "partyIdType", "partyIdentifier", "nom"),
        {
            Field.TRANSFER_ID: 0,
            Field.AMOUNT: 1,
            Field.CURRENCY: 2,
            Field.PARTY_ID_TYPE: 3,
            Field.PARTY_IDENTIFIER: 4,
            Field.PAYEE_NAME: 5,
        },
    ),
}
# Per field: what most lines hold, then what some lines hold (drawn less often), so that lines are often clean.
USUAL: dict[Field, list[str]] = {
    Field.TRANSFER_ID: ["tx-1", "tx-2", "tx-3", "tx-4", "tx-5", "tx-6"],
    Field.AMOUNT: ["5 000", "5000", "2 500", "150000", "5 000,00"],
    Field.CURRENCY: ["XOF"],
    Field.PARTY_ID_TYPE: ["MSISDN"],
    Field.PARTY_IDENTIFIER: [
        "+221 77 000 00 01",
        "770000002",
        "+221770000003",
        "+225 07 00 00 00 01",
        "0700000001",
        "+237 6 90 00 00 01",
        "690000001",
    ],
    Field.PAYEE_NAME: ["Awa Diallo", "Bénéficiaire n° 1", "", "Diallo \\ Awa"],
}
UNUSUAL: dict[Field, list[str]] = {
    Field.TRANSFER_ID: ["", " ", " tx-7 ", "-bad", "x" * 65],
    Field.AMOUNT: [
        "12,50",
        "5000.5",
        "0",
        "-5",
        "",
        " ",
        "1e3",
        "00005000",
        "5\u00a0000",
        "\u0665\u0660\u0660\u0660",  # Arabic-Indic digits: digits, not ASCII
        "9" * 19,
    ],
    Field.CURRENCY: ["xof", " XOF", "XAF", "EUR", "ABC", "", "GNF"],
    Field.PARTY_ID_TYPE: ["msisdn", " MSISDN ", "Msisdn", "ALIAS", "EMAIL", "IBAN", "", "PHONE"],
    Field.PARTY_IDENTIFIER: [
        "00221770000004",
        "221770000005",
        "22892530829",
        "12",
        "",
        " ",
        "abc",
        "a@b.co",
        "x\\y",
        "\uff17\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff11",  # full-width digits
        "+221 77 000 00 01 ",
        "+2217700000012",
    ],
    Field.PAYEE_NAME: [
        "  Awa   Diallo ",
        " ",
        "Awa\tDiallo",
        "Awa\u00a0Diallo",
        "Be\u0301ne\u0301ficiaire",
        "x" * 141,
        "\\N",
        "a\x07b",
    ],
}
checker_options = st.fixed_dictionaries(
    {
        "region": st.sampled_from(["SN", "CI", "CM", "FR"]),
        "accepted_currencies": st.sampled_from([None, frozenset({"XOF", "XAF"}), frozenset({"EUR"})]),
        "supported_party_id_types": st.sampled_from([frozenset({"MSISDN"}), frozenset({"MSISDN", "ALIAS", "EMAIL"})]),
        "max_amounts": st.sampled_from([{}, {"XOF": 100_000}]),
        "batch_currency": st.sampled_from([None, "XOF", "EUR"]),
    }
)


@st.composite
def files_of_cells(draw: st.DrawFn) -> tuple[FileFormat, list[list[str]]]:
    file_format = draw(st.sampled_from(list(LAYOUTS)))
    layout = LAYOUTS[file_format]
    fields = sorted(layout.positions, key=lambda field: layout.positions[field])
    rows = []
    for _ in range(draw(st.integers(1, 30))):
        cells = [draw(st.sampled_from(USUAL[field] * 6 + UNUSUAL[field])) for field in fields]
        width = draw(st.sampled_from([len(cells), len(cells), len(cells) - 1, len(cells) + 1, 2]))
        rows.append([*cells, ""] if width > len(cells) else cells[:width])
    return file_format, rows


def a_checker(layout: Layout, options: dict[str, Any]) -> LineChecker:
    return LineChecker(
        layout,
        phones=PhoneNormaliser(options["region"]),
        generate_id=TransferIdGenerator(BATCH_ID),
        accepted_currencies=options["accepted_currencies"],
        supported_party_id_types=options["supported_party_id_types"],
        max_amounts=options["max_amounts"],
        max_line_length=1024,
        batch_currency=options["batch_currency"],
    )


@settings(max_examples=800, deadline=None)
@given(file=files_of_cells(), options=checker_options)
def test_the_fast_path_answers_exactly_as_every_check(
    file: tuple[FileFormat, list[list[str]]], options: dict[str, Any]
) -> None:
    file_format, rows = file
    fast, full = a_checker(LAYOUTS[file_format], options), a_checker(LAYOUTS[file_format], options)
    for line, cells in enumerate(rows, start=2):
        assert fast.check(line, list(cells), None) == full._check(line, list(cells), None), cells
        assert fast.batch_currency == full.batch_currency


def test_generated_ids_are_uuid5_of_the_batch_and_line() -> None:
    generate = TransferIdGenerator(BATCH_ID)
    for line in (2, 9, 10, 99, 1000, 123_456, 1_048_577):
        assert generate(line) == generated_transfer_id(BATCH_ID, line) == str(uuid.uuid5(BATCH_ID, str(line)))
