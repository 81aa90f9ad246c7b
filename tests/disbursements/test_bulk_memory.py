"""A large file is checked without holding it: memory grows by a few bytes per line, not by the file."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from cauri.disbursements.ingest.seen import SeenIndex
from cauri.disbursements.validation import validate_bulk_file
from tests.disbursements.bulk_files import options, write_large_file

MB = 1024 * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak resident size from /proc (Linux)")
def test_two_hundred_thousand_lines_validate_in_bounded_resident_memory(tmp_path: Path, project_root: Path) -> None:
    path = tmp_path / "large.csv"
    size = write_large_file(path, 200_000)

    # A fresh interpreter, so that the peak resident size is this validation's alone.
    child = subprocess.run(
        [sys.executable, "-m", "tests.disbursements.measure_memory", str(path)],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    result = json.loads(child.stdout)
    assert result["valid"] == 200_000
    assert result["clean"]
    assert size > 12 * MB
    # Two duplicate indexes (12-byte slots, at most half full), one chunk of lines, a 64 KiB read buffer and
    # the numbering plans: about 20 MB here, where holding the lines would take several hundred.
    assert result["growth"] < 50 * MB, f"resident memory grew by {result['growth'] / MB:.1f} MB"


def test_python_heap_peak_stays_small_while_validating(tmp_path: Path) -> None:
    # tracemalloc slows every allocation down tenfold: a smaller file keeps this quick.
    path = tmp_path / "medium.csv"
    write_large_file(path, 20_000)
    gc.collect()
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            validation = validate_bulk_file(source, options(chunk_size=1000))
            valid = sum(len(chunk.lines) for chunk in validation)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert valid == validation.report.valid_lines == 20_000
    # About 3.5 MB: the indexes, one chunk, the numbering plan. Keeping the 20,000 lines would add over 5 MB.
    assert peak < 6 * MB, f"peak {peak / MB:.2f} MB"


def test_duplicate_index_costs_a_few_bytes_per_key_and_finds_first_lines() -> None:
    index = SeenIndex()

    assert [index.first_line(f"tx-{i}", i + 2) for i in range(100_000)] == [None] * 100_000
    assert index.first_line("tx-41", 999) == 43
    assert index.first_line(("MSISDN", "+221770000001", 500, "XOF"), 5) is None
    assert index.first_line(("MSISDN", "+221770000001", 500, "XOF"), 9) == 5
    assert len(index) == 100_001
    assert index.nbytes <= 100_001 * 2 * 2 * 12  # at most half full, 12 bytes a slot
