"""One process calling a provider through the kit's HTTP layer, driven line by line by a test.

Started as ``python -m tests.connectors.limits_process '<json config>'`` with ``CAURI_REDIS_URL`` (or not) in its
environment, it installs the process's limit store as ``cauri serve`` and ``cauri worker`` do, prints
``{"ready": true}``, then for each JSON command read on stdin (``{"path": "/echo", "count": 5}``) makes ``count``
calls one after the other and prints one JSON line: how many succeeded and the error code of each failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, TextIO

from pydantic import SecretStr

from cauri.core.config import Settings
from cauri.core.limits import install_limits, limit_store
from cauri.core.logging import configure_logging
from cauri.kit.auth import ApiKeyHeader
from cauri.kit.errors import ConnectorError
from cauri.kit.http import HttpPolicy, ProviderHttpClient


async def _calls(http: ProviderHttpClient, path: str, count: int) -> dict[str, Any]:
    ok, errors = 0, []
    for _ in range(count):
        try:
            await http.request("GET", path, operation="probe")
            ok += 1
        except ConnectorError as error:
            errors.append(error.code)
    return {"ok": ok, "errors": errors}


async def main(config: dict[str, Any], answers: TextIO) -> None:
    settings = Settings()
    configure_logging(settings.log_level, json=False)
    install_limits(settings)
    http = ProviderHttpClient(
        provider=config["provider"],
        base_url=config["base_url"],
        # The same credential in every process: limits and breakers are per (provider, credential).
        auth=ApiKeyHeader("X-API-Key", SecretStr(config["api_key"])),
        policy=HttpPolicy(connect_timeout=2.0, read_timeout=5.0, max_attempts=1, **config["policy"]),
    )
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": True, "shared": limit_store().shared}), file=answers, flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        print(json.dumps(await _calls(http, command["path"], command["count"])), file=answers, flush=True)
    await http.aclose()
    await limit_store().close()


if __name__ == "__main__":
    # Answers keep the real stdout; everything else written there (the connector's logs) goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    asyncio.run(main(json.loads(sys.argv[1]), answers))
