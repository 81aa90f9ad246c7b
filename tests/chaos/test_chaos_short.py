"""CI's short pass of the chaos run (``bench/chaos.py``, ``make chaos`` for the full one): two API processes, two
workers and a scheduler on PostgreSQL and Redis, a mixed load through a front proxy, at least 20 of those processes
killed with SIGKILL and restarted, then the books checked against the sandbox simulator's own.

One slow end-to-end proof: the run itself asserts every property (nothing mismatched, paid twice or lost, a zero
trial balance, everything finished) and prints them as one JSON line, read here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_url

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(480)  # 36 s of load, up to 150 s to settle, starts and checks
def test_a_short_chaos_pass_loses_nothing_and_pays_nothing_twice(tmp_path: Path) -> None:
    arguments = [
        sys.executable,
        str(REPO / "bench" / "chaos.py"),
        *("--duration", "36", "--kill-every", "1.3", "--min-kills", "20", "--clients", "2", "--pace", "0.5"),
        *("--settle-within", "150", "--seed", "7", "--directory", str(tmp_path)),
        *("--postgres-url", service_url("postgres"), "--redis-url", service_url("redis")),
    ]
    run = subprocess.run(arguments, capture_output=True, text=True, timeout=420, check=False)
    lines = run.stdout.strip().splitlines()
    assert lines, f"no summary; stderr:\n{run.stderr[-4000:]}"
    summary = json.loads(lines[-1])
    print(json.dumps(summary))
    assert summary["kills"] >= 20, summary
    assert summary["payments"] > 0, summary
    assert (summary["mismatches"], summary["double_payments"], summary["lost_events"]) == (0, 0, 0), summary
    assert summary["trial_balance"] == 0, summary
    assert not any(summary["unfinished"].values()), summary
    assert run.returncode == 0, run.stderr[-4000:]
