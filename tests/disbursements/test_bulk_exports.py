"""Exports open in a spreadsheet as text, never as formulas; CSV for French Excel; XLSX streamed."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from cauri.disbursements.exports import (
    amount_value,
    escape_cell,
    issue_table,
    iter_csv,
    valid_line_table,
    write_csv,
    write_xlsx,
)
from tests.disbursements.bulk_files import check, csv_bytes, sample

DANGEROUS = [
    '=HYPERLINK("http://evil.example","Cliquez")',
    "+221786936818",
    "-500",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "   =1+1",
    "\uff1d1+1",  # full-width equals sign, which some spreadsheets also evaluate
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_would_run_as_a_formula_is_prefixed_with_a_quote(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["Aminata Diallo", "221786936818", "tx-001", "", "a=b", "Awa - Traoré", None, -500, 3]
)
def test_harmless_values_and_numbers_are_left_alone(value: str | int | None) -> None:
    assert escape_cell(value) == value


def test_decimal_amounts_stay_numbers() -> None:
    assert escape_cell(Decimal("-1500.50")) == Decimal("-1500.50")


def test_csv_for_french_excel_has_bom_semicolons_decimal_comma_and_escaped_cells() -> None:
    rows = [[2, "=1+1", Decimal("1500.50"), "+221786936818", "Kouassi Aké"], [3, "-500", 62500, None, "Awa"]]
    out = io.BytesIO()

    write_csv(out, ["Ligne", "Nom", "Montant", "Téléphone", "Bénéficiaire"], rows, delimiter=";")

    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert read == [
        ["Ligne", "Nom", "Montant", "Téléphone", "Bénéficiaire"],
        ["2", "'=1+1", "1500,50", "'+221786936818", "Kouassi Aké"],
        ["3", "'-500", "62500", "", "Awa"],
    ]


def test_csv_with_commas_keeps_decimal_points_and_can_skip_the_bom() -> None:
    pieces = list(iter_csv(["a", "b"], [[Decimal("1.5"), "@x"]], delimiter=",", bom=False))

    assert b"".join(pieces) == b"a,b\r\n1.5,'@x\r\n"


def test_csv_is_produced_in_pieces_for_streaming() -> None:
    rows = ([i, "+22178" + str(i).zfill(7), "Bénéficiaire numéro " + str(i)] for i in range(20_000))

    pieces = list(iter_csv(["Ligne", "Téléphone", "Nom"], rows))

    assert len(pieces) > 5
    assert all(len(piece) < 80 * 1024 for piece in pieces)
    lines = b"".join(pieces).decode("utf-8-sig").splitlines()
    assert len(lines) == 20_001
    assert lines[-1] == "19999,'+221780019999,Bénéficiaire numéro 19999"


def test_xlsx_cells_are_text_or_numbers_never_formulas() -> None:
    out = io.BytesIO()
    rows = [[text, -500, Decimal("12.5")] for text in DANGEROUS] + [["Awa\x07 Traoré", 1, None]]

    write_xlsx(out, ["Valeur", "Nombre", "Décimal"], rows)

    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=2))
    assert all(cell.data_type != "f" for row in cells for cell in row)
    # XML reads a carriage return back as a line feed; what matters is the quote in front.
    assert [row[0].value for row in cells[: len(DANGEROUS)]] == ["'" + text.replace("\r", "\n") for text in DANGEROUS]
    assert cells[0][1].value == -500 and cells[0][1].data_type == "n"
    assert cells[0][2].value == 12.5
    assert cells[-1][0].value == "Awa Traoré"


def test_the_validation_report_exports_as_a_sheet_to_fix_the_file_from() -> None:
    data = csv_bytes(
        [
            ["transferId", "amount", "currency", "partyIdType", "partyIdentifier"],
            ["=cmd|' /C calc'!A0", "10 000", "XOF", "MSISDN", "+221781000001"],
            ["t-3", "-5", "XOF", "MSISDN", "+221781000002"],
        ]
    )
    report, _ = check(data)
    header, rows = issue_table(report.issues, "en")
    out = io.BytesIO()

    write_csv(out, header, rows, delimiter=";")

    read = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert read[0] == ["Line", "Column", "Severity", "Code", "Message", "Value"]
    assert read[1][:4] == ["2", "transferId", "error", "invalid_transfer_id"]
    assert read[1][5] == "'=cmd|' /C calc'!A0"
    assert read[2][:4] == ["3", "amount", "error", "amount_not_positive"]
    assert read[2][5] == "'-5"
    assert issue_table([], "fr")[0][:3] == ["Ligne", "Colonne", "Gravité"]


def test_valid_lines_export_round_trips_through_xlsx() -> None:
    _, lines = check(sample("bulk_excel_fr.csv"))
    header, rows = valid_line_table(lines, "fr")
    out = io.BytesIO()

    write_xlsx(out, header, rows)

    sheet = load_workbook(io.BytesIO(out.getvalue()), read_only=True).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("Ligne", "Identifiant de transfert", "Montant")
    assert values[1][:6] == (2, lines[0].transfer_id, 62500, "XOF", "MSISDN", "'+221786936818")
    assert values[2][6] == "Kouassi Aké"
    assert len(values) == 13


def test_amounts_are_written_in_major_units() -> None:
    assert amount_value(62500, "XOF") == 62500
    assert amount_value(150050, "EUR") == Decimal("1500.50")
