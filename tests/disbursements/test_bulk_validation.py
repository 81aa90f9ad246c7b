"""Line checks: every kind of bad line with its line and column, duplicates, earlier batches, bounded reports."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from cauri.disbursements.ingest.messages import MESSAGES, IssueCode, Severity
from cauri.disbursements.validation import ValidatedChunk, validate_bulk_file
from tests.disbursements.bulk_files import check, csv_bytes, file_codes, issue_places, options, sample

STANDARD = ["transferId", "amount", "currency", "partyIdType", "partyIdentifier", "nom"]


def standard_file(*lines: list[str]) -> bytes:
    return csv_bytes([STANDARD, *lines])


def test_every_kind_of_bad_line_is_reported_with_its_line_and_column() -> None:
    data = standard_file(
        ["t-02", "10 000", "XOF", "MSISDN", "+221 78 100 00 02", "Awa"],
        ["", "10 000", "XOF", "MSISDN", "+221 78 100 00 03", ""],
        ["t 04!", "10 000", "XOF", "MSISDN", "+221 78 100 00 04", ""],
        ["t-02", "10 000", "XOF", "MSISDN", "+221 78 100 00 05", ""],
        ["t-06", "dix mille", "XOF", "MSISDN", "+221 78 100 00 06", ""],
        ["t-07", "-500", "XOF", "MSISDN", "+221 78 100 00 07", ""],
        ["t-08", "0", "XOF", "MSISDN", "+221 78 100 00 08", ""],
        ["t-09", "100,50", "XOF", "MSISDN", "+221 78 100 00 09", ""],
        ["t-10", "2 000 001", "XOF", "MSISDN", "+221 78 100 00 10", ""],
        ["t-11", "10 000", "ABC", "MSISDN", "+221 78 100 00 11", ""],
        ["t-12", "10 000", "EUR", "MSISDN", "+221 78 100 00 12", ""],
        ["t-13", "10 000", "XAF", "MSISDN", "+221 78 100 00 13", ""],
        ["t-14", "10 000", "XOF", "PHONE", "+221 78 100 00 14", ""],
        ["t-15", "10 000", "XOF", "EMAIL", "awa@example.org", ""],
        ["t-16", "10 000", "XOF", "MSISDN", "12 34", ""],
        ["t-17", "10 000", "XOF"],
        ["t-18", "10 000", "XOF", "MSISDN", "+221 78 100 00 18", "Awa", "", "en trop"],
        [],
        ["t-20", "", "XOF", "MSISDN", "+221 78 100 00 20", ""],
        ["t-21", "10,5", "XOF", "MSISDN", "77", "x" * 141],
        ["t-22", "10 000", "", "", "", ""],
        ["t-23", "10 000", "XOF", "MSISDN", "+221 78 100 00 23", "Diallo\x07"],
    )

    report, lines = check(
        data, accepted_currencies=frozenset({"XOF", "XAF"}), max_amounts={"XOF": 2_000_000}, default_region="SN"
    )

    assert issue_places(report) == [
        (3, "transferId", "missing_value"),
        (4, "transferId", "invalid_transfer_id"),
        (5, "transferId", "duplicate_transfer_id"),
        (6, "amount", "invalid_amount"),
        (7, "amount", "amount_not_positive"),
        (8, "amount", "amount_not_positive"),
        (9, "amount", "fractional_amount"),
        (10, "amount", "amount_too_large"),
        (11, "currency", "unknown_currency"),
        (12, "currency", "unsupported_currency"),
        (13, "currency", "currency_mismatch"),
        (14, "partyIdType", "unknown_party_id_type"),
        (15, "partyIdType", "unsupported_party_id_type"),
        (16, "partyIdentifier", "invalid_phone"),
        (17, None, "too_few_columns"),
        (18, None, "too_many_columns"),
        (20, "amount", "missing_value"),
        (21, "amount", "fractional_amount"),
        (21, "partyIdentifier", "invalid_phone"),
        (21, "nom", "invalid_payee_name"),
        (22, "currency", "missing_value"),
        (22, "partyIdType", "missing_value"),
        (22, "partyIdentifier", "missing_value"),
        (23, "nom", "invalid_payee_name"),
    ]
    assert [line.line for line in lines] == [2]
    assert (report.lines, report.valid_lines, report.invalid_lines, report.empty_lines) == (21, 1, 20, 1)
    assert report.accepted and not report.clean
    by_line = {issue.line: issue for issue in report.issues}
    assert by_line[5].message_fr == "L'identifiant de transfert « t-02 » figure déjà à la ligne 2."
    assert by_line[5].message_en == 'Transfer id "t-02" already appears on line 2.'
    assert by_line[9].message_fr == "Le montant « 100,50 » a trop de décimales pour XOF (0 au plus)."
    assert "2\u202f000\u202f000" in by_line[10].message_fr or "2 000 000" in by_line[10].message_fr
    assert "2,000,000" in by_line[10].message_en
    assert by_line[12].message_en == "Currency EUR is not accepted here (accepted: XAF, XOF)."
    assert by_line[13].message_fr.startswith("La devise XAF diffère de celle du lot (XOF)")
    assert "MSISDN" in by_line[15].message_en
    assert by_line[16].value == "12 34"
    assert by_line[17].message_en == "The line has 3 column(s); 5 are expected."
    assert by_line[18].message_en == "The line has 8 filled columns; at most 6 are expected."
    assert report.counts_by_code["missing_value"] == 5


def test_describe_places_the_message_in_each_language() -> None:
    report, _ = check(standard_file(["t-1", "abc", "XOF", "MSISDN", "+221781000001", ""]))

    (issue,) = report.issues
    assert issue.describe("fr") == "Ligne 2, colonne « amount » : Montant invalide : « abc »."
    assert issue.describe("en") == 'Line 2, column "amount": Invalid amount: "abc".'
    assert issue.message("en") == 'Invalid amount: "abc".'


def test_every_code_has_a_french_and_an_english_message() -> None:
    assert set(MESSAGES) == set(IssueCode)
    for code, (severity, french, english) in MESSAGES.items():
        assert french and english and french != english, code
        assert (severity is Severity.WARNING) == (code is IssueCode.DUPLICATE_PAYEE_AMOUNT)


def test_batch_currency_given_by_the_caller_is_enforced_from_the_first_line() -> None:
    report, lines = check(sample("bulk_excel_fr.csv"), currency="XAF")

    assert lines == []
    assert report.counts_by_code == {"currency_mismatch": 12}
    assert report.currency == "XAF"


def test_other_party_id_types_are_accepted_when_the_provider_supports_them() -> None:
    data = standard_file(
        ["t-1", "1000", "XOF", "email", " Awa.Traore@Example.ORG ", ""],
        ["t-2", "1000", "XOF", "ACCOUNT_ID", "ACC-778899", ""],
        ["t-3", "1000", "XOF", "IBAN", "FR76 3000 6000 0112 3456 7890 189", ""],
        ["t-4", "1000", "XOF", "IBAN", "FR76 3000 6000 0112 3456 7890 188", ""],
        ["t-5", "1000", "XOF", "EMAIL", "not-an-email", ""],
        ["t-6", "1000", "XOF", "MSISDN", "+221781000006", ""],
    )

    report, lines = check(data, supported_party_id_types=frozenset({"EMAIL", "ACCOUNT_ID", "IBAN"}))

    assert [(line.party_id_type, line.party_identifier, line.e164) for line in lines] == [
        ("EMAIL", "awa.traore@example.org", None),
        ("ACCOUNT_ID", "ACC-778899", None),
        ("IBAN", "FR7630006000011234567890189", None),
    ]
    assert issue_places(report) == [
        (5, "partyIdentifier", "invalid_party_identifier"),
        (6, "partyIdentifier", "invalid_party_identifier"),
        (7, "partyIdType", "unsupported_party_id_type"),
    ]
    assert "EMAIL" in report.issues[1].message_fr


def test_national_numbers_use_the_organisations_region() -> None:
    data = csv_bytes(
        [
            ["type_id", "valeur_id", "devise", "montant"],
            ["MSISDN", "6 77 12 34 56", "XAF", "5 000"],
            ["MSISDN", "00237 677 12 34 57", "XAF", "5 000"],
            ["MSISDN", "237677123458", "XAF", "5 000"],
            ["MSISDN", "(+237) 677-12-34-59", "XAF", "5 000"],
        ]
    )

    report, lines = check(data, default_region="CM")

    assert report.clean
    assert [line.e164 for line in lines] == ["+237677123456", "+237677123457", "+237677123458", "+237677123459"]


def test_same_payee_and_amount_twice_is_flagged_for_review_not_refused() -> None:
    data = standard_file(
        ["t-1", "62 500", "XOF", "MSISDN", "+221 78 100 00 01", "Awa"],
        ["t-2", "15 000", "XOF", "MSISDN", "+221 78 100 00 01", "Awa"],
        ["t-3", "62 500", "XOF", "MSISDN", "221781000001", "Awa T."],
        ["t-4", "62 500", "XOF", "MSISDN", "+221 78 100 00 02", "Awa"],
        ["t-5", "62500", "XOF", "MSISDN", "78 100 00 01", ""],
    )

    report, lines = check(data)

    assert [(line.line, line.review) for line in lines] == [
        (2, ()),
        (3, ()),
        (4, (IssueCode.DUPLICATE_PAYEE_AMOUNT,)),
        (5, ()),
        (6, (IssueCode.DUPLICATE_PAYEE_AMOUNT,)),
    ]
    assert issue_places(report) == [
        (4, "partyIdentifier", "duplicate_payee_amount"),
        (6, "partyIdentifier", "duplicate_payee_amount"),
    ]
    assert all(issue.severity is Severity.WARNING for issue in report.issues)
    assert report.issues[0].message_fr.startswith("Même bénéficiaire et même montant qu'à la ligne 2")
    assert (report.valid_lines, report.invalid_lines, report.warning_lines) == (5, 0, 2)
    assert report.clean
    assert report.totals == {"XOF": 62500 * 4 + 15000}


def test_transfer_ids_already_used_in_earlier_batches_are_rejected_through_the_hook() -> None:
    earlier = {"t-0003", "t-0250", "never-in-this-file"}
    calls: list[list[str]] = []

    def known(ids: Sequence[str]) -> set[str]:
        calls.append(list(ids))
        return earlier & set(ids)

    rows = [
        [f"t-{i:04d}", "1000", "XOF", "MSISDN", f"+221 78 100 {i // 100:02d} {i % 100:02d}", ""] for i in range(300)
    ]
    validation = validate_bulk_file(io.BytesIO(standard_file(*rows)), options(chunk_size=100), known_transfer_ids=known)

    chunks = list(validation)
    report = validation.report

    assert [len(call) for call in calls] == [100, 100, 100]
    assert [(chunk.first_line, chunk.last_line) for chunk in chunks] == [(2, 101), (102, 201), (202, 301)]
    assert issue_places(report) == [
        (5, "transferId", "transfer_id_already_used"),
        (252, "transferId", "transfer_id_already_used"),
    ]
    assert report.issues[0].message_en == 'Transfer id "t-0003" was already used in an earlier batch.'
    assert (report.valid_lines, report.invalid_lines) == (298, 2)
    assert report.totals == {"XOF": 298_000}


def test_the_hook_is_not_asked_about_generated_ids() -> None:
    def known(ids: Sequence[str]) -> set[str]:
        raise AssertionError("generated ids are new by construction")

    validation = validate_bulk_file(io.BytesIO(sample("bulk_excel_fr.csv")), options(), known_transfer_ids=known)

    assert validation.run().valid_lines == 12


@pytest.mark.parametrize("offload", [True, False])
async def test_stream_awaits_an_async_hook_and_gives_the_same_chunks(offload: bool) -> None:
    async def known(ids: Sequence[str]) -> list[str]:
        await asyncio.sleep(0)
        return [i for i in ids if i.endswith("7")]

    rows = [[f"t-{i:03d}", "1000", "XOF", "MSISDN", f"+221 78 100 00 {i:02d}", ""] for i in range(30)]
    validation = validate_bulk_file(io.BytesIO(standard_file(*rows)), options(chunk_size=8), known_transfer_ids=known)

    chunks: list[ValidatedChunk] = [chunk async for chunk in validation.stream(offload=offload)]

    assert sum(len(chunk.lines) for chunk in chunks) == 27
    assert [issue.line for chunk in chunks for issue in chunk.issues] == [9, 19, 29]
    assert validation.report.complete and validation.report.invalid_lines == 3


def test_iterating_with_an_async_hook_is_a_programming_error() -> None:
    async def known(ids: Sequence[str]) -> list[str]:
        return []

    data = standard_file(["t-1", "1000", "XOF", "MSISDN", "+221781000001", ""])
    validation = validate_bulk_file(io.BytesIO(data), options(), known_transfer_ids=known)

    with pytest.raises(TypeError, match="stream"):
        list(validation)


def test_a_validation_runs_once() -> None:
    validation = validate_bulk_file(io.BytesIO(sample("bulk_excel_fr.csv")), options())
    validation.run()

    with pytest.raises(RuntimeError):
        validation.run()


def test_a_file_of_bad_lines_keeps_the_first_issues_and_counts_the_rest() -> None:
    rows = [[f"t-{i}", "n/a", "XOF", "MSISDN", "0", ""] for i in range(3000)]

    report, lines = check(standard_file(*rows), max_detailed_issues=50, chunk_size=500)

    assert lines == []
    assert len(report.issues) == 50
    assert report.issues_omitted == 6000 - 50
    assert report.counts_by_code == {"invalid_amount": 3000, "invalid_phone": 3000}
    assert [issue.line for issue in report.issues[:4]] == [2, 2, 3, 3]


def test_chunks_carry_all_their_issues_in_line_order() -> None:
    rows = [[f"t-{i}", "1000" if i % 3 else "x", "XOF", "MSISDN", f"+22178100{i:04d}", ""] for i in range(50)]
    validation = validate_bulk_file(io.BytesIO(standard_file(*rows)), options(chunk_size=10, max_detailed_issues=3))

    chunks = list(validation)

    issues = [issue for chunk in chunks for issue in chunk.issues]
    assert len(issues) == 17 == validation.report.counts_by_code["invalid_amount"]
    assert [issue.line for issue in issues] == sorted(issue.line or 0 for issue in issues)
    assert len(validation.report.issues) == 3
    assert sum(len(chunk.lines) for chunk in chunks) == 33


def test_too_many_lines_refuses_the_file() -> None:
    rows = [[f"t-{i}", "1000", "XOF", "MSISDN", f"+22178100{i:04d}", ""] for i in range(10)]

    report, _ = check(standard_file(*rows), max_lines=5)

    assert file_codes(report) == ["too_many_lines"]
    assert report.lines == 5
    assert not report.accepted
    assert "5" in report.file_issues[0].message_fr


def test_report_is_json_ready() -> None:
    report, _ = check(standard_file(["t-1", "x", "XOF", "MSISDN", "+221781000001", "Awa"]))

    stored = json.loads(json.dumps(report.to_dict()))

    assert stored["lines"] == 1
    assert stored["invalid_lines"] == 1
    assert stored["file_format"] == "standard"
    assert stored["counts_by_code"] == {"invalid_amount": 1}
    assert stored["issues"][0]["line"] == 2
    assert stored["issues"][0]["message_en"] == 'Invalid amount: "x".'
    assert stored["accepted"] is True


def test_the_documentation_lists_every_code(project_root: Path) -> None:
    documentation = (project_root / "docs" / "bulk-files.md").read_text(encoding="utf-8")

    missing = [code.value for code in IssueCode if f"| `{code.value}` |" not in documentation]
    assert missing == []
