"""Validation throughput on a generated file (standard format, French Excel style, every line valid).

.venv/bin/python -m tests.disbursements.throughput [LINES]   (default 100000)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cauri.disbursements.validation import ValidationOptions, validate_bulk_file
from tests.disbursements.bulk_files import write_large_file
from tests.disbursements.measure_memory import status


def main(lines: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bulk.csv"
        size = write_large_file(path, lines)
        before = status("VmRSS")
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open("rb") as source:
            report = validate_bulk_file(source, ValidationOptions(batch_id=uuid.uuid4(), default_region="SN")).run()
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    assert report.clean and report.valid_lines == lines, report.to_dict()
    return {
        "lines": lines,
        "file_mb": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "lines_per_second": round(lines / seconds),
        "cpu_seconds": round(cpu_seconds, 2),  # wall time suffers when other processes share the cores
        "lines_per_cpu_second": round(lines / cpu_seconds),
        "rss_growth_mb": round((status("VmHWM") - before) / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
