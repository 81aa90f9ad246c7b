"""`cauri serve --workers 2` with the embedded sandbox: one sandbox process shared by both workers.

Without it each worker would keep sandbox books of its own: the public /sandbox status would know only the payments
made through the worker that happens to answer. Real processes, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.connectors.mobile_money.sandbox.shared import SandboxForwarder, simulate_command
from cauri.core.config import Settings
from cauri.kit.simulation import SimulatorSettings
from tests.payments.support import create, fund, wait_status
from tests.support.identity import create_org_with_user
from tests.support.waiting import until

ROUNDS = 6  # of one collection and one payout each, every request on a fresh connection
SANDBOX_KEY = Settings().sandbox_api_key.get_secret_value()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def _is_sandbox_process(pid: int) -> bool:
    try:
        return b"simulate\x00sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


async def _sandbox_references(base: str) -> set[str]:
    """The references the sandbox's books hold, read through the public /sandbox of whichever worker answers."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
        response = await fresh.get("/sandbox/_sim/state", headers={"Authorization": f"Bearer {SANDBOX_KEY}"})
    assert response.status_code == 200, response.text
    return {payment["reference"] for payment in response.json()["payments"]}


@pytest.fixture
def two_worker_server(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """`cauri serve --workers 2` with the embedded sandbox (no CAURI_SANDBOX_URL), on SQLite or PostgreSQL."""
    port = _free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "CAURI_ENV": "test",
        "CAURI_DATABASE_URL": database_url,
        "CAURI_FILES_DIR": str(tmp_path / "files"),
        "CAURI_LOG_LEVEL": "WARNING",
    }
    for name in ("CAURI_SANDBOX_URL", "CAURI_SANDBOX_SHARED_URL", "CAURI_BROKER_URL", "CAURI_REDIS_URL"):
        environment.pop(name, None)
    command = [sys.executable, "-m", "cauri.cli", "serve", "--port", str(port), "--workers", "2"]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=environment, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield server, f"http://127.0.0.1:{port}", log_path
        finally:
            server.terminate()
            server.wait(timeout=60)


def _sandbox_children(server: subprocess.Popen[bytes]) -> list[int]:
    """The sandbox processes ``cauri serve`` started (exactly one, where the kernel lists a process's children)."""
    pids = [pid for pid in _children(server.pid) if _is_sandbox_process(pid)]
    if Path(f"/proc/{server.pid}/task/{server.pid}/children").exists():
        assert len(pids) == 1, "one sandbox process, a child of cauri serve"
    return pids


def _still_running(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists() and _is_sandbox_process(pid)]


async def _integrator_pays_through_the_public_address(base: str) -> None:
    """A payout POSTed to the public /sandbox (one worker) is found by every worker's /sandbox."""
    headers = {"Authorization": f"Bearer {SANDBOX_KEY}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"reference": uuid.uuid4().hex, "msisdn": "237670000100", "amount": "1500", "currency": "XAF"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
        response = await fresh.post("/sandbox/v1/payouts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    for _ in range(2 * ROUNDS):
        async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
            found = await fresh.get(f"/sandbox/v1/payouts/by-reference/{body['reference']}", headers=headers)
        assert found.status_code == 200, found.text
        assert found.json()["id"] == response.json()["id"]


@pytest.mark.slow
@pytest.mark.postgres_only  # the workers share the sandbox process; the database is beside the point
async def test_every_worker_pays_through_the_one_shared_sandbox(
    two_worker_server: tuple[subprocess.Popen[bytes], str, Path], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    server, base, log_path = two_worker_server
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def up() -> bool:
            try:
                return (await http.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await until(up, f"cauri serve answers ({log_path})", within=180)
        banner = log_path.read_text(errors="replace")
        found = re.search(r"one sandbox process for the 2 API processes, at (http://[\d.:]+)", banner)
        assert found, banner
        assert "keeps its payments in each process's memory" not in banner
        sandbox_pids = _sandbox_children(server)

        owner = await create_org_with_user(http)
        await fund(sessionmaker, owner.organization_id, 100_000)
        created = []
        for _ in range(ROUNDS):
            for kind in ("collection", "payout"):
                async with httpx.AsyncClient(base_url=base, timeout=10) as fresh:
                    created.append((kind, (await create(fresh, owner, kind))["id"]))

        references = set()
        for kind, payment_id in created:
            done = await wait_status(http, owner, kind, payment_id, within=60)
            assert done["status"] == "succeeded", done
            references.add(done["outbound_reference"])
        # Each worker answers some of these reads (fresh connections): each must see every payment.
        for _ in range(2 * ROUNDS):
            assert references <= await _sandbox_references(base)
        await _integrator_pays_through_the_public_address(base)

    server.terminate()
    await asyncio.to_thread(server.wait, 60)
    assert not _answers(found.group(1)), "the sandbox process outlived cauri serve"
    assert not _still_running(sandbox_pids), "the sandbox process outlived cauri serve"


def test_the_shared_sandbox_runs_with_the_embedded_timings() -> None:
    timings = SimulatorSettings()
    command = simulate_command(8123, timings)
    assert command[command.index("--port") + 1] == "8123"
    assert command[command.index("--settle") + 1] == str(timings.settle_seconds)
    assert command[command.index("--expiry") + 1] == str(timings.expiry_seconds)


async def test_the_forwarder_answers_in_the_sandbox_format_when_the_process_is_gone() -> None:
    forwarder = SandboxForwarder(f"http://127.0.0.1:{_free_port()}")
    transport = httpx.ASGITransport(app=forwarder)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/v1/balance/XAF")
    finally:
        await forwarder.aclose()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "SANDBOX_UNAVAILABLE"
