"""Run ``cauri simulate <provider>`` as a real process (shared by the provider tests of this engineer's packages)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping

import httpx

from cauri.kit.testing import free_port


@contextlib.asynccontextmanager
async def simulate(
    provider: str, probe: str, *, extra_args: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """Start ``cauri simulate <provider> --port N`` and wait until ``GET <probe>`` answers; yields the base URL."""
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING", **(env or {})}
    command = [sys.executable, "-m", "cauri.cli", "simulate", provider, "--port", str(port), *extra_args]
    process = subprocess.Popen(  # noqa: ASYNC220 - a real `cauri` process, polled below
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    await http.get(f"{base_url}{probe}")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "cauri simulate did not start"
                    await asyncio.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)
