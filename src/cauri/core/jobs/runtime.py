"""The job runtime of one process: its broker, the doorbell, and the consumer or the clock.

* ``cauri serve`` without a broker: the in-memory broker runs jobs inside the API's event loop, and the clock
  (periodic jobs and the sweeper) ticks there too, started and stopped with the app's lifespan.
* ``cauri serve`` with a broker: the API only rings doorbells; ``/ready`` reports the broker.
* ``cauri worker``: consumes doorbells and runs jobs. ``cauri scheduler``: runs the clock.

One taskiq task, the doorbell, carries a job id and nothing else: the job itself lives in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import InMemoryBroker
from taskiq.receiver import Receiver

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, utcnow
from cauri.core.jobs.brokers import build_broker, probe_broker
from cauri.core.jobs.queue import register_doorbell, unregister_doorbell
from cauri.core.jobs.registry import load_job_modules
from cauri.core.jobs.runner import JobRunner
from cauri.core.jobs.sweeper import PeriodicClock, sweep
from cauri.core.limits import install_limits, uninstall_limits

log = structlog.get_logger("cauri.jobs")

DOORBELL_TASK = "cauri.jobs.doorbell"
CLOCK_TICK_SECONDS = 1.0
RING_TIMEOUT_SECONDS = 3.0
# After the broker failed, doorbells are skipped (not waited on) for this long: the sweeper rings later.
BROKER_RETRY_SECONDS = 5.0
IN_PROCESS_SHUTDOWN_SECONDS = 10.0
CLOCK_ERROR_LOG_SECONDS = 60.0


class JobRuntime:
    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], *, concurrency: int = 10
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.concurrency = concurrency
        self.runner = JobRunner(settings, sessionmaker, doorbell=self)
        self.broker = build_broker(settings, concurrency=concurrency)
        self.in_process = isinstance(self.broker, InMemoryBroker)
        # The in-memory broker starts a task per doorbell, however many ring at once (a sweep, a fan-out): at most
        # ``concurrency`` jobs run together, as a worker's receiver allows, or they would exhaust the connection pool.
        slots = asyncio.Semaphore(concurrency) if self.in_process else None
        self.doorbell_task = self.broker.register_task(_doorbell_handler(self.runner, slots), task_name=DOORBELL_TASK)
        self._broker_started = False
        self._broker_down_until = 0.0
        self._start_lock = asyncio.Lock()
        self._clock_task: asyncio.Task[None] | None = None
        self._timers: dict[uuid.UUID, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def engine(self) -> AsyncEngine:
        engine = self.sessionmaker.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the job runtime needs a sessionmaker bound to an AsyncEngine")
        return engine

    async def start(self, *, clock: bool = False) -> None:
        """Register this process's doorbell, connect the broker (best effort) and start the clock if asked."""
        register_doorbell(self.engine, self)
        try:
            await self._ensure_broker_started()
        except Exception as exc:  # the API keeps serving; /ready reports the broker; doorbells retry
            log.warning("job_broker_unavailable", error=type(exc).__name__)
        if clock:
            self._clock_task = asyncio.create_task(self._run_clock(), name="cauri-job-clock")

    async def stop(self) -> None:
        # From here on, doorbells (a retry recorded by a job finishing now) are left to the next sweeper.
        self._stopping = True
        unregister_doorbell(self.engine, self)
        for timer in self._timers.values():
            timer.cancel()  # their jobs are in the database: the sweeper rings for them
        self._timers.clear()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._clock_task is not None:
            self._clock_task.cancel()
            await asyncio.gather(self._clock_task, return_exceptions=True)
            self._clock_task = None
        if isinstance(self.broker, InMemoryBroker):
            # Jobs still running after the grace period are cancelled: rolled back, their lease expires, and
            # the next start's sweeper runs them again.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.broker.wait_all(), IN_PROCESS_SHUTDOWN_SECONDS)
        if self._broker_started:
            self._broker_started = False
            await self.broker.shutdown()

    async def ring(self, job_id: uuid.UUID) -> None:
        """Send the doorbell for ``job_id``. Never raises: a doorbell that is not sent is rung by the sweeper."""
        if self._stopping:
            return
        if time.monotonic() < self._broker_down_until:
            log.info("job_doorbell_skipped", job_id=str(job_id), reason="broker_unavailable")
            return
        try:
            await asyncio.wait_for(self._send(job_id), RING_TIMEOUT_SECONDS)
        except Exception as exc:
            self._broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
            log.warning("job_doorbell_failed", job_id=str(job_id), error=type(exc).__name__)

    def ring_at(self, job_id: uuid.UUID, when: datetime) -> None:
        """Ring for ``job_id`` at ``when`` (a retry after its backoff, a job due later), from this process."""
        if self._stopping:
            return
        previous = self._timers.pop(job_id, None)
        if previous is not None:
            previous.cancel()
        delay = max((when - utcnow()).total_seconds(), 0.0)
        self._timers[job_id] = asyncio.get_running_loop().call_later(delay, self._ring_from_timer, job_id)

    def _ring_from_timer(self, job_id: uuid.UUID) -> None:
        self._timers.pop(job_id, None)
        task = asyncio.create_task(self.ring(job_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send(self, job_id: uuid.UUID) -> None:
        await self._ensure_broker_started()
        await self.doorbell_task.kiq(str(job_id))

    async def _ensure_broker_started(self) -> None:
        async with self._start_lock:
            if self._broker_started:
                return
            try:
                await asyncio.wait_for(self.broker.startup(), RING_TIMEOUT_SECONDS * 3)
            except BaseException:
                # Close what a half-done startup opened, so that the next attempt starts clean.
                with contextlib.suppress(Exception):
                    await self.broker.shutdown()
                raise
            self._broker_started = True
            self._broker_down_until = 0.0

    async def tick_clock(self, clock: PeriodicClock, *, sweep_now: bool) -> None:
        await clock.tick()
        if sweep_now:
            await sweep(self.sessionmaker, self.settings, self.ring)

    async def _run_clock(self) -> None:
        clock = PeriodicClock(self.sessionmaker)
        next_sweep = 0.0
        quiet_until = 0.0
        while True:
            now = time.monotonic()
            try:
                await self.tick_clock(clock, sweep_now=now >= next_sweep)
            except Exception:  # a database outage must not stop the clock, nor fill the logs every second
                if now >= quiet_until:
                    log.exception("job_clock_failed")
                    quiet_until = now + CLOCK_ERROR_LOG_SECONDS
            if now >= next_sweep:
                next_sweep = now + self.settings.job_sweep_seconds
            await asyncio.sleep(CLOCK_TICK_SECONDS)

    async def consume(self, stop: asyncio.Event) -> None:
        """Run jobs from the broker until ``stop`` is set; survive broker outages by reconnecting."""
        self.broker.is_worker_process = True
        register_doorbell(self.engine, self)
        delay = 1.0
        with ThreadPoolExecutor(max_workers=1) as executor:
            while not stop.is_set():
                try:
                    await self._ensure_broker_started()
                    receiver = Receiver(
                        broker=self.broker,
                        executor=executor,
                        max_async_tasks=self.concurrency,
                        run_startup=False,
                        # On stop, running jobs get a lease to finish; after that their lease expires anyway.
                        wait_tasks_timeout=self.settings.job_lease_seconds,
                    )
                    log.info("job_worker_listening", queue=self.settings.broker_queue, concurrency=self.concurrency)
                    await receiver.listen(stop)
                    delay = 1.0
                except Exception as exc:
                    log.warning("job_worker_broker_error", error=type(exc).__name__, retry_in=delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 30.0)


def _doorbell_handler(runner: JobRunner, slots: asyncio.Semaphore | None = None) -> Callable[[str], Awaitable[None]]:
    async def cauri_job_doorbell(job_id: str) -> None:
        if slots is None:
            await runner.run(uuid.UUID(job_id))
            return
        async with slots:
            await runner.run(uuid.UUID(job_id))

    return cauri_job_doorbell


def install(app: FastAPI) -> None:
    """Start the job runtime with the app (in-process jobs and clock when there is no broker)."""
    settings: Settings = app.state.settings

    async def start_jobs(application: FastAPI) -> None:
        load_job_modules(settings.extra_job_modules)
        runtime = JobRuntime(settings, application.state.sessionmaker)
        application.state.jobs = runtime
        await runtime.start(clock=runtime.in_process)

    async def stop_jobs(application: FastAPI) -> None:
        runtime: JobRuntime | None = getattr(application.state, "jobs", None)
        if runtime is not None:
            await runtime.stop()

    app.state.startup_hooks.append(start_jobs)
    app.state.shutdown_hooks.append(stop_jobs)
    if settings.broker_url is not None:
        app.state.readiness_probes["broker"] = partial(probe_broker, settings.broker_url)


async def run_process(settings: Settings, stop: asyncio.Event, *, role: str, concurrency: int = 10) -> None:
    """The body of ``cauri worker`` (``role="worker"``) and ``cauri scheduler`` (``role="scheduler"``)."""
    kinds = load_job_modules(settings.extra_job_modules)
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    runtime = JobRuntime(settings, make_sessionmaker(engine), concurrency=concurrency)
    # Jobs call providers too: they count against the same shared limits and breakers as the API processes.
    replaced_limits = install_limits(settings)
    log.info(f"job_{role}_started", kinds=kinds, queue=settings.broker_queue)
    try:
        if role == "worker":
            await runtime.consume(stop)
        else:
            await runtime.start(clock=True)
            await stop.wait()
    finally:
        await runtime.stop()
        await uninstall_limits(replaced_limits)
        await engine.dispose()
        log.info(f"job_{role}_stopped")
