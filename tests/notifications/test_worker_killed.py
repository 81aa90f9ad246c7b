"""A real ``cauri worker`` killed (SIGKILL) while it sends a batch of SMS through the Africa's Talking simulator
and e-mails to aiosmtpd; another worker and the scheduler finish the batch. Checked against the providers' own
books (the simulator's messages, the SMTP server's received list):

* nothing is lost: every message reaches its provider and ends ``delivered`` (SMS) or ``sent`` (e-mail);
* nothing is sent twice that we could know had gone: a message marked sent before the kill is never sent again.
  Only a message the worker had handed over but not yet marked (``sending`` at the kill) may reach the provider
  twice — Africa's Talking takes no idempotency key and SMTP has none, so delivery is at least once there — and
  then an e-mail's copies carry the same ``Message-ID`` (mail clients show it once) and the SMS's record names
  one of the provider's ids.

The API (this process) only rings doorbells on Redis and receives the delivery reports; the workers are
subprocesses. No sleeps: every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import free_port, serve_app
from cauri.notifications.models import Notification
from cauri.notifications.service import queue_message
from cauri.notifications.sms.africastalking.simulator import DEMO_API_KEY, AfricasTalkingSimulator
from tests.conftest import make_settings
from tests.jobs.brokers import isolated_broker
from tests.jobs.support import fresh_database
from tests.notifications.sms_support import CALLBACK_TOKEN, inbound_url, report_url
from tests.support.processes import Processes

EACH = 150  # SMS, and as many e-mails
FINAL = {"sms": "delivered", "email": "sent"}


class Inbox:
    """An aiosmtpd handler keeping every message it accepts (its books: what the server received)."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        ids = []
        for envelope in list(self.envelopes):
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            ids.append(str(parsed["Message-ID"]))
        return ids


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class World:
    app: FastAPI
    simulator: AfricasTalkingSimulator
    inbox: Inbox
    workers: Processes


@asynccontextmanager
async def world(backend: str, directory: Path) -> AsyncIterator[World]:
    api_port, smtp_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    # A little latency per SMS, as over a network: the kill lands while several are in flight. A delivery report
    # that arrives before the worker's "sent" commit is answered 404 and sent again, as Africa's Talking does,
    # for a few seconds (the simulator's default of three quick tries is too short for SQLite's single writer
    # under three processes).
    simulator = AfricasTalkingSimulator(
        SimulatorSettings(latency_seconds=0.03, callback_attempts=10),
        delivery_report_url=report_url(api_url, "africastalking"),
        inbound_url=inbound_url(api_url, "africastalking"),
    )
    async with (
        isolated_broker("redis") as broker,
        serve_app(simulator.app) as simulator_url,
        fresh_database(backend, directory) as database,
    ):
        settings = make_settings(
            database,
            directory,
            public_base_url=api_url,
            broker_url=broker.url,
            broker_queue=broker.queue,
            sms_backend="africastalking",
            sms_callback_token=SecretStr(CALLBACK_TOKEN),
            africastalking_base_url=simulator_url,
            africastalking_api_key=SecretStr(DEMO_API_KEY),
            email_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            job_lease_seconds=5,
            job_sweep_seconds=1,
            job_retry_base_seconds=0.2,
        )
        workers = Processes(settings, directory)
        application = create_app(settings)
        try:
            with smtp_server(smtp_port) as inbox:
                async with serve_app(application, port=api_port, shutdown_timeout=2):
                    yield World(application, simulator, inbox, workers)
        except BaseException:
            print(workers.logs())
            raise
        finally:
            await workers.kill_all()
            await simulator.aclose()


async def queue_batch(app: FastAPI) -> dict[uuid.UUID, str]:
    """EACH SMS and EACH e-mails, each text unique; the notification id → its text."""
    texts: dict[uuid.UUID, str] = {}
    async with unit_of_work(app.state.sessionmaker) as session:
        for index in range(EACH):
            text = f"Cauri : rappel n°{index}, votre cotisation est due demain."
            # Distinct numbers whose last three digits are never a simulator's magic suffix (900-920).
            sms = await queue_message(session, channel="sms", recipient=f"+2217712{index:05d}", subject="", body=text)
            mail = await queue_message(
                session, channel="email", recipient=f"membre{index}@example.sn", subject=f"Rappel {index}", body=text
            )
            texts[sms.id] = texts[mail.id] = text
    return texts


async def statuses(app: FastAPI) -> dict[uuid.UUID, tuple[str, str]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(select(Notification.id, Notification.channel, Notification.status))
        return {row.id: (row.channel, row.status) for row in rows}


async def until(condition: Any, what: Any, within: float, workers: Processes) -> None:
    """Wait for ``condition`` (``what`` says what it is, or is called to say it when time runs out)."""
    deadline = time.monotonic() + within
    while not await condition():
        said = what() if callable(what) else what
        assert time.monotonic() < deadline, f"not within {within} s: {said}\n{workers.logs()}"
        await asyncio.sleep(0.02)


@pytest.mark.slow
@pytest.mark.postgres_only  # a multi-process proof of the outbox's claims; the jobs' crash tests cover SQLite
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_worker_killed_while_sending_loses_nothing_and_resends_nothing_it_had_sent(
    backend: str, tmp_path: Path
) -> None:
    async with world(backend, tmp_path) as running:
        app, simulator, inbox, workers = running.app, running.simulator, running.inbox, running.workers
        texts = await queue_batch(app)
        total = 2 * EACH

        started = time.monotonic()
        first = await workers.start("worker", "--concurrency", "4")

        async def a_quarter_handed_over() -> bool:
            return len(simulator.messages) + len(inbox.envelopes) >= total // 4

        await until(a_quarter_handed_over, "a quarter of the batch handed over", 90, workers)
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)
        killed_at = time.monotonic()
        at_kill = await statuses(app)
        sms_at_kill, mails_at_kill = len(simulator.messages), len(inbox.envelopes)
        marked_before = {nid for nid, (_, status) in at_kill.items() if status in ("sent", "delivered")}
        in_flight = {nid for nid, (_, status) in at_kill.items() if status == "sending"}
        assert len(marked_before) < total, "the kill came after the batch had finished"

        await workers.start("worker", "--concurrency", "4")
        await workers.start("scheduler")

        left: Counter[tuple[str, str]] = Counter()

        async def all_final() -> bool:
            left.clear()
            left.update(pair for pair in (await statuses(app)).values() if pair[1] != FINAL[pair[0]])
            return not left

        await until(all_final, lambda: f"every SMS delivered and every e-mail sent; left: {left}", 120, workers)
        finished_at = time.monotonic()

        # SMS: the simulator's books hold every text; only a message in flight at the kill may be there twice.
        async with app.state.sessionmaker() as session:
            rows = (await session.execute(select(Notification))).scalars().all()
        sms_copies = Counter(message.text for message in simulator.messages.values())
        mail_copies = Counter(inbox.message_ids())
        resent: list[uuid.UUID] = []
        for row in rows:
            if row.channel == "sms":
                copies = sms_copies[texts[row.id]]
                at_provider = {m.id for m in simulator.messages.values() if m.text == texts[row.id]}
                assert row.provider_message_id in at_provider
                assert row.delivered_at is not None
            else:
                copies = _copies_of(mail_copies, row.id)
            assert copies >= 1, f"{row.channel} {row.id} never reached its provider"
            if copies > 1:
                resent.append(row.id)
                assert row.id in in_flight, f"{row.channel} {row.id} was sent again though marked sent before"
        for row_id in marked_before:
            assert row_id not in resent
        assert len(simulator.messages) == EACH + sum(1 for row in rows if row.id in resent and row.channel == "sms")
        assert len(inbox.envelopes) == EACH + sum(1 for row in rows if row.id in resent and row.channel == "email")
        print(
            f"\nworker killed ({backend}) after {killed_at - started:.1f} s: {sms_at_kill} SMS and {mails_at_kill} "
            f"e-mails handed over, {len(marked_before)} marked sent, {len(in_flight)} in flight; "
            f"{len(resent)} sent twice (all in flight); the rest finished {finished_at - killed_at:.1f} s later"
        )


def _copies_of(mail_copies: Counter[str], notification_id: uuid.UUID) -> int:
    """How many copies of an e-mail the server received, matched on the Message-ID the notification gives it."""
    return sum(count for message_id, count in mail_copies.items() if message_id.startswith(f"<{notification_id}@"))
