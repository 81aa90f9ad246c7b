"""Reading the files users send: the sample files, French Excel's variants, XLSX, and files that are not lists."""

from __future__ import annotations

import io
import zipfile

import pytest

from cauri.disbursements.ingest.messages import IssueCode
from cauri.disbursements.parsing import BulkFileError, Container, FileFormat, open_bulk_file
from cauri.disbursements.validation import generated_transfer_id
from tests.disbursements.bulk_files import (
    BATCH_ID,
    check,
    csv_bytes,
    file_codes,
    issue_places,
    sample,
    sample_rows,
    xlsx_bytes,
)

EXCEL_FR_E164 = [
    "+221786936818",
    "+221788139518",
    "+221783915995",
    "+221784633188",
    "+221703234626",
    "+221789927320",
    "+221786624527",
    "+221784679758",
    "+221702802939",
    "+221789518533",
    "+221702496378",
    "+221768077589",
]
EXCEL_FR_AMOUNTS = [62500, 62500, 62500, 15000, 125000, 125000, 125000, 62500, 30000, 15000, 62500, 62500]


def test_french_excel_sample_is_read_with_names_phones_and_amounts() -> None:
    report, lines = check(sample("bulk_excel_fr.csv"), default_region="SN")

    assert (report.container, report.encoding, report.delimiter) == (Container.CSV, "utf-8-sig", ";")
    assert report.file_format is FileFormat.PAYMENT_LIST
    assert report.columns == ("type_id", "valeur_id", "devise", "montant", "nom")
    assert (report.lines, report.valid_lines, report.invalid_lines, report.warning_lines) == (12, 12, 0, 0)
    assert report.clean
    assert report.totals == {"XOF": 810_000}
    assert [line.e164 for line in lines] == EXCEL_FR_E164
    assert [line.amount for line in lines] == EXCEL_FR_AMOUNTS
    assert [line.line for line in lines] == list(range(2, 14))
    assert lines[1].payee_name == "Kouassi Aké"
    assert lines[2].payee_name == "Awa Traoré"
    assert {line.currency for line in lines} == {"XOF"}
    assert lines[0].transfer_id == generated_transfer_id(BATCH_ID, 2)


def test_payment_list_sample_reads_ivorian_numbers_written_with_country_code_and_no_plus() -> None:
    report, lines = check(sample("bulk_payment_list.csv"), default_region="CI")

    assert (report.encoding, report.delimiter, report.file_format) == ("utf-8", ",", FileFormat.PAYMENT_LIST)
    assert (report.lines, report.valid_lines) == (20, 20)
    assert report.totals == {"XOF": 722_500}
    assert lines[0].e164 == "+2250741403729"
    assert all(line.payee_name is None for line in lines)


def test_standard_sample_keeps_transfer_ids_and_rejects_numbers_outside_togos_plan() -> None:
    # Togo's numbering plan has no 94… mobile range: libphonenumber (and so Cauri) refuses those two lines.
    report, lines = check(sample("bulk_standard.csv"), default_region="SN")

    assert report.file_format is FileFormat.STANDARD
    assert (report.lines, report.valid_lines, report.invalid_lines) == (20, 18, 2)
    assert issue_places(report) == [(10, "partyIdentifier", "invalid_phone"), (19, "partyIdentifier", "invalid_phone")]
    assert lines[0].transfer_id == "tx-001"
    assert lines[0].e164 == "+22892530829"
    assert report.totals == {"XOF": 860_000}


def test_regenerating_ids_from_the_same_file_and_batch_gives_the_same_ids() -> None:
    _, first = check(sample("bulk_excel_fr.csv"))
    _, again = check(sample("bulk_excel_fr.csv"))
    _, other_batch = check(sample("bulk_excel_fr.csv"), batch_id=BATCH_ID.__class__(int=7))

    assert [line.transfer_id for line in first] == [line.transfer_id for line in again]
    assert len({line.transfer_id for line in first}) == 12
    assert not {line.transfer_id for line in first} & {line.transfer_id for line in other_batch}


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", True), ("utf-8", False), ("cp1252", False)])
def test_every_way_excel_saves_the_list_gives_the_same_lines(
    delimiter: str, newline: str, encoding: str, bom: bool
) -> None:
    rows = sample_rows("bulk_excel_fr.csv", ";")
    reference_report, reference = check(sample("bulk_excel_fr.csv"))
    data = csv_bytes(rows, delimiter=delimiter, encoding=encoding, bom=bom, newline=newline)

    report, lines = check(data)

    expected_encoding = {("utf-8", True): "utf-8-sig", ("utf-8", False): "utf-8"}.get((encoding, bom), "windows-1252")
    assert (report.encoding, report.delimiter) == (expected_encoding, delimiter)
    assert lines == reference
    assert report.totals == reference_report.totals


def test_windows_1252_is_detected_after_a_long_ascii_start_without_reading_the_file_at_once() -> None:
    rows = [["type_id", "valeur_id", "devise", "montant", "nom"]]
    rows += [["MSISDN", f"+221 78 100 {i // 100:02d} {i % 100:02d}", "XOF", "10 000", "Awa Traore"] for i in range(300)]
    rows += [["MSISDN", "+221 78 200 00 01", "XOF", "10 000", "Kouassi Aké"]]
    data = csv_bytes(rows, encoding="cp1252")

    opened = open_bulk_file(io.BytesIO(data), block_size=64)
    last = list(opened.rows)[-1]

    assert opened.encoding == "windows-1252"
    assert last == (302, ["MSISDN", "+221 78 200 00 01", "XOF", "10 000", "Kouassi Aké"], None)


def test_utf8_text_that_later_turns_windows_1252_is_refused_rather_than_garbled() -> None:
    header = b"type_id;valeur_id;devise;montant;nom\r\n"
    utf8_line = "MSISDN;+221 78 100 00 01;XOF;10 000;Awa Traoré\r\n".encode()
    cp1252_line = "MSISDN;+221 78 100 00 02;XOF;10 000;Kouassi Aké\r\n".encode("cp1252")

    report, _ = check(header + utf8_line + cp1252_line)

    assert file_codes(report) == ["mixed_encoding"]
    assert not report.accepted
    assert "UTF-8" in report.file_issues[0].message_fr


def test_utf16_with_bom_as_excel_unicode_text_is_read() -> None:
    rows = sample_rows("bulk_excel_fr.csv", ";")
    data = csv_bytes(rows, delimiter="\t", encoding="utf-16")
    _, reference = check(sample("bulk_excel_fr.csv"))

    report, lines = check(data)

    assert (report.encoding, report.delimiter) == ("utf-16", "\t")
    assert lines == reference


def test_excels_sep_line_sets_the_separator_and_is_not_counted_as_a_row() -> None:
    data = b"sep=,\r\ntype_id,valeur_id,devise,montant\r\nMSISDN,+221 78 100 00 01,XOF,5000\r\n"

    report, lines = check(data)

    assert report.delimiter == ","
    assert [(line.line, line.amount) for line in lines] == [(2, 5000)]


def test_headers_match_whatever_the_case_accents_spaces_and_column_order() -> None:
    data = csv_bytes(
        [
            [" Nom du bénéficiaire ", "MONTANT", "Dévise", "Valeur ID", "Type-Id"],
            ["Aminata Diallo", "62 500", "xof", "78 693 68 18", "msisdn"],
        ]
    )

    report, lines = check(data, default_region="SN")

    assert report.file_format is FileFormat.PAYMENT_LIST
    assert [(line.payee_name, line.amount, line.currency, line.e164) for line in lines] == [
        ("Aminata Diallo", 62500, "XOF", "+221786936818")
    ]


def test_blank_rows_are_skipped_and_line_numbers_stay_those_of_the_spreadsheet() -> None:
    data = (
        b"\r\n"  # a blank first row: the header is row 2
        b"transferId;amount;currency;partyIdType;partyIdentifier\r\n"
        b"t1;1000;XOF;MSISDN;+221781000001\r\n"
        b";;;;\r\n"  # what Excel writes for an empty row
        b"   \r\n"
        b't2;"2 000";XOF;MSISDN;"+221 78 100 00 02"\r\n'
    )

    report, lines = check(data)

    assert [(line.line, line.transfer_id, line.amount) for line in lines] == [(3, "t1", 1000), (6, "t2", 2000)]
    assert (report.lines, report.empty_lines, report.invalid_lines) == (2, 2, 0)


def test_a_quoted_cell_may_hold_the_separator_and_a_line_break() -> None:
    data = (
        b"type_id;valeur_id;devise;montant;nom\r\n"
        b'MSISDN;+221781000001;XOF;1000;"Diallo; Aminata"\r\n'
        b'MSISDN;+221781000002;XOF;2000;"Awa\r\nTraore"\r\n'
        b"MSISDN;+221781000003;XOF;3000;Koffi\r\n"
    )

    _, lines = check(data)

    assert [(line.line, line.payee_name) for line in lines] == [(2, "Diallo; Aminata"), (3, "Awa Traore"), (4, "Koffi")]


def test_sample_written_as_xlsx_gives_the_same_lines_as_the_csv() -> None:
    rows: list[list[object]] = list(sample_rows("bulk_excel_fr.csv", ";"))
    _, reference = check(sample("bulk_excel_fr.csv"))

    report, lines = check(xlsx_bytes(rows))

    assert (report.container, report.encoding, report.delimiter) == (Container.XLSX, None, None)
    assert lines == reference


def test_xlsx_numbers_typed_as_numbers_and_empty_rows_keep_spreadsheet_line_numbers() -> None:
    rows: list[list[object]] = [
        ["transferId", "amount", "currency", "partyIdType", "partyIdentifier", "Nom"],
        ["a-1", 62500, "XOF", "MSISDN", 221786936818, "Awa Traoré"],
        [],
        ["a-2", 1500.0, "XOF", "MSISDN", "+221 78 100 00 02", None],
        ["a-3", 99.5, "XOF", "MSISDN", "+221 78 100 00 03", None],
    ]

    report, lines = check(xlsx_bytes(rows))

    assert [(line.line, line.transfer_id, line.amount, line.e164) for line in lines] == [
        (2, "a-1", 62500, "+221786936818"),
        (4, "a-2", 1500, "+221781000002"),
    ]
    assert issue_places(report) == [(5, "amount", "fractional_amount")]
    assert report.empty_lines == 1


def test_xlsx_extra_filled_cells_right_of_the_header_are_reported() -> None:
    rows: list[list[object]] = [
        ["type_id", "valeur_id", "devise", "montant"],
        ["MSISDN", "+221781000001", "XOF", 1000, None, "commentaire"],
    ]

    report, _ = check(xlsx_bytes(rows))

    assert issue_places(report) == [(2, None, "too_many_columns")]
    assert "6" in report.issues[0].message_fr


@pytest.mark.parametrize(
    ("data", "code", "kind"),
    [
        (b"", "empty_file", None),
        (b"\r\n\r\n;;;\r\n", "empty_file", None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "unsupported_file_type", ".xls"),
        (b"%PDF-1.7\n" + bytes(100), "unsupported_file_type", ".pdf"),
        (b"PK\x03\x04\x14\x00\x00\x08\x00\x00mimetypeapplication/vnd.oasis.opendocument.spreadsheet", None, ".ods"),
        (b"\x00\x01\x02binary", "unsupported_file_type", ".bin"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "unsupported_file_type", ".png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(100), "unsupported_file_type", ".jpg"),
        (b"GIF89a" + bytes(100), "unsupported_file_type", ".gif"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), "unsupported_file_type", ".heic"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(100), "unsupported_file_type", ".webp"),
        (b"PK\x03\x04 this is not a workbook", "unreadable_xlsx", None),
        (b"type_id;valeur_id;devise;montant\r\n", "no_lines", None),
    ],
)
def test_files_that_are_not_payment_lists_are_refused_as_a_whole(
    data: bytes, code: str | None, kind: str | None
) -> None:
    report, lines = check(data)

    assert lines == []
    assert not report.accepted
    assert file_codes(report) == [code or "unsupported_file_type"]
    if kind:
        assert kind in report.file_issues[0].message_fr
        assert kind in report.file_issues[0].message_en


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("names", "fr", "en"),
    [
        (["hello.txt"], "archive ZIP, .zip", "ZIP archive, .zip"),
        (["[Content_Types].xml", "word/document.xml"], "document Word, .docx", "Word document, .docx"),
    ],
)
def test_a_zip_that_is_not_a_workbook_is_named_by_what_it_is(names: list[str], fr: str, en: str) -> None:
    report, _ = check(zipped(*names))

    assert file_codes(report) == ["unsupported_file_type"]
    assert f"({fr})" in report.file_issues[0].message_fr
    assert f"({en})" in report.file_issues[0].message_en


def test_a_damaged_zip_claiming_to_be_a_workbook_is_unreadable() -> None:
    report, _ = check(zipped("xl/workbook.xml"))

    assert file_codes(report) == ["unreadable_xlsx"]


def test_wrong_header_names_missing_unknown_and_duplicate_columns_and_the_expected_headers() -> None:
    data = csv_bytes(
        [["type_id", "valeur_id", "montant", "matricule", "nom", "name"], ["MSISDN", "1", "1", "1", "a", "b"]]
    )

    report, lines = check(data)

    assert lines == []
    assert file_codes(report) == ["missing_columns", "unknown_columns", "duplicate_columns"]
    missing, unknown, duplicate = report.file_issues
    assert '"devise"' in missing.message_fr and '"devise"' in missing.message_en
    assert "type_id, valeur_id, devise, montant" in missing.message_fr
    assert "transferId, amount, currency, partyIdType, partyIdentifier" in missing.message_en
    assert '"matricule"' in unknown.message_fr
    assert '"name"' in duplicate.message_en


def test_a_list_without_header_is_refused_and_the_first_cells_are_quoted() -> None:
    data = b"MSISDN;+221781000001;XOF;1000\r\nMSISDN;+221781000002;XOF;2000\r\n"

    with pytest.raises(BulkFileError) as raised:
        open_bulk_file(io.BytesIO(data))

    (issue,) = raised.value.issues
    assert issue.code is IssueCode.UNRECOGNISED_HEADER
    assert '"MSISDN"' in issue.message_fr
    assert "En-têtes attendus" in issue.message_fr
    assert "Expected headers" in issue.message_en


def test_a_line_too_long_is_reported_and_reading_goes_on() -> None:
    long_name = "A" * 5000
    data = csv_bytes(
        [
            ["type_id", "valeur_id", "devise", "montant", "nom"],
            ["MSISDN", "+221781000001", "XOF", "1000", long_name],
            ["MSISDN", "+221781000002", "XOF", "2000", "Awa"],
        ]
    )

    report, lines = check(data, max_line_length=1000)

    assert issue_places(report) == [(2, None, "line_too_long")]
    assert "1000" in report.issues[0].message_fr
    assert [(line.line, line.amount) for line in lines] == [(3, 2000)]


def test_an_unclosed_quote_swallowing_the_rest_is_one_bad_line_not_a_crash() -> None:
    rows = "".join(f"MSISDN;+221781{i:06d};XOF;1000;Nom\r\n" for i in range(40))
    data = ("type_id;valeur_id;devise;montant;nom\r\n" + 'MSISDN;+221781000001;XOF;1000;"Awa\r\n' + rows).encode()

    report, lines = check(data, max_line_length=200)

    assert issue_places(report) == [(2, None, "line_too_long")]
    assert lines == []
