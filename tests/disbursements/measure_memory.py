"""Run in a fresh interpreter by test_bulk_memory.py, so that the peak resident size is one validation's alone.

python -m tests.disbursements.measure_memory FILE   ->  {"valid": …, "clean": …, "growth": bytes}
"""

from __future__ import annotations

import json
import sys
import uuid

from cauri.disbursements.validation import ValidationOptions, validate_bulk_file


def status(key: str) -> int:
    """A size from /proc/self/status, in bytes (VmRSS: resident now; VmHWM: peak resident)."""
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))


def main(path: str) -> dict[str, object]:
    before = status("VmRSS")
    with open(path, "rb") as source:
        validation = validate_bulk_file(source, ValidationOptions(batch_id=uuid.uuid4(), default_region="SN"))
        valid = sum(len(chunk.lines) for chunk in validation)
    return {"valid": valid, "clean": validation.report.clean, "growth": status("VmHWM") - before}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
