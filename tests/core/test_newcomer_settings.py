"""What a newcomer trips on first: the port they chose, the database URL their host gave them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from cauri.core.config import Settings
from cauri.kit.testing import free_port


def test_the_public_address_follows_host_and_port_unless_set() -> None:
    assert Settings().public_base_url == "http://127.0.0.1:8000"
    moved = Settings(listen_port=8100)
    assert moved.public_base_url == "http://127.0.0.1:8100"
    assert moved.sandbox_base_url == "http://127.0.0.1:8100/sandbox", "payouts reach the sandbox this process serves"
    assert Settings(listen_host="0.0.0.0", listen_port=9000).public_base_url == "http://127.0.0.1:9000"
    explicit = Settings(listen_port=8100, public_base_url="https://pay.example.org")
    assert explicit.public_base_url == "https://pay.example.org"
    assert explicit.sandbox_base_url == "https://pay.example.org/sandbox"


def test_kubernetes_service_variables_do_not_break_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Kubernetes service named "cauri" gives every pod CAURI_PORT=tcp://…: not a setting of ours.
    monkeypatch.setenv("CAURI_PORT", "tcp://10.0.0.7:8000")
    monkeypatch.setenv("CAURI_LISTEN_PORT", "8100")
    assert Settings().public_base_url == "http://127.0.0.1:8100"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://cauri:pw@db.example.org:5432/cauri", "postgresql+asyncpg://cauri:pw@db.example.org:5432/cauri"),
        ("postgres://cauri@db/cauri?ssl=require", "postgresql+asyncpg://cauri@db/cauri?ssl=require"),
        ("postgresql+asyncpg://cauri@db/cauri", "postgresql+asyncpg://cauri@db/cauri"),
        ("sqlite:///./var/cauri.db", "sqlite+aiosqlite:///./var/cauri.db"),
        ("sqlite+aiosqlite:///./var/cauri.db", "sqlite+aiosqlite:///./var/cauri.db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(given: str, used: str) -> None:
    assert Settings(database_url=given).database_url == used


@pytest.mark.parametrize("url", ["mysql://cauri@db/cauri", "postgresql+psycopg2://db/cauri", "./var/cauri.db"])
def test_an_unknown_database_scheme_is_refused_clearly(url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(database_url=url)
    message = str(raised.value)
    assert "CAURI_DATABASE_URL" in message and "postgresql://" in message and "sqlite+aiosqlite://" in message


def test_serve_on_another_port_pays_out_through_that_port(tmp_path: Path, project_root: Path) -> None:
    """`make run PORT=…` runs `cauri serve --port …`: the banner and the embedded sandbox use that port."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(project_root / "src"),
        "CAURI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cauri.db'}",
        "CAURI_FILES_DIR": str(tmp_path / "files"),
        "CAURI_LOG_LEVEL": "WARNING",
    }
    env.pop("CAURI_PUBLIC_BASE_URL", None)
    env.pop("CAURI_LISTEN_PORT", None)
    command = [sys.executable, "-c", "from cauri.cli import app; app()", "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert server.stdout is not None
        banner = [server.stdout.readline() for _ in range(4)]
        assert f"http://127.0.0.1:{port}/docs" in banner[2], banner
        assert f"http://127.0.0.1:{port}/sandbox" in banner[3], banner
        deadline = time.monotonic() + 60
        while True:
            try:
                # The sandbox answers where payouts will call it (401: it wants its API key).
                answer = httpx.get(f"http://127.0.0.1:{port}/sandbox/v1/balance/XAF", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)  # polling a port that is not open yet: nothing to wait on but time
        assert answer.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=60)  # cauri serve's graceful shutdown is bounded (10 s)
