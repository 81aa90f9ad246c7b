"""Helpers for job and notification tests: a fresh database per module, waiting for a job with a deadline."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.jobs import Job
from tests.conftest import create_postgres_database, drop_postgres_database, migrate, service_url
from tests.jobs.sample_jobs import create_effects_table


@asynccontextmanager
async def fresh_database(backend: str, directory: Path) -> AsyncIterator[str]:
    """A migrated database of its own, so no other test's in-process sweeper runs these tests' jobs."""
    admin_url = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / f'jobs-{uuid.uuid4().hex[:8]}.db'}"
    else:
        admin_url = service_url("postgres")
        url = await create_postgres_database(admin_url)
    try:
        await migrate(url)
        await create_effects_table(url)
        yield url
    finally:
        if admin_url is not None:
            await drop_postgres_database(admin_url, url)


async def load_job(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> Job:
    async with sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None, f"no job {job_id}"
        return job


async def wait_for_status(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, *statuses: str, within: float = 20.0
) -> Job:
    deadline = time.monotonic() + within
    while True:
        job = await load_job(sessionmaker, job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} (attempts {job.attempts}) after {within} s")
        await asyncio.sleep(0.1)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
