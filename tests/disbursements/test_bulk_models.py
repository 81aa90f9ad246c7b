"""The batch and line tables hold what validation streams out, on SQLite and PostgreSQL.

This test stores a file in a fresh interpreter (``store_batch.py``) on tables created from the models alone,
without the rest of the application, so it shows the tables work as the validator's plain output store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database, service_url
from tests.disbursements.bulk_files import DATA


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}"
        return
    admin_url = service_url("postgres")
    url = await create_postgres_database(admin_url)
    try:
        yield url
    finally:
        await drop_postgres_database(admin_url, url)


def test_validated_lines_are_stored_in_chunks_and_the_batch_keeps_the_report(
    database_url: str, project_root: Path
) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.disbursements.store_batch", database_url, str(DATA / "bulk_excel_fr.csv")],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr

    result = json.loads(child.stdout)
    assert result["inserts"] == 3  # chunks of 5 lines: 2-5, 6-10, 11-13
    assert (result["state"], result["currency"], result["file_format"]) == ("DRAFT", "XOF", "payment_list")
    assert result["total_amount"] == result["sum"] == 810_000
    assert result["valid_lines"] == result["report_lines"] == 12
    assert [line[0] for line in result["lines"]] == list(range(2, 14))
    assert result["lines"][1] == [3, 62500, "+221788139518", "Kouassi Aké", "PENDING", None]
    assert result["same_transfer_ids"]
    assert result["duplicate_transfer_id"] == "refused"
    assert result["lines_after_delete"] == 0
