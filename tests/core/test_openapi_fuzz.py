"""schemathesis over the whole OpenAPI description, as a logged-in owner: no 5xx, no undocumented answer.

schemathesis's own ASGI transport runs the app on an event loop of its own, which cannot share the
session-wide database engine of the ``app`` fixture; so the app under test is a second instance on the same
database, served by uvicorn in a thread on a free loopback port, and schemathesis calls it over HTTP.
Outbound webhooks cannot reach anyone: the settings forbid every outbound target (``outbound_targets="none"``),
and payments go to the sandbox embedded in the served app itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.core.openapi import API_KEY_HEADER
from cauri.kit.testing import free_port, serve_app_in_thread
from tests.conftest import make_settings
from tests.support.identity import create_api_key, create_org_with_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# Ending the session would turn every later call into a 401: these run last.
RUN_LAST = ("/auth/logout", "/auth/password/change")
# The run is split in shards, each its own test on its own server, so that CI's parallel workers share it instead of
# one worker spending minutes on it at the end of the suite.
SHARDS = 3


@dataclass
class Caller:
    """Who sends the generated requests, and the credential header schemathesis must not fill with noise."""

    name: str
    headers: dict[str, str]
    foreign_credential: str  # the other security scheme's header: sending both is a 401 by design
    examples: int
    min_successes: int  # 2xx answers expected at least: proof the credential worked all along
    statuses: Counter[int] = field(default_factory=Counter)


def fuzz_operation(operation: Any, base_url: str, caller: Caller) -> list[str]:
    """``caller.examples`` generated calls; the failures schemathesis reports, as text."""
    failures: list[str] = []
    # Valid input reaches the services; invalid input (wrong types, missing fields) tests the refusals.
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=caller.examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if case.headers:
            case.headers.pop(caller.foreign_credential, None)
        response = case.call(base_url=base_url, headers=caller.headers, timeout=30)
        caller.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=caller.headers)
        except (AssertionError, BaseExceptionGroup) as failure:  # collected: one run reports every failure
            failures.append(f"{caller.name} {operation.label}: {str(failure)[:600]}")

    run()
    return failures


def fuzz_all(schema: dict[str, Any], base_url: str, callers: list[Caller], shard: int) -> tuple[int, list[str]]:
    """Every SHARDS-th operation from ``shard`` on (so that CI's workers share the run), each caller in turn."""
    loaded = schemathesis.openapi.from_dict(schema)
    operations = [result.ok() for result in loaded.get_all_operations()]
    operations.sort(key=lambda op: (op.path.endswith(RUN_LAST), op.path, op.method))
    operations = operations[shard::SHARDS]
    failures: list[str] = []
    for caller in callers:  # the API key first: the token's session may end with the last operations
        for operation in operations:
            failures += fuzz_operation(operation, base_url, caller)
    return len(operations), failures


@pytest.mark.slow
# PostgreSQL only: the generated input reaches the services the same way on both databases, and PostgreSQL is the
# stricter of the two (integer ranges, NUL bytes, string lengths), where a database error would surface as a 500.
# The malformed-request stream (test_malformed_requests.py) still runs on both.
@pytest.mark.postgres_only
@pytest.mark.timeout(600)  # a third of every module's operations, on a two-core machine shared with the rest of CI
@pytest.mark.parametrize("shard", range(SHARDS))
async def test_schemathesis_finds_no_server_error_nor_undocumented_answer(
    settings: Settings, client: httpx.AsyncClient, tmp_path: Path, shard: int
) -> None:
    # The caller's organisation is made first (same database, through the session's app), so that the seeds'
    # surfaces can answer for it: an unconfigured surface is a deliberate 503 on every route.
    owner = await create_org_with_user(client, role="owner")
    key = await create_api_key(client, owner, role="admin")
    operator = str(owner.organization_id)
    # The port is chosen first so that the public address (and the embedded sandbox payments are sent to) is this
    # server's own, not :8000, where something else may listen on a shared machine.
    port = free_port()
    fuzzed_settings = make_settings(
        settings.database_url,
        tmp_path,
        outbound_targets="none",
        listen_port=port,
        notification_stream_max_seconds=0.5,  # the in-app stream ends (a browser reconnects): no call hangs
        gateway_organization=operator,
        kobiri_organization=operator,
        lokahome_organization=operator,
    )
    fuzzed_app = create_app(fuzzed_settings)
    with serve_app_in_thread(fuzzed_app, port=port) as base_url:
        assert base_url == fuzzed_settings.public_base_url
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            schema = (await http.get("/openapi.json")).json()
        callers = [
            # Bounded for CI (about 300 operations, both databases): a few examples each, every operation reached.
            Caller("api key", key.headers, foreign_credential="Authorization", examples=2, min_successes=25 // SHARDS),
            Caller("owner", owner.headers, foreign_credential=API_KEY_HEADER, examples=6, min_successes=150 // SHARDS),
        ]
        started = time.monotonic()
        count, failures = await asyncio.to_thread(fuzz_all, schema, base_url, callers, shard)
        elapsed = time.monotonic() - started
    operations = len([op for item in schema["paths"].values() for op in item])
    assert count == len(range(shard, operations, SHARDS)), "every operation is fuzzed, in one shard"
    assert failures == [], "\n\n".join(failures)
    for caller in callers:
        # Generated input is mostly refused (422, 404), but each caller must get through to real answers.
        successes = sum(n for status, n in caller.statuses.items() if status < 300)
        assert successes >= caller.min_successes, (caller.name, caller.statuses)
    print(f"schemathesis shard {shard}: {count} operations in {elapsed:.0f} s")  # its cost in CI, read in --durations
