"""Building bulk payment files the way users' tools write them, and checking them."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from cauri.disbursements.validation import ValidationOptions, ValidationReport, ValidLine, collect

DATA = Path(__file__).resolve().parents[2] / "examples"  # the sample files shipped for newcomers
BATCH_ID = uuid.UUID("3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b")


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def sample_rows(name: str, delimiter: str) -> list[list[str]]:
    """A sample file's rows (header first), read with the standard library as a reference."""
    text = sample(name).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def csv_bytes(
    rows: list[list[str]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
    newline: str = "\r\n",
) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows: list[list[Any]], *, title: str = "Paiements") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def options(**overrides: Any) -> ValidationOptions:
    values: dict[str, Any] = {"batch_id": BATCH_ID, "default_region": "SN"}
    values.update(overrides)
    return ValidationOptions(**values)


def check(data: bytes, **overrides: Any) -> tuple[ValidationReport, list[ValidLine]]:
    return collect(io.BytesIO(data), options(**overrides))


def issue_places(report: ValidationReport) -> list[tuple[int | None, str | None, str]]:
    return [(issue.line, issue.column, issue.code.value) for issue in report.issues]


def file_codes(report: ValidationReport) -> list[str]:
    return [issue.code.value for issue in report.file_issues]


def write_large_file(path: Path, lines: int) -> int:
    """A standard-format file of ``lines`` distinct valid payments, as French Excel writes it; returns its size."""
    amounts = ("62 500", "15 000", "125 000")
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("transferId;amount;currency;partyIdType;partyIdentifier;nom\r\n")
        for start in range(0, lines, 10_000):
            out.write(
                "".join(
                    f"tx-{i:07d};{amounts[i % 3]};XOF;MSISDN;"
                    f"+221 77 {i // 10_000:03d} {i // 100 % 100:02d} {i % 100:02d};Bénéficiaire n° {i}\r\n"
                    for i in range(start, min(start + 10_000, lines))
                )
            )
    return path.stat().st_size
