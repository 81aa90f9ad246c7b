"""The notification outbox on SQLite and PostgreSQL: a message is queued with the caller's transaction and
delivered by a job, printed by the console channel or sent to a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.app import create_app
from cauri.core.db import unit_of_work
from cauri.core.jobs import Job, JobStatus
from cauri.core.pagination import PageParams
from cauri.identity.models import Organization
from cauri.notifications.models import Notification, NotificationStatus
from cauri.notifications.service import DELIVER_JOB, list_messages, queue_message
from tests.conftest import make_settings
from tests.jobs.support import fresh_database, unused_port

FRENCH_SUBJECT = "Votre code de vérification"
FRENCH_BODY = "Bonjour Aïssatou,\n\nVotre code est 482913. Il expire dans 10 minutes.\n\nÀ bientôt sur Cauri !"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database(str(request.param), tmp_path_factory.mktemp("outbox")) as url:
        yield url


@asynccontextmanager
async def running_app(database: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[FastAPI]:
    """The API with in-process jobs; its clock retries failed deliveries quickly."""
    values: dict[str, Any] = {"job_sweep_seconds": 1, "job_retry_base_seconds": 0.1, "job_lease_seconds": 5}
    settings = make_settings(database, tmp_path, **{**values, **overrides})
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        yield app


class Inbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def to(self, recipient: str) -> list[Any]:
        return [e for e in self.envelopes if recipient in e.rcpt_tos]


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


async def queue(sessionmaker: async_sessionmaker[AsyncSession], **fields: Any) -> uuid.UUID:
    async with unit_of_work(sessionmaker) as session:
        notification = await queue_message(session, **fields)
    return notification.id


async def wait_for_notification(
    sessionmaker: async_sessionmaker[AsyncSession], notification_id: uuid.UUID, *statuses: str, within: float = 20
) -> Notification:
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as session:
            notification = await session.get(Notification, notification_id)
        assert notification is not None
        if notification.status in statuses:
            return notification
        if time.monotonic() > deadline:
            error = notification.last_error
            raise AssertionError(f"notification still {notification.status} after {within} s: {error}")
        await asyncio.sleep(0.1)


def unique_address() -> str:
    return f"aissatou.{uuid.uuid4().hex[:8]}@example.sn"


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


async def test_console_channel_prints_the_message_with_its_code(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_app(database, tmp_path, log_level="INFO") as app:
        maker = app.state.sessionmaker
        sms_id = await queue(
            maker, channel="sms", recipient="+237690001234", subject="Code", body="Cauri : votre code est 713204."
        )
        address = unique_address()
        email_id = await queue(maker, channel="email", recipient=address, subject=FRENCH_SUBJECT, body=FRENCH_BODY)
        for notification_id in (sms_id, email_id):
            sent = await wait_for_notification(maker, notification_id, NotificationStatus.SENT)
            assert sent.attempts == 1
            assert sent.sent_at is not None
    lines = log_lines(capsys.readouterr().err)
    printed = {line["notification_id"]: line for line in lines if line.get("event") == "notification_console"}
    assert printed[str(sms_id)]["body"] == "Cauri : votre code est 713204."
    assert printed[str(sms_id)]["recipient"].endswith("234")
    assert "690001234" not in json.dumps(printed[str(sms_id)])  # the phone number is masked, the code is not
    assert printed[str(email_id)]["body"] == FRENCH_BODY
    assert printed[str(email_id)]["recipient"] == address


async def test_smtp_channel_sends_a_utf8_french_email(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = unused_port()
    address = unique_address()
    with smtp_server(port) as inbox:
        async with running_app(
            database, tmp_path, email_backend="smtp", smtp_port=port, mail_from="Cauri <no-reply@cauri.test>"
        ) as app:
            notification_id = await queue(
                app.state.sessionmaker,
                channel="email",
                recipient=address,
                subject=FRENCH_SUBJECT,
                body=FRENCH_BODY,
                language="fr",
            )
            sent = await wait_for_notification(app.state.sessionmaker, notification_id, NotificationStatus.SENT)
        (envelope,) = inbox.to(address)
    assert sent.attempts == 1
    assert envelope.mail_from == "no-reply@cauri.test"
    assert envelope.rcpt_tos == [address]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["To"] == address
    assert message["Subject"] == FRENCH_SUBJECT
    assert message["Content-Language"] == "fr"
    assert message["Message-ID"] == f"<{notification_id}@cauri.test>"
    assert message.get_content_type() == "multipart/alternative"
    text, rendered = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and rendered is not None
    assert text.get_content_charset() == "utf-8"
    assert text.get_content().replace("\r\n", "\n").strip() == FRENCH_BODY.strip()  # SMTP lines end in CRLF
    assert "<p>Bonjour Aïssatou,</p>" in rendered.get_content()
    assert message["List-Unsubscribe"] is None  # a code is essential: no unsubscribe link
    assert "482913" not in capsys.readouterr().err  # only the console channel writes a body to the logs


async def test_an_smtp_outage_is_retried_until_the_server_is_back(database: str, tmp_path: Path) -> None:
    port = unused_port()  # nothing listens there yet
    address = unique_address()
    async with running_app(database, tmp_path, email_backend="smtp", smtp_port=port, job_max_attempts=20) as app:
        maker = app.state.sessionmaker
        notification_id = await queue(maker, channel="email", recipient=address, subject="Reçu", body="Merci !")
        deadline = time.monotonic() + 20
        while (notification := await wait_for_notification(maker, notification_id, "queued", "sent")).attempts < 1:
            assert time.monotonic() < deadline, "the first attempt never happened"
            await asyncio.sleep(0.1)
        assert notification.status == NotificationStatus.QUEUED
        assert notification.last_error is not None
        with smtp_server(port) as inbox:
            sent = await wait_for_notification(maker, notification_id, NotificationStatus.SENT, within=30)
            assert len(inbox.to(address)) == 1
    assert sent.attempts >= 2
    assert sent.last_error is None


async def test_a_message_that_keeps_failing_ends_failed(database: str, tmp_path: Path) -> None:
    address = unique_address()
    async with running_app(
        database, tmp_path, email_backend="smtp", smtp_port=unused_port(), job_max_attempts=2
    ) as app:
        maker = app.state.sessionmaker
        notification_id = await queue(maker, channel="email", recipient=address, subject="Reçu", body="Merci !")
        failed = await wait_for_notification(maker, notification_id, NotificationStatus.FAILED)
        # The message's failure and its job's are two commits (the handler's, then the runner's): wait for both.
        statement = select(Job).where(Job.dedupe_key == f"{DELIVER_JOB}:{notification_id}")
        deadline = time.monotonic() + 20
        while True:
            async with maker() as session:
                job = (await session.execute(statement)).scalar_one()
            if job.status == JobStatus.FAILED or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert failed.attempts == 2
    assert failed.sent_at is None
    assert failed.last_error and "SMTP" in failed.last_error
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)


async def test_a_rolled_back_transaction_queues_nothing(database: str, tmp_path: Path) -> None:
    async with running_app(database, tmp_path) as app:
        maker = app.state.sessionmaker
        address = unique_address()
        with pytest.raises(RuntimeError):
            async with unit_of_work(maker) as session:
                await queue_message(session, channel="email", recipient=address, subject="x", body="y")
                raise RuntimeError("the sign-up failed")
        async with maker() as session:
            found = await session.execute(select(Notification).where(Notification.recipient == address))
            assert found.scalars().all() == []


async def test_messages_are_listed_per_organisation_newest_first(database: str, tmp_path: Path) -> None:
    async with running_app(database, tmp_path) as app:
        maker = app.state.sessionmaker
        async with unit_of_work(maker) as session:
            ours, theirs = (
                Organization(name=f"Caisse {n}", slug=f"caisse-{uuid.uuid4().hex[:8]}", default_region="SN")
                for n in range(2)
            )
            session.add_all([ours, theirs])
        sms = {"channel": "sms", "recipient": "+221770000001", "subject": "Cotisation"}
        queued = [await queue(maker, **sms, body=f"Rappel n°{n}", organization_id=ours.id) for n in range(3)]
        await queue(maker, **sms, body="Une autre caisse", organization_id=theirs.id)
        async with maker() as session:
            first, cursor = await list_messages(session, organization_id=ours.id, params=PageParams(limit=2))
            rest, end = await list_messages(session, organization_id=ours.id, params=PageParams(limit=2, cursor=cursor))
    assert [n.id for n in first + rest] == list(reversed(queued))
    assert cursor is not None and end is None


async def test_queue_message_refuses_an_unknown_channel_or_language(database: str, tmp_path: Path) -> None:
    async with running_app(database, tmp_path) as app, app.state.sessionmaker() as session:
        with pytest.raises(ValueError, match="channel"):
            await queue_message(session, channel="fax", recipient="x", subject="s", body="b")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="fr or en"):
            await queue_message(session, channel="sms", recipient="+221770000001", subject="s", body="b", language="wo")
