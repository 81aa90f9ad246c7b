"""A large file is read and checked by a child process: exactly the same lines, issues and report as in-process."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from cauri.disbursements.validation import ValidationOptions, ValidLine, collect, validate_bulk_file
from tests.disbursements.bulk_files import csv_bytes, sample, xlsx_bytes


def messy_file(lines: int) -> bytes:
    rows: list[list[str]] = [["transferId", "amount", "currency", "partyIdType", "partyIdentifier", "nom"]]
    for index in range(lines):
        rows.append(
            [f"tx-{index}", f"{1000 + index % 7} ", "XOF", "MSISDN", f"+221 77 {index:07d}", f"Bénéficiaire {index}"]
        )
    rows[10][1] = "dix mille"  # invalid amount
    rows[20][0] = rows[5][0]  # duplicate transfer id
    rows[30][4] = "12"  # invalid phone
    rows[40][1:5] = rows[41][1:5]  # same payee and amount: a warning
    return csv_bytes(rows, delimiter=";", encoding="cp1252", newline="\r\n")


async def checked_in_child(data: bytes, tmp_path: Path, **options: object) -> tuple[dict[str, object], list[ValidLine]]:
    path = tmp_path / "list.bin"
    path.write_bytes(data)
    known_calls: list[int] = []

    def known(ids: object) -> set[str]:
        known_calls.append(len(ids))  # type: ignore[arg-type]
        return {"tx-3"}

    settings = ValidationOptions(batch_id=uuid.UUID(int=7), default_region="SN", chunk_size=500, **options)  # type: ignore[arg-type]
    with path.open("rb") as source:
        validation = validate_bulk_file(source, settings, known_transfer_ids=known)
        lines = [line async for chunk in validation.stream(process_path=str(path)) for line in chunk.lines]
    assert validation.report.complete
    report = validation.report.to_dict()
    report["known_calls"] = len(known_calls)
    return report, lines


def in_process(data: bytes, **options: object) -> tuple[dict[str, object], list[ValidLine]]:
    settings = ValidationOptions(batch_id=uuid.UUID(int=7), default_region="SN", chunk_size=500, **options)  # type: ignore[arg-type]
    report, lines = collect(io.BytesIO(data), settings, known_transfer_ids=lambda ids: {"tx-3"})
    return report.to_dict(), lines


async def test_a_checking_process_finds_exactly_what_the_thread_finds(tmp_path: Path) -> None:
    data = messy_file(3000)
    report, lines = await checked_in_child(data, tmp_path)
    expected_report, expected_lines = in_process(data)
    assert lines == expected_lines
    assert report.pop("known_calls") == 6  # one question per chunk of 500 lines
    assert report == expected_report
    assert report["encoding"] == "windows-1252"
    assert {issue["code"] for issue in report["issues"]} == {  # type: ignore[union-attr]
        "invalid_amount",
        "duplicate_transfer_id",
        "invalid_phone",
        "duplicate_payee_amount",
        "transfer_id_already_used",
    }


@pytest.mark.parametrize(
    "data",
    [
        b"nom;prenom\r\nDiallo;Awa\r\n",  # not a payment list
        b"",  # empty
        xlsx_bytes([["type_id", "valeur_id", "devise", "montant"], ["MSISDN", "+221 77 000 01 00", "XOF", 5000]]),
        sample("bulk_excel_fr.csv"),
    ],
    ids=["unrecognised", "empty", "xlsx", "excel_fr"],
)
async def test_file_level_refusals_and_workbooks_come_back_from_the_child(data: bytes, tmp_path: Path) -> None:
    report, lines = await checked_in_child(data, tmp_path)
    report.pop("known_calls")
    expected_report, expected_lines = in_process(data)
    assert (report, lines) == (expected_report, expected_lines)
