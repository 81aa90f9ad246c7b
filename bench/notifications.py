"""Notifications on PostgreSQL: fan-out of one kind to N recipients on three channels, and delivery of its e-mails
and SMS, each against a bare yardstick measured in the same run.

    make bench-notifications          # or: .venv/bin/python bench/notifications.py [--recipients 10000]

On a scratch database (``cauri_bench_notif_*``, dropped afterwards) of the server named by
``CAURI_BENCH_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``):

* ``enqueue`` — ``notifications.fanout.fan_out`` of kind ``bench.reminder`` (in-app, SMS, e-mail) to
  ``--recipients`` people, committed: one stored message per recipient and channel (3 × N rows: the outbox's
  SMS and e-mails and the in-app notifications), plus the 2 × N delivery jobs. Rate limits and quiet hours are
  off (no quiet hours stored; ``CAURI_NOTIFICATION_LIMIT_*`` 0). ``enqueue_per_s`` = 3 × N / seconds.
* ``insert`` — the yardstick: one bare ``INSERT … SELECT`` of 3 × N rows of the same shape (a copy of the
  ``notifications`` table with its indexes, the rows made by ``generate_series``). ``insert_per_s``.
* ``smtp`` — the fan-out's N e-mails delivered by the real delivery job (``JobRunner.run``: claim, ``sending``,
  SMTP, ``sent``) at ``--concurrency`` jobs at once to a local aiosmtpd (its own thread), against a bare
  aiosmtplib client sending N messages of the same size to the same server at the same concurrency.
* ``sms`` — the fan-out's N SMS delivered by the same jobs through the Africa's Talking simulator (its own
  process, ``cauri simulate africastalking``; numbers ending in 919: no delivery report), against a bare httpx
  client posting N SMS to it, one recipient per request, at the same concurrency.

Each delivery measure stops after ``--delivery-seconds`` (default 60) if it has not finished: its rate is what
was done by then. Peak RSS is this process's (``VmHWM``). Targets: enqueue ≥ 0.3 × insert, SMTP and SMS ≥ 0.5 ×
their bare clients, peak RSS ≤ 300 MB. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

from bulk import memory_mb  # noqa: E402
from cauri.core.config import Settings  # noqa: E402
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from cauri.core.jobs.runner import JobRunner  # noqa: E402
from cauri.core.logging import configure_logging  # noqa: E402
from cauri.kit.testing import free_port  # noqa: E402
from cauri.notifications import jobs as _delivery_jobs  # noqa: E402, F401  (registers notifications.deliver)
from cauri.notifications.fanout import fan_out  # noqa: E402
from cauri.notifications.kinds import NotificationKind, register_kind  # noqa: E402
from cauri.notifications.notify import Recipient  # noqa: E402
from cauri.notifications.sms.africastalking.simulator import DEMO_API_KEY, DEMO_USERNAME  # noqa: E402
from support import dsn, postgres_admin_url, scratch_database  # noqa: E402

TARGETS = {"enqueue_ratio": 0.3, "smtp_ratio": 0.5, "sms_ratio": 0.5, "peak_rss_mb": 300.0}
TEXT = "Rappel : votre cotisation de {{ amount | money('XOF') }} est due demain. Merci !"


def write_templates(folder: Path) -> Path:
    kind = folder / "bench.reminder"
    kind.mkdir(parents=True)
    for language in ("fr", "en"):
        (kind / f"subject.{language}.txt").write_text("Rappel de cotisation\n", encoding="utf-8")
        for channel in ("in_app", "sms", "email"):
            (kind / f"{channel}.{language}.txt").write_text(TEXT + "\n", encoding="utf-8")
    return folder


def recipients(count: int) -> list[Recipient]:
    """Distinct people with an e-mail address and an Ivorian mobile number ending in 919 (the simulator sends no
    report); up to 100,000 of them."""
    return [
        Recipient(uuid.uuid4(), email=f"membre{index}@example.sn", phone=f"+22507{index:05d}919")
        for index in range(count)
    ]


class Inbox:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def sms_simulator(port: int) -> Iterator[str]:
    """``cauri simulate africastalking`` in a process of its own (it must not share this one's CPU)."""
    env = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "cauri.cli", "simulate", "africastalking", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/version1/messaging", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Africa's Talking simulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def pool(
    items: list[Any], work: Callable[[Any], Awaitable[None]], *, concurrency: int, seconds: float
) -> tuple[int, float]:
    """Run ``work`` on the items, ``concurrency`` at once, for at most ``seconds``: (done, elapsed)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await work(item)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def jobs_of(url: str, channel: str) -> list[uuid.UUID]:
    connection = await asyncpg.connect(dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT j.id FROM jobs j JOIN notifications n ON j.dedupe_key = 'notifications.deliver:' || n.id::text "
            "WHERE n.channel = $1 ORDER BY j.created_at",
            channel,
        )
    finally:
        await connection.close()
    return [row["id"] for row in rows]


async def count_status(url: str, channel: str, status: str) -> int:
    connection = await asyncpg.connect(dsn(url))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM notifications WHERE channel = $1 AND status = $2", channel, status
            )
        )
    finally:
        await connection.close()


async def outbox_states(url: str) -> dict[str, Any]:
    """Messages per channel and status after the run, with one error seen (what a slow measure spent its time on)."""
    connection = await asyncpg.connect(dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT channel, status, count(*) AS n, max(last_error) AS error FROM notifications "
            "GROUP BY channel, status ORDER BY channel, status"
        )
    finally:
        await connection.close()
    return {f"{row['channel']}/{row['status']}": [row["n"], (row["error"] or "")[:160]] for row in rows}


async def insert_yardstick(url: str, rows: int) -> float:
    """Seconds for one bare INSERT … SELECT of ``rows`` rows shaped like ``notifications`` (indexes included)."""
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("CREATE TABLE notifications_yardstick (LIKE notifications INCLUDING ALL)")
        started = time.perf_counter()
        await connection.execute(
            """
            INSERT INTO notifications_yardstick (id, organization_id, channel, recipient, subject, body, language,
                status, attempts, kind, user_id, dedupe_key, created_at, updated_at)
            SELECT gen_random_uuid(), NULL, (ARRAY['in_app', 'sms', 'email'])[1 + i % 3],
                'membre' || (i / 3) || '@example.sn', 'Rappel de cotisation',
                'Rappel : votre cotisation de 10 000 F CFA est due demain. Merci !', 'fr', 'queued', 0,
                'bench.reminder', gen_random_uuid(), 'bench.reminder:cycle:user:' || (i / 3), now(), now()
            FROM generate_series(0, $1 - 1) AS i
            """,
            rows,
        )
        return time.perf_counter() - started
    finally:
        await connection.close()


def bench_email(index: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Cauri <no-reply@cauri.africa>"
    message["To"] = f"membre{index}@example.sn"
    message["Subject"] = "Rappel de cotisation"
    message["Message-ID"] = f"<{uuid.uuid4()}@cauri.africa>"
    message.set_content("Rappel : votre cotisation de 10 000 F CFA est due demain. Merci !")
    message.add_alternative("<p>Rappel : votre cotisation de 10 000 F CFA est due demain. Merci !</p>", subtype="html")
    return message


async def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = postgres_admin_url()
    count = args.recipients
    smtp_port, sms_port = free_port(), free_port()
    result: dict[str, Any] = {"recipients": count, "concurrency": args.concurrency}
    with (
        tempfile.TemporaryDirectory() as scratch,
        smtp_server(smtp_port) as inbox,
        sms_simulator(sms_port) as sms_url,
    ):
        register_kind(
            NotificationKind(
                "bench.reminder", channels=("in_app", "sms", "email"), templates=write_templates(Path(scratch))
            )
        )
        async with scratch_database(admin_url, "cauri_bench_notifications") as url:
            settings = Settings(
                database_url=url,
                files_dir=Path(scratch) / "files",
                public_base_url="http://127.0.0.1:9",
                email_backend="smtp",
                smtp_host="127.0.0.1",
                smtp_port=smtp_port,
                sms_backend="africastalking",
                africastalking_base_url=sms_url,
                africastalking_username=DEMO_USERNAME,
                africastalking_api_key=SecretStr(DEMO_API_KEY),
                log_level="WARNING",
                # Rate limits off for the run (0: no limit), as the issue asks.
                notification_limit_per_recipient=0,
                notification_limit_per_organization=0,
            )
            engine = make_engine(url, pool_size=args.concurrency + 5)
            sessionmaker = make_sessionmaker(engine)
            people = recipients(count)
            try:
                # Enqueue: the fan-out, committed.
                started = time.perf_counter()
                async with unit_of_work(sessionmaker) as session:
                    fanned = await fan_out(
                        session, kind="bench.reminder", recipients=people, context={"amount": 10000}, object_id="c1"
                    )
                enqueue_seconds = time.perf_counter() - started
                stored = fanned.messages + fanned.in_app
                result["enqueue_rows"] = stored
                result["enqueue_seconds"] = round(enqueue_seconds, 2)
                result["enqueue_per_s"] = round(stored / enqueue_seconds)
                del people
                # The yardstick: one bare INSERT … SELECT of as many rows.
                insert_seconds = await insert_yardstick(url, stored)
                result["insert_per_s"] = round(stored / insert_seconds)
                print(f"enqueue {result['enqueue_per_s']}/s, bare insert {result['insert_per_s']}/s", flush=True)

                runner = JobRunner(settings, sessionmaker)

                async def deliver(job_id: uuid.UUID) -> None:
                    await runner.run(job_id)

                # SMTP: bare client, then the delivery jobs.
                emails = list(range(count))

                async def bare_email(index: int) -> None:
                    await aiosmtplib.send(bench_email(index), hostname="127.0.0.1", port=smtp_port)

                done, seconds = await pool(
                    emails, bare_email, concurrency=args.concurrency, seconds=args.delivery_seconds
                )
                result["smtp_bare_per_s"] = round(done / seconds, 1)
                email_jobs = await jobs_of(url, "email")
                done, seconds = await pool(
                    email_jobs, deliver, concurrency=args.concurrency, seconds=args.delivery_seconds
                )
                sent = await count_status(url, "email", "sent")
                result["smtp_per_s"] = round(sent / seconds, 1)
                result["smtp_sent"] = sent
                print(f"smtp {result['smtp_per_s']}/s, bare {result['smtp_bare_per_s']}/s", flush=True)

                # SMS: bare httpx client (one recipient per request), then the delivery jobs.
                async with httpx.AsyncClient(
                    base_url=sms_url,
                    headers={"apiKey": DEMO_API_KEY, "Accept": "application/json"},
                    limits=httpx.Limits(max_connections=args.concurrency),
                    timeout=30,
                ) as http:

                    async def bare_sms(index: int) -> None:
                        answer = await http.post(
                            "/version1/messaging",
                            data={
                                "username": DEMO_USERNAME,
                                "to": f"+22507{index:05d}919",
                                "message": "Rappel : votre cotisation de 10 000 F CFA est due demain. Merci !",
                            },
                        )
                        answer.raise_for_status()

                    done, seconds = await pool(
                        list(range(count)), bare_sms, concurrency=args.concurrency, seconds=args.delivery_seconds
                    )
                result["sms_bare_per_s"] = round(done / seconds, 1)
                sms_jobs = await jobs_of(url, "sms")
                done, seconds = await pool(
                    sms_jobs, deliver, concurrency=args.concurrency, seconds=args.delivery_seconds
                )
                sent = await count_status(url, "sms", "sent")
                result["sms_per_s"] = round(sent / seconds, 1)
                result["sms_sent"] = sent
                print(f"sms {result['sms_per_s']}/s, bare {result['sms_bare_per_s']}/s", flush=True)
                result["outbox"] = await outbox_states(url)
            finally:
                await engine.dispose()
        result["smtp_received"] = inbox.received
    result["peak_rss_mb"] = round(memory_mb("VmHWM"), 1)
    return result


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    ratios = {
        "enqueue_ratio": result["enqueue_per_s"] / result["insert_per_s"],
        "smtp_ratio": result["smtp_per_s"] / result["smtp_bare_per_s"],
        "sms_ratio": result["sms_per_s"] / result["sms_bare_per_s"],
    }
    met = {name: ratios[name] >= TARGETS[name] for name in ratios}
    met["peak_rss_mb"] = result["peak_rss_mb"] <= TARGETS["peak_rss_mb"]
    return {**{name: round(value, 2) for name, value in ratios.items()}, "targets_met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=20, help="jobs, or bare sends, at once")
    parser.add_argument("--delivery-seconds", type=float, default=60.0, help="cap on each delivery measure")
    args = parser.parse_args()
    configure_logging("WARNING")
    result = asyncio.run(run(args))
    result.update(verdict(result))
    keys = ("enqueue_per_s", "insert_per_s", "smtp_per_s", "smtp_bare_per_s", "sms_per_s", "sms_bare_per_s")
    print(json.dumps({**{key: result[key] for key in keys}, "peak_rss_mb": result["peak_rss_mb"], "details": result}))


if __name__ == "__main__":
    main()
