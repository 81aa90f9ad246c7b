"""Browser tests: the real application started with ``cauri serve`` on a free 127.0.0.1 port (SQLite and, when
``CAURI_TEST_POSTGRES_URL`` is set, PostgreSQL), the sandbox provider's simulator started with
``cauri simulate sandbox``, the demo seeded with ``cauri.demo.seed_demo``, and Debian's Chromium driven by
Playwright (``executable_path``, never ``playwright install``) with a fresh profile and a phone-sized window.

Screenshots go to ``$CAURI_E2E_SCREENSHOTS`` when set, else to a temporary directory (printed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import BrowserContext, async_playwright, expect

from cauri.core.config import Settings
from cauri.demo import seed_demo
from cauri.kit.testing import free_port
from tests.conftest import create_postgres_database, drop_postgres_database, migrate, service_url

CHROMIUM = Path("/usr/bin/chromium")
# Assertions wait on their condition up to 15 s instead of Playwright's 5: on CI's two loaded cores a login (an
# argon2 hash) or a page whose answer waits on a job takes longer, and a condition met at once costs nothing.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
STARTUP_SECONDS = 60


def chromium_path() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
    if os.environ.get("CAURI_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class ConsoleServer:
    base_url: str
    backend: str
    log: Path
    database_url: str = ""


def _start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


async def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{url} exited with {process.returncode}:\n{_tail(log)}")
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {STARTUP_SECONDS} s:\n{_tail(log)}")
            await asyncio.sleep(0.2)


# One server per backend and test process, shared by every browser test: each start is a migration, the demo's seed
# and two process starts (~25 s). The tests share the demo's organisations, so none may count on another's absence
# (the notifications test logs in as a manager of its own).
@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def console_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleServer]:
    chromium_path()
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"e2e-{backend}")
    admin_url = None
    if backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{directory / 'cauri.db'}"
    else:
        admin_url = service_url("postgres")
        database_url = await create_postgres_database(admin_url)
    app_port, sandbox_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{app_port}"
    env = {
        **os.environ,
        "CAURI_ENV": "development",
        "CAURI_DATABASE_URL": database_url,
        "CAURI_FILES_DIR": str(directory / "files"),
        "CAURI_PUBLIC_BASE_URL": base_url,
        "CAURI_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "CAURI_LOG_LEVEL": "WARNING",
        "CAURI_BULK_STREAM_INTERVAL_SECONDS": "0.5",
        "CAURI_BULK_POLL_INITIAL_SECONDS": "0.1",
        "CAURI_BULK_POLL_MAX_SECONDS": "1",
        "CAURI_JOB_SWEEP_SECONDS": "1",
        "CAURI_NOTIFICATION_STREAM_POLL_SECONDS": "1",
    }
    log = directory / "server.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await migrate(database_url)
        # The demo's files (listings' photos, receipts) go where the server reads them.
        await seed_demo(Settings(database_url=database_url, files_dir=directory / "files"))
        cli = [sys.executable, "-m", "cauri.cli"]
        # The payer "confirms" each payment after 1 s: long enough to watch the bar move, short enough for CI.
        simulator = [*cli, "simulate", "sandbox", "--port", str(sandbox_port), "--settle", "1"]
        processes.append(_start(simulator, env, directory, log))
        processes.append(_start([*cli, "serve", "--host", "127.0.0.1", "--port", str(app_port)], env, directory, log))
        await _wait_until_up(f"http://127.0.0.1:{sandbox_port}/v1/balance/XOF", processes[0], log)
        await _wait_until_up(f"{base_url}/health", processes[1], log)
        yield ConsoleServer(base_url=base_url, backend=backend, log=log, database_url=database_url)
    finally:
        for process in reversed(processes):
            await asyncio.to_thread(_stop, process)
        if admin_url is not None:
            await drop_postgres_database(admin_url, database_url)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    chosen = os.environ.get("CAURI_E2E_SCREENSHOTS")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    yield directory
    print(f"\nconsole screenshots: {directory}")


@pytest.fixture
async def phone(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Chromium with a fresh profile, a 360×740 window, French first."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="fr-FR",
            accept_downloads=True,
        )
        try:
            yield context
        finally:
            await context.close()
