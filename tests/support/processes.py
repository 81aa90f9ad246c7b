"""``cauri …`` subprocesses (workers, schedulers, servers) for the tests that kill them: configured like the test's
settings, logs in files, every one killed at the end whatever happens."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cauri.core.config import Settings


def env_value(value: Any) -> str:
    """A setting as the environment spells it: JSON for collections (pydantic-settings reads them so)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, (dict, list, set, frozenset, tuple)):
        return json.dumps(sorted(value) if isinstance(value, (set, frozenset)) else value)
    return str(value)


class Processes:
    """Subprocesses configured like ``settings`` (every setting that differs from the default)."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        defaults = Settings()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CAURI_")}
        for name in Settings.model_fields:
            value = getattr(settings, name)
            if value is not None and value != getattr(defaults, name):
                environment[f"CAURI_{name.upper()}"] = env_value(value)
        environment["CAURI_LOG_LEVEL"] = "INFO"
        self.environment, self.directory = environment, directory
        self.started: list[tuple[asyncio.subprocess.Process, Path]] = []

    async def start(self, *arguments: str) -> asyncio.subprocess.Process:
        log_path = self.directory / f"{arguments[0]}-{len(self.started)}.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cauri.cli",
                *arguments,
                cwd=self.directory,
                env=self.environment,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.started.append((process, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}" for _, path in self.started)

    async def kill_all(self) -> None:
        for process, _ in self.started:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.wait(), 10)
