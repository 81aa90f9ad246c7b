"""The job cycle in one process, on SQLite and PostgreSQL: enqueue with the caller's transaction, claim once,
record the outcome, back off and give up, be rescued by the sweeper, and run periodic jobs once per slot."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.jobs import Job, JobStatus, enqueue
from cauri.core.jobs.registry import periodic_jobs
from cauri.core.jobs.runner import JobRunner
from cauri.core.jobs.runtime import JobRuntime
from cauri.core.jobs.sweeper import PeriodicClock, slot_dedupe_key, slot_start, sweep
from cauri.core.observability import JOBS_TOTAL
from tests.conftest import make_settings
from tests.jobs.sample_jobs import ALWAYS_FAILS, HOURLY, RECORD_EFFECT, count_effects, effect_attempts
from tests.jobs.support import fresh_database, load_job, wait_for_status


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("jobs")) as url:
        yield url


@pytest.fixture
def job_settings(database: str, tmp_path: Path) -> Settings:
    return make_settings(
        database, tmp_path, job_max_attempts=3, job_retry_base_seconds=0.2, job_lease_seconds=5, job_sweep_seconds=1
    )


@pytest.fixture
async def runtime(job_settings: Settings) -> AsyncIterator[JobRuntime]:
    """The in-process runtime (no clock: tests drive the sweeper and the periodic clock themselves)."""
    engine = make_engine(job_settings.database_url)
    jobs = JobRuntime(job_settings, make_sessionmaker(engine))
    await jobs.start()
    try:
        yield jobs
    finally:
        await jobs.stop()
        await engine.dispose()


@pytest.fixture
async def silent_sessionmaker(job_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine without a doorbell: what they enqueue is never rung (a lost message)."""
    engine = make_engine(job_settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def new_label() -> str:
    return f"effect-{uuid.uuid4().hex[:10]}"


async def test_a_job_runs_once_after_its_transaction_commits(runtime: JobRuntime) -> None:
    label = new_label()
    async with unit_of_work(runtime.sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label})
    job = await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE)
    assert job.attempts == 1
    assert job.finished_at is not None
    assert job.lease_until is None
    assert await effect_attempts(runtime.sessionmaker, label) == [1]


async def test_a_rolled_back_transaction_leaves_no_job_and_rings_nothing(runtime: JobRuntime) -> None:
    label = new_label()
    with pytest.raises(RuntimeError):
        async with unit_of_work(runtime.sessionmaker) as session:
            job_id = await enqueue(session, RECORD_EFFECT, {"label": label})
            raise RuntimeError("the caller's work failed")
    async with runtime.sessionmaker() as session:
        assert await session.get(Job, job_id) is None
    await asyncio.sleep(0.3)
    assert await count_effects(runtime.sessionmaker, label) == 0


async def test_a_message_delivered_twice_does_the_work_once(
    runtime: JobRuntime, silent_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    label = new_label()
    async with unit_of_work(silent_sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label, "pause_after": 0.2})
    # Two deliveries of the same doorbell at the same time, then a late third one.
    first, second = await asyncio.gather(runtime.runner.run(job_id), runtime.runner.run(job_id))
    assert sorted([first, second]) == [False, True]
    assert await runtime.runner.run(job_id) is False
    job = await load_job(runtime.sessionmaker, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)
    assert await count_effects(runtime.sessionmaker, label) == 1


async def test_a_dedupe_key_makes_a_second_enqueue_a_no_op(runtime: JobRuntime) -> None:
    key, label = f"dedupe-{uuid.uuid4().hex}", new_label()
    async with unit_of_work(runtime.sessionmaker) as session:
        first = await enqueue(session, RECORD_EFFECT, {"label": label}, dedupe_key=key)
        same_transaction = await enqueue(session, RECORD_EFFECT, {"label": label}, dedupe_key=key)
    async with unit_of_work(runtime.sessionmaker) as session:
        later_transaction = await enqueue(session, RECORD_EFFECT, {"label": label}, dedupe_key=key)
    assert first == same_transaction == later_transaction
    await wait_for_status(runtime.sessionmaker, first, JobStatus.DONE)
    async with runtime.sessionmaker() as session:
        rows = await session.execute(select(func.count()).select_from(Job).where(Job.dedupe_key == key))
        assert rows.scalar_one() == 1
    assert await count_effects(runtime.sessionmaker, label) == 1


async def test_a_payload_that_cannot_be_stored_is_refused_at_enqueue(runtime: JobRuntime) -> None:
    async with runtime.sessionmaker() as session:
        with pytest.raises(TypeError):
            await enqueue(session, RECORD_EFFECT, {"label": uuid.uuid4()})


async def test_a_lost_message_is_rung_again_by_the_sweeper(
    runtime: JobRuntime, silent_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    label = new_label()
    async with unit_of_work(silent_sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label})
    await asyncio.sleep(0.3)
    assert (await load_job(runtime.sessionmaker, job_id)).status == JobStatus.QUEUED
    rung = await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)
    assert job_id in rung
    await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE)
    assert await count_effects(runtime.sessionmaker, label) == 1
    # Rung within the last lease and now done: a second sweep leaves it alone.
    assert job_id not in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)


async def test_a_job_due_later_runs_at_its_time(runtime: JobRuntime) -> None:
    label, due = new_label(), utcnow() + timedelta(seconds=2)
    async with unit_of_work(runtime.sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label}, run_after=due)
    assert await runtime.runner.run(job_id) is False  # not due: nothing to claim
    # This process rings at the due time; the sweeper stays out of the way until a lease after it.
    assert job_id not in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)
    job = await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE, within=10)
    assert job.finished_at is not None and job.finished_at >= due
    assert job.attempts == 1


async def test_a_job_due_later_whose_timer_died_is_rung_by_the_sweeper(
    runtime: JobRuntime, silent_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    label, due = new_label(), utcnow() + timedelta(seconds=2)
    async with unit_of_work(silent_sessionmaker) as session:  # no process holds a timer for it
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label}, run_after=due)
    assert job_id not in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)  # not due yet
    await asyncio.sleep((due - utcnow()).total_seconds() + 0.05)
    assert job_id in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)
    await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE)


async def test_a_failing_job_backs_off_then_fails_after_max_attempts(
    runtime: JobRuntime, silent_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Driven one delivery at a time by a runner without a doorbell (nothing rings for it but this test)."""
    label = new_label()
    failed_before = JOBS_TOTAL.labels(ALWAYS_FAILS, "failed")._value.get()
    # A backoff long enough that "not due yet" stays true on a loaded machine between two of our calls.
    settings = runtime.settings.model_copy(update={"job_retry_base_seconds": 1.0})
    runner = JobRunner(settings, silent_sessionmaker)
    async with unit_of_work(silent_sessionmaker) as session:
        job_id = await enqueue(session, ALWAYS_FAILS, {"label": label})
    base = settings.job_retry_base_seconds
    for attempt in (1, 2):
        assert await runner.run(job_id) is True
        job = await load_job(runtime.sessionmaker, job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, attempt)
        assert job.last_error == f"RuntimeError: boom on attempt {attempt}"
        # Exponential with jitter in [0.5, 1]: attempt n waits between base·2^(n-2) and base·2^(n-1).
        delay = (job.run_after - job.updated_at).total_seconds()  # updated_at: when the failure was recorded
        assert base * 2 ** (attempt - 1) * 0.5 - 0.001 <= delay <= base * 2 ** (attempt - 1) + 0.001  # µs rounding
        assert await runner.run(job_id) is False  # not due yet: a doorbell now claims nothing
        await asyncio.sleep(max((job.run_after - utcnow()).total_seconds(), 0) + 0.05)
    assert await runner.run(job_id) is True
    job = await load_job(runtime.sessionmaker, job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    assert job.last_error == "RuntimeError: boom on attempt 3"
    assert job.finished_at is not None
    assert await runner.run(job_id) is False
    assert job_id not in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)
    assert await count_effects(runtime.sessionmaker, label) == 0  # each failed attempt rolled back its writes
    assert JOBS_TOTAL.labels(ALWAYS_FAILS, "failed")._value.get() == failed_before + 1


async def test_the_runtime_retries_by_itself_after_the_backoff(runtime: JobRuntime) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
        job_id = await enqueue(session, ALWAYS_FAILS, {"label": new_label()})
    job = await wait_for_status(runtime.sessionmaker, job_id, JobStatus.FAILED, within=10)
    assert job.attempts == runtime.settings.job_max_attempts
    assert job.last_error == f"RuntimeError: boom on attempt {job.attempts}"


async def test_a_worker_presumed_dead_cannot_finish_a_job_taken_over(
    runtime: JobRuntime, silent_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A paused worker (no heartbeat) loses its lease; when it wakes up, its work is rolled back."""
    label = new_label()
    async with unit_of_work(silent_sessionmaker) as session:
        job_id = await enqueue(session, RECORD_EFFECT, {"label": label})
    stale = await runtime.runner.claim(job_id)
    assert stale is not None and stale.attempt == 1
    assert await runtime.runner.run(job_id) is False  # leased to the first worker
    await asyncio.sleep(runtime.settings.job_lease_seconds + 0.2)
    assert job_id in await sweep(runtime.sessionmaker, runtime.settings, runtime.ring)
    job = await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE)
    assert job.attempts == 2
    assert await runtime.runner.execute(stale) == "lease_lost"
    assert await effect_attempts(runtime.sessionmaker, label) == [2]


async def test_periodic_jobs_run_once_per_slot_however_many_schedulers(runtime: JobRuntime) -> None:
    hourly = next(p for p in periodic_jobs() if p.kind == HOURLY)
    far = utcnow() + timedelta(days=3650 + uuid.uuid4().int % 100_000)  # a slot no other test run uses
    slot = slot_start(hourly, far)
    at = slot + timedelta(seconds=10)
    first_clock, second_clock = PeriodicClock(runtime.sessionmaker), PeriodicClock(runtime.sessionmaker)
    first = await first_clock.tick(at)
    async with runtime.sessionmaker() as session:
        statement = select(Job.id).where(Job.dedupe_key == slot_dedupe_key(hourly, slot))
        (job_id,) = (await session.execute(statement)).scalars().all()
    assert job_id in first
    assert job_id in await second_clock.tick(at + timedelta(seconds=1))  # the same job, not a second one
    # Same slot again: this clock does not even ask the database (other kinds may have reached a new slot).
    assert job_id not in await first_clock.tick(at + timedelta(seconds=2))
    async with runtime.sessionmaker() as session:
        assert (await session.execute(statement)).scalars().all() == [job_id]
    await wait_for_status(runtime.sessionmaker, job_id, JobStatus.DONE)
    assert await count_effects(runtime.sessionmaker, f"hourly:{slot.isoformat()}") == 1
