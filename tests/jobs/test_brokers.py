"""Jobs across processes, on Redis and RabbitMQ: readiness, and a real `cauri worker` killed in the middle of
a job while another worker and `cauri scheduler` finish the work exactly once (DESIGN.md, convention 6)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.jobs import JobStatus, enqueue
from cauri.core.jobs.runtime import JobRuntime
from tests.conftest import make_settings
from tests.jobs.brokers import BrokerUnderTest, isolated_broker
from tests.jobs.sample_jobs import ALWAYS_FAILS, RECORD_EFFECT, count_effects, effect_attempts
from tests.jobs.support import fresh_database, load_job, unused_port, wait_for_status

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLOSED_PORT = 1  # nothing listens on port 1 of 127.0.0.1


@pytest.fixture(params=["redis", "amqp"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerUnderTest]:
    async with isolated_broker(str(request.param)) as test_broker:
        yield test_broker


async def ready(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/ready")


async def test_ready_reports_the_broker(broker: BrokerUnderTest, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}"
    up = await ready(make_settings(database, tmp_path, broker_url=broker.url, broker_queue=broker.queue))
    assert up.status_code == 200, up.text
    assert up.json()["checks"] == {"database": "ok", "broker": "ok"}

    down_url = broker.with_port(CLOSED_PORT)
    down = await ready(make_settings(database, tmp_path, broker_url=down_url, broker_queue=broker.queue))
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["checks"]["database"] == "ok"
    assert down.json()["checks"]["broker"].startswith("error: ")
    assert str(CLOSED_PORT) not in down.json()["checks"]["broker"]  # the type of error, not the URL


def process_environment(settings: Settings) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAURI_")}
    environment.update(
        {
            "CAURI_ENV": "test",
            "CAURI_DATABASE_URL": settings.database_url,
            "CAURI_BROKER_URL": str(settings.broker_url),
            "CAURI_BROKER_QUEUE": settings.broker_queue,
            "CAURI_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
            "CAURI_JOB_SWEEP_SECONDS": str(settings.job_sweep_seconds),
            "CAURI_JOB_MAX_ATTEMPTS": str(settings.job_max_attempts),
            "CAURI_JOB_RETRY_BASE_SECONDS": str(settings.job_retry_base_seconds),
            "CAURI_EXTRA_JOB_MODULES": ",".join(settings.extra_job_modules),
            "CAURI_FILES_DIR": str(settings.files_dir),
            "CAURI_LOG_LEVEL": "INFO",
            # The worker imports tests.jobs.sample_jobs, as a deployment imports its own job modules.
            "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(PROJECT_ROOT)) if p),
        }
    )
    return environment


class Processes:
    """`cauri …` subprocesses with their logs in files; every one is killed at the end, whatever happens."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.environment = process_environment(settings)
        self.directory = directory
        self.started: list[tuple[asyncio.subprocess.Process, Path]] = []

    async def start(self, *arguments: str) -> asyncio.subprocess.Process:
        log_path = self.directory / f"{arguments[0]}-{len(self.started)}.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cauri.cli",
                *arguments,
                cwd=self.directory,  # no stray .env file is read
                env=self.environment,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.started.append((process, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for _, path in self.started)

    async def kill_all(self) -> None:
        for process, _ in self.started:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.wait(), 10)


@pytest.mark.slow
# Each broker once and each database once: the claim is the database's, the doorbell the broker's.
@pytest.mark.parametrize(("broker", "backend"), [("redis", "postgresql"), ("amqp", "sqlite")], indirect=["broker"])
async def test_a_killed_worker_s_job_is_done_exactly_once_by_another(
    broker: BrokerUnderTest, backend: str, tmp_path: Path
) -> None:
    async with fresh_database(backend, tmp_path) as database:
        settings = make_settings(
            database,
            tmp_path,
            broker_url=broker.url,
            broker_queue=broker.queue,
            job_lease_seconds=5,
            job_sweep_seconds=1,
            extra_job_modules=["tests.jobs.sample_jobs"],
        )
        engine = make_engine(database)
        sessionmaker = make_sessionmaker(engine)
        client = JobRuntime(settings, sessionmaker)  # this test process only rings doorbells
        processes = Processes(settings, tmp_path)
        started = time.monotonic()
        try:
            await client.start()
            first_worker = await processes.start("worker", "--concurrency", "2")
            job_id, label = await enqueue_slow_job(sessionmaker, backend)
            await wait_for_status(sessionmaker, job_id, JobStatus.RUNNING, within=60)
            first_worker.send_signal(signal.SIGKILL)
            await asyncio.wait_for(first_worker.wait(), 10)
            killed_at = time.monotonic()
            assert (await load_job(sessionmaker, job_id)).status == JobStatus.RUNNING
            assert await count_effects(sessionmaker, label) == 0

            metrics_port = unused_port()
            await processes.start("worker", "--concurrency", "2", "--metrics-port", str(metrics_port))
            await processes.start("scheduler")
            job = await wait_for_status(sessionmaker, job_id, JobStatus.DONE, JobStatus.FAILED, within=90)
            finished_at = time.monotonic()
            assert (job.status, job.attempts) == (JobStatus.DONE, 2), processes.logs()
            assert await effect_attempts(sessionmaker, label) == [2], processes.logs()
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            assert f'cauri_jobs_total{{kind="{RECORD_EFFECT}",outcome="done"}} 1.0' in metrics
            print(
                f"crash test {broker.kind}/{backend}: killed after {killed_at - started:.1f} s, "
                f"done {finished_at - killed_at:.1f} s later"
            )
        except BaseException:
            print(processes.logs())
            raise
        finally:
            await processes.kill_all()
            await client.stop()
            await engine.dispose()


async def enqueue_slow_job(sessionmaker: async_sessionmaker[AsyncSession], backend: str) -> tuple[uuid.UUID, str]:
    label = f"crash-{uuid.uuid4().hex[:10]}"
    # PostgreSQL: killed holding an uncommitted write. SQLite: killed before writing (a write locks the file).
    pauses = {"pause_after": 6} if backend == "postgresql" else {"pause_before": 6}
    async with unit_of_work(sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label, **pauses})
    return job_id, label


@pytest.mark.slow
async def test_sigterm_lets_the_running_job_finish_then_stops_the_worker(
    broker: BrokerUnderTest, tmp_path: Path
) -> None:
    async with fresh_database("postgresql", tmp_path) as database:
        settings = make_settings(
            database,
            tmp_path,
            broker_url=broker.url,
            broker_queue=broker.queue,
            job_lease_seconds=10,
            extra_job_modules=["tests.jobs.sample_jobs"],
        )
        engine = make_engine(database)
        sessionmaker = make_sessionmaker(engine)
        client = JobRuntime(settings, sessionmaker)
        processes = Processes(settings, tmp_path)
        try:
            await client.start()
            worker = await processes.start("worker")
            label = f"graceful-{uuid.uuid4().hex[:10]}"
            async with unit_of_work(sessionmaker) as session:
                job_id = await enqueue(session, RECORD_EFFECT, {"label": label, "pause_after": 2})
            await wait_for_status(sessionmaker, job_id, JobStatus.RUNNING, within=60)
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 30) == 0, processes.logs()
            job = await load_job(sessionmaker, job_id)
            assert (job.status, job.attempts) == (JobStatus.DONE, 1), processes.logs()
            assert await effect_attempts(sessionmaker, label) == [1]
        finally:
            await processes.kill_all()
            await client.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_duplicates_lost_messages_and_failures_across_processes(broker: BrokerUnderTest, tmp_path: Path) -> None:
    """With a real worker and scheduler: a doorbell rung three times runs the job once, a job whose doorbell was
    never rung is found by the scheduler's sweeper, a failing job is retried by the worker and ends failed."""
    async with fresh_database("postgresql", tmp_path) as database:
        settings = make_settings(
            database,
            tmp_path,
            broker_url=broker.url,
            broker_queue=broker.queue,
            job_lease_seconds=5,
            job_sweep_seconds=1,
            job_max_attempts=3,
            job_retry_base_seconds=0.2,
            extra_job_modules=["tests.jobs.sample_jobs"],
        )
        engine, silent_engine = make_engine(database), make_engine(database)
        sessionmaker, silent_sessionmaker = make_sessionmaker(engine), make_sessionmaker(silent_engine)
        client = JobRuntime(settings, sessionmaker)
        processes = Processes(settings, tmp_path)
        try:
            await client.start()
            await processes.start("worker")
            await processes.start("scheduler")
            twice, lost = f"twice-{uuid.uuid4().hex[:8]}", f"lost-{uuid.uuid4().hex[:8]}"
            async with unit_of_work(sessionmaker) as session:
                rung_thrice = await enqueue(session, RECORD_EFFECT, {"label": twice, "pause_after": 0.5})
                failing = await enqueue(session, ALWAYS_FAILS, {"label": f"fails-{uuid.uuid4().hex[:8]}"})
            await client.ring(rung_thrice)
            await client.ring(rung_thrice)
            async with unit_of_work(silent_sessionmaker) as session:
                never_rung = await enqueue(session, RECORD_EFFECT, {"label": lost})

            assert (await wait_for_status(sessionmaker, rung_thrice, JobStatus.DONE, within=60)).attempts == 1
            assert await count_effects(sessionmaker, twice) == 1
            assert (await wait_for_status(sessionmaker, never_rung, JobStatus.DONE, within=60)).attempts == 1
            assert await count_effects(sessionmaker, lost) == 1
            failed = await wait_for_status(sessionmaker, failing, JobStatus.FAILED, within=60)
            assert (failed.attempts, failed.last_error) == (3, "RuntimeError: boom on attempt 3"), processes.logs()
        except BaseException:
            print(processes.logs())
            raise
        finally:
            await processes.kill_all()
            await client.stop()
            await engine.dispose()
            await silent_engine.dispose()
