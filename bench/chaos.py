"""The chaos run: Cauri as it runs at scale on one machine, processes killed at random, and the books checked.

    make chaos                                   # 5 minutes of load, a kill every ~2.5 s (>= 100 kills)
    .venv/bin/python bench/chaos.py --duration 3600 --kill-every 3 > var/chaos.log &   # a long run
    .venv/bin/python bench/chaos.py --duration 100 --kill-every 3 --min-kills 20       # CI's short pass

What runs (all on 127.0.0.1): a scratch PostgreSQL database (``cauri_chaos_*``, dropped afterwards), Redis as the
job broker, the limits' store and the caller cache (``--broker amqp``: RabbitMQ carries the jobs instead), two
API processes (``cauri serve``), two workers (``cauri worker``) and a scheduler, behind a small front proxy of
this process's own (what nginx would be: it spreads requests over the API processes that are up). The sandbox
provider's simulator runs here too, with latency and the outcome table's faults chosen by the payee's number:
timeouts after accepting, 5xx after processing, 503, 429, slow answers, duplicated, late and missing callbacks,
refusals and expiries. Its callbacks go through the front proxy; a callback that reaches a dying process is
retried by the simulator, or its payment found by polling. An organisation's webhook receiver runs here as well.

The load (``--clients`` loops): single payouts, collections, partial refunds of succeeded collections, small bulk
batches, and reads. Every mutation carries an ``Idempotency-Key`` created once, before its first attempt; a
connection cut by a kill, a 502 or 503 from the proxy, a 409 (the first attempt still holds the key) or a 429 is
retried with the same key, as a careful client does.

The killer sends SIGKILL to a random API process or worker *that this run started* (by the PID it recorded,
never by name), every ``--kill-every`` seconds (± 50 %), and starts it again with the same arguments.

At the end (load stopped, killer stopped, every process up again) it waits for the system to settle, then checks:

* ``mismatches``: a payment, refund or bulk line whose state disagrees with the simulator's own books (succeeded
  here and not paid there, or the reverse, or another amount), or a payment the simulator holds that Cauri does not
  know;
* ``double_payments``: money the simulator moved more than once for one payment, refund or line;
* ``lost_events``: a final payment without its settlement event, a settlement event not received exactly once by
  the run's subscriber (``bench/chaos_module.py``), a webhook not delivered to the receiver;
* ``trial_balance``: the platform's books per currency, debits minus credits (posted and pending): zero;
* ``unfinished``: payments, refunds or bulk batches not in a final state once the system had time to settle.

The last line printed is one JSON object; the exit status is 1 when any of those is not zero (or when fewer than
``--min-kills`` kills happened), 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "src"))

import chaos_module  # noqa: E402 - next to this file; the workers import it by the same name
from cauri.connectors.mobile_money.sandbox import SandboxSimulator  # noqa: E402
from cauri.connectors.mobile_money.sandbox import webhooks as sandbox_webhooks  # noqa: E402
from cauri.core.config import Settings  # noqa: E402
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work  # noqa: E402
from cauri.disbursements.models import FINAL_BATCH_STATES, BulkBatch, BulkLine, LineState  # noqa: E402
from cauri.kit.simulation import SimulatorSettings  # noqa: E402
from cauri.kit.testing import free_port, serve_app  # noqa: E402
from cauri.ledger import service as ledger  # noqa: E402
from cauri.payments.events import subscriptions_for  # noqa: E402
from cauri.payments.models import (  # noqa: E402
    Payment,
    PaymentRefund,
    SettlementDelivery,
    SettlementEventRecord,
    WebhookDelivery,
)
from cauri.payments.states import FINAL_STATUSES  # noqa: E402
from support import scratch_database  # noqa: E402

CURRENCY = "XAF"
PASSWORD = "chaos-run-password-9f3"
FINAL_PAYMENT = frozenset(status.value for status in FINAL_STATUSES)
PAID = frozenset({"succeeded", "partially_refunded", "refunded"})  # the money moved (some may have gone back)
FINAL_REFUND = frozenset({"succeeded", "failed"})
SIM_SUCCESS = "SUCCESSFUL"
# The payee's last three digits choose the simulator's behaviour (cauri.kit.outcomes); weights of the mix.
SUFFIXES: dict[str, int] = {
    "100": 30,  # succeeds
    "905": 3,  # refused by the payer
    "906": 3,  # provider error
    "911": 3,  # expires
    "912": 4,  # slow answer
    "913": 6,  # times out after the provider accepted
    "914": 5,  # 503 before processing
    "915": 6,  # 500 although the payment was made
    "916": 5,  # 429 with Retry-After
    "917": 6,  # the callback comes twice
    "918": 6,  # the callback comes late
    "919": 6,  # no callback: polling finds it
}
PREFIX = "+237670000"  # Cameroon: any last three digits keep it a valid mobile number
RETRIED_STATUSES = frozenset({409, 429, 502, 503, 504})


@contextlib.asynccontextmanager
async def chaos_database(admin_url: str) -> AsyncIterator[str]:
    async with scratch_database(admin_url, "cauri_chaos") as url:
        await chaos_module.create_tables(url)
        yield url


# -- the processes --------------------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    arguments: tuple[str, ...]
    port: int | None = None  # API processes
    process: asyncio.subprocess.Process | None = None

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.returncode is None


class Fleet:
    """The run's own processes, started with ``python -m cauri.cli``; only these are ever killed."""

    def __init__(self, environment: dict[str, str], directory: Path) -> None:
        self.environment = environment
        self.directory = directory
        self.children: list[Child] = []
        self.ready: set[int] = set()  # ports of API processes that answered /health since their last start

    def add(self, name: str, *arguments: str, port: int | None = None) -> Child:
        child = Child(name, arguments, port)
        self.children.append(child)
        return child

    async def start(self, child: Child) -> None:
        log = (self.directory / f"{child.name}.log").open("ab")
        child.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cauri.cli",
            *child.arguments,
            cwd=self.directory,
            env=self.environment,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        if child.port is not None:
            self.ready.discard(child.port)
            await self._wait_healthy(child)

    async def _wait_healthy(self, child: Child, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not child.up:
                    raise RuntimeError(f"{child.name} exited while starting; see {self.directory}/{child.name}.log")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{child.port}/health")).status_code == 200:
                        assert child.port is not None
                        self.ready.add(child.port)
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{child.name} did not answer /health within {within:.0f} s")

    async def kill(self, child: Child) -> None:
        """SIGKILL by the PID this run recorded (the caller starts it again)."""
        assert child.process is not None
        if child.port is not None:
            self.ready.discard(child.port)
        child.process.send_signal(signal.SIGKILL)
        await child.process.wait()

    def api_ports(self) -> list[int]:
        return [c.port for c in self.children if c.port is not None and c.up and c.port in self.ready]

    async def stop_all(self) -> None:
        for child in self.children:
            if child.up:
                assert child.process is not None
                child.process.send_signal(signal.SIGKILL)
                await child.process.wait()


class Front:
    """The front proxy (nginx's place): each request to an API process that is up, chosen at random."""

    HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=2.0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": f"{message['type']}.complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, content = 503, [(b"retry-after", b"1")], b"no API process is up"
        ports = self.fleet.api_ports()
        if ports:
            url = f"http://127.0.0.1:{random.choice(ports)}{scope['path']}"
            if scope["query_string"]:
                url += "?" + scope["query_string"].decode()
            forwarded = [
                (k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in self.HOP_BY_HOP
            ]
            try:
                answer = await self.http.request(scope["method"], url, headers=forwarded, content=body)
            except httpx.HTTPError as exc:
                status, content = 502, f"upstream: {type(exc).__name__}".encode()
            else:
                status, content = answer.status_code, answer.content
                headers = [
                    (k.encode(), v.encode())
                    for k, v in answer.headers.multi_items()
                    if k.lower() not in self.HOP_BY_HOP and k.lower() != "content-encoding"
                ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@dataclass
class Receiver:
    """The organisation's webhook receiver: event ids received, by payment and type."""

    events: Counter[str] = field(default_factory=Counter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": f"{message['type']}.complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.events[str(json.loads(body)["id"])] += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


# -- the load ---------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # final 4xx answers, by route and status (not retried)
    payments: int = 0
    refunds: int = 0
    batches: int = 0
    forged: int = 0  # forged callbacks sent
    forged_accepted: int = 0  # of which answered 2xx (must be none)


class Client:
    """A careful API client: one Idempotency-Key per operation, created before its first attempt."""

    def __init__(self, base_url: str, api_key: str, stats: Stats) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(60.0, connect=5.0))
        self.headers = {"X-API-Key": api_key, "Accept-Language": "en"}
        self.stats = stats

    async def call(self, method: str, path: str, *, within: float = 180.0, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if method != "GET":
            headers["Idempotency-Key"] = uuid.uuid4().hex  # once: every retry below sends the same key
        deadline = time.monotonic() + within
        while True:
            self.stats.requests += 1
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code not in RETRIED_STATUSES:
                return response
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: no answer within {within:.0f} s")
            self.stats.retries += 1
            wait = 0.3
            if response is not None and response.headers.get("retry-after", "").isdigit():
                wait = min(float(response.headers["retry-after"]), 5.0)
            await asyncio.sleep(wait * (0.5 + random.random()))

    async def aclose(self) -> None:
        await self.http.aclose()


def payee() -> str:
    return PREFIX + random.choices(list(SUFFIXES), weights=list(SUFFIXES.values()))[0]


def payment_body(prefix: str) -> dict[str, Any]:
    return {
        "amount": random.randrange(1_000, 20_000),
        "currency": CURRENCY,
        "phone": payee(),
        "reference": f"{prefix}-{uuid.uuid4().hex[:16]}",
        "provider": "sandbox",
    }


def bulk_file(lines: int) -> bytes:
    rows = ["transferId,amount,currency,partyIdType,partyIdentifier"]
    for index in range(lines):
        # Payee numbers of the bulk: only fates a bulk item can have (transport faults are per call).
        suffix = random.choice(["100", "100", "100", "100", "905", "906", "917", "918", "919"])
        rows.append(
            f"L{index:03d}-{uuid.uuid4().hex[:8]},{random.randrange(1_000, 9_000)},{CURRENCY},MSISDN,{PREFIX}{suffix}"
        )
    return ("\r\n".join(rows) + "\r\n").encode()


async def one_operation(client: Client, collections: list[str]) -> None:
    choice = random.random()
    if choice < 0.35:
        answer = await client.call("POST", "/api/v1/payouts", json=payment_body("PO"))
        client.stats.payments += answer.status_code == 202
    elif choice < 0.70:
        answer = await client.call("POST", "/api/v1/collections", json=payment_body("CO"))
        if answer.status_code == 202:
            client.stats.payments += 1
            collections.append(answer.json()["id"])
    elif choice < 0.80 and collections:
        collection_id = random.choice(collections[: max(1, len(collections) - 10)])  # older ones have settled
        got = await client.call("GET", f"/api/v1/collections/{collection_id}")
        if got.status_code != 200 or got.json()["status"] not in ("succeeded", "partially_refunded"):
            client.stats.refused[f"refund skipped: {got.status_code} {got.json().get('status')}"] += 1
            return
        amount = max(100, got.json()["amount"] // random.choice([2, 3, 4]))
        answer = await client.call(
            "POST", f"/api/v1/collections/{collection_id}/refunds", json={"amount": amount, "reason": "chaos"}
        )
        client.stats.refunds += answer.status_code == 202
    elif choice < 0.84:
        # The body is built once, boundary included: a retry must send the very bytes its key was first sent with.
        upload = httpx.Request("POST", "/", files={"file": ("chaos.csv", bulk_file(20), "text/csv")})
        created = await client.call(
            "POST",
            "/api/v1/bulk-transfers",
            content=upload.read(),
            headers={"Content-Type": upload.headers["Content-Type"]},
        )
        if created.status_code != 201:
            client.stats.refused[f"bulk upload {created.status_code}: {created.text[:160]}"] += 1
            return
        submitted = await client.call("POST", f"/api/v1/bulk-transfers/{created.json()['id']}/submit")
        client.stats.batches += submitted.status_code == 200
        if submitted.status_code != 200:
            client.stats.refused[f"bulk submit {submitted.status_code}: {submitted.text[:120]}"] += 1
        return
    else:
        answer = await client.call("GET", random.choice(["/api/v1/payouts?limit=20", "/api/v1/collections?limit=20"]))
    if answer.status_code >= 400:
        client.stats.refused[f"{answer.request.method} {answer.request.url.path} {answer.status_code}"] += 1


async def load(client: Client, until: float, collections: list[str], pace: float) -> None:
    while time.monotonic() < until:
        await one_operation(client, collections)
        if pace:
            await asyncio.sleep(pace * (0.5 + random.random()))


async def killer(fleet: Fleet, until: float, every: float, kills: Counter[str]) -> None:
    """Kill a random process of the run, start it again in the background, and go on: kills overlap restarts, as
    they would in a real outage. An API process is only killed while the other one serves."""
    victims = [c for c in fleet.children if c.name != "scheduler"]
    restarting: dict[str, asyncio.Task[None]] = {}
    while time.monotonic() < until:
        await asyncio.sleep(every * (0.5 + random.random()))
        both_serving = len(fleet.api_ports()) == 2
        candidates = [c for c in victims if c.up and c.name not in restarting and (c.port is None or both_serving)]
        if not candidates:
            continue
        child = random.choice(candidates)
        await fleet.kill(child)
        kills[child.name] += 1
        task = asyncio.create_task(fleet.start(child))
        restarting[child.name] = task
        task.add_done_callback(lambda _, name=child.name: restarting.pop(name, None))
    await asyncio.gather(*restarting.values())


async def forger(base_url: str, organization_id: str, simulator: SandboxSimulator, until: float, stats: Stats) -> None:
    """Callbacks an attacker would send: a payment's own body claiming success, signed with a wrong secret. Each
    must be refused and change nothing (the end's checks compare every state with the simulator's books)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while time.monotonic() < until:
            await asyncio.sleep(1.0 + random.random())
            pending = [p for p in list(simulator.payments.values()) if p.state != SIM_SUCCESS]
            if not pending:
                continue
            target = random.choice(pending)
            data = {**target.to_wire(), "state": SIM_SUCCESS, "failure_code": None}
            body = json.dumps(
                {
                    "id": f"evt_forged_{uuid.uuid4().hex[:12]}",
                    "type": f"{target.kind}.successful",
                    "created": int(time.time()),
                    "data": data,
                }
            ).encode()
            headers = sandbox_webhooks.sign("whsec_not_the_secret", body, int(time.time()))
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.post(
                    f"/api/v1/webhooks/sandbox?org={organization_id}", content=body, headers=headers
                )
                stats.forged += 1
                stats.forged_accepted += answer.status_code < 300


# -- the checks -------------------------------------------------------------------------------------------------


async def settled(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """What is still moving: payments, refunds and batches not final, webhooks and settlement events in flight."""
    async with sessionmaker() as session:
        payments = await session.scalar(select(func.count()).where(Payment.status.not_in(FINAL_PAYMENT)))
        refunds = await session.scalar(select(func.count()).where(PaymentRefund.status.not_in(FINAL_REFUND)))
        batches = await session.scalar(select(func.count()).where(BulkBatch.state.not_in(FINAL_BATCH_STATES)))
        webhooks = await session.scalar(select(func.count()).where(WebhookDelivery.state == "pending"))
        events = (await session.execute(select(SettlementEventRecord.id, SettlementEventRecord.purpose))).all()
        delivered = Counter((await session.execute(select(SettlementDelivery.event_id))).scalars().all())
    undelivered = sum(1 for e in events if delivered[e.id] < len(subscriptions_for(e.purpose)))
    return {
        "payments": int(payments or 0),
        "refunds": int(refunds or 0),
        "batches": int(batches or 0),
        "webhooks": int(webhooks or 0),
        "settlement_events": undelivered,
    }


async def wait_settled(sessionmaker: async_sessionmaker[AsyncSession], within: float) -> dict[str, int]:
    deadline = time.monotonic() + within
    shown = 0.0
    while True:
        moving = await settled(sessionmaker)
        if not any(moving.values()) or time.monotonic() > deadline:
            return moving
        if time.monotonic() - shown > 10:
            print(f"chaos: settling, still moving: {moving}", file=sys.stderr, flush=True)
            shown = time.monotonic()
        await asyncio.sleep(0.5)


def sim_payment(simulator: SandboxSimulator, kind: str, reference: str) -> Any:
    payment_id = simulator.by_reference.get((kind, reference))
    return simulator.payments.get(payment_id) if payment_id else None


async def check(  # noqa: PLR0912 - one pass over each kind of record, each rule named where it is counted
    sessionmaker: async_sessionmaker[AsyncSession], simulator: SandboxSimulator, receiver: Receiver
) -> dict[str, Any]:
    mismatches: list[str] = []
    double_payments: list[str] = []
    lost: list[str] = []
    async with sessionmaker() as session:
        payments = (await session.execute(select(Payment))).scalars().all()
        refunds = (await session.execute(select(PaymentRefund))).scalars().all()
        lines = (await session.execute(select(BulkLine))).scalars().all()
        events = (await session.execute(select(SettlementEventRecord))).scalars().all()
        receipts = Counter((await session.execute(select(chaos_module.receipts.c.event_id))).scalars().all())
        hooks = (await session.execute(select(WebhookDelivery))).scalars().all()
        totals = await ledger.trial_balance(session)

    known: set[tuple[str, str]] = set()
    events_of: dict[uuid.UUID, set[str]] = {}
    for event in events:
        if event.refund_id is None:
            events_of.setdefault(event.payment_id, set()).add(event.status)
    for payment in payments:
        known.add((payment.kind, payment.outbound_reference))
        sim = sim_payment(simulator, payment.kind, payment.outbound_reference)
        paid_there = sim is not None and sim.state == SIM_SUCCESS
        if (payment.status in PAID) != paid_there:
            mismatches.append(f"{payment.kind} {payment.id}: {payment.status} here, {sim and sim.state} there")
        moved = (
            simulator.collected(payment.outbound_reference)
            if payment.kind == "collection"
            else simulator.paid_out(payment.outbound_reference)
        )
        if moved > payment.amount:
            double_payments.append(f"{payment.kind} {payment.id}: {moved} moved for {payment.amount}")
        elif payment.status in PAID and moved != payment.amount:
            mismatches.append(f"{payment.kind} {payment.id}: {moved} moved for {payment.amount}")
        settled_as = "succeeded" if payment.status in PAID else payment.status  # a refund has events of its own
        if payment.status in FINAL_PAYMENT and settled_as not in events_of.get(payment.id, set()):
            lost.append(f"settlement event of {payment.kind} {payment.id} ({payment.status})")

    by_collection: dict[uuid.UUID, int] = {}
    for refund in refunds:
        known.add(("refund", refund.outbound_reference))
        sim = sim_payment(simulator, "refund", refund.outbound_reference)
        paid_there = sim is not None and sim.state == SIM_SUCCESS
        if (refund.status == "succeeded") != paid_there:
            mismatches.append(f"refund {refund.id}: {refund.status} here, {sim and sim.state} there")
        if refund.status == "succeeded":
            by_collection[refund.payment_id] = by_collection.get(refund.payment_id, 0) + refund.amount
    references = {p.id: p.outbound_reference for p in payments}
    for collection_id, amount in by_collection.items():
        back = simulator.refunded(references[collection_id])
        if back > amount:
            double_payments.append(f"refunds of {collection_id}: {back} paid back for {amount}")
        elif back != amount:
            mismatches.append(f"refunds of {collection_id}: {back} paid back for {amount}")

    for line in lines:
        if line.provider_reference is not None:
            known.add(("payout", line.provider_reference))
        paid = simulator.paid_out(line.provider_reference) if line.provider_reference else 0
        if paid > line.amount:
            double_payments.append(f"bulk line {line.batch_id}/{line.line_number}: {paid} paid for {line.amount}")
        elif (line.state == LineState.COMPLETED) != (paid == line.amount):
            mismatches.append(f"bulk line {line.batch_id}/{line.line_number}: {line.state} here, {paid} paid")

    # Payments the provider holds that Cauri never recorded (a second payment for one order would be one).
    for kind, reference in simulator.by_reference:
        if (kind, reference) not in known:
            sim = sim_payment(simulator, kind, reference)
            target = double_payments if sim is not None and sim.state == SIM_SUCCESS else mismatches
            target.append(f"{kind} {reference} at the provider, unknown here ({sim and sim.state})")

    for event in events:
        got = receipts[str(event.id)]
        if got != 1:
            lost.append(f"settlement event {event.id} received {got} times")
    for hook in hooks:
        if hook.replay_of_id is None and (hook.state != "delivered" or receiver.events[str(hook.event_id)] < 1):
            lost.append(
                f"webhook {hook.event_type} {hook.event_id}: {hook.state}, received "
                f"{receiver.events[str(hook.event_id)]} times"
            )
    announced = {h.payment_id for h in hooks if h.event_type.endswith((".succeeded", ".failed", ".expired"))}
    for payment in payments:
        if (payment.status in PAID or payment.status in {"failed", "expired"}) and payment.id not in announced:
            lost.append(f"no webhook for {payment.kind} {payment.id} ({payment.status})")

    trial = {t.currency: (t.debits_posted - t.credits_posted) + (t.debits_pending - t.credits_pending) for t in totals}
    return {
        "payments": len(payments),
        "refunds": len(refunds),
        "bulk_lines": len(lines),
        "mismatches": len(mismatches),
        "double_payments": len(double_payments),
        "lost_events": len(lost),
        "trial_balance": sum(abs(v) for v in trial.values()),
        "examples": (mismatches + double_payments + lost)[:10],
    }


# -- the run ----------------------------------------------------------------------------------------------------


def environment(settings: dict[str, Any]) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("CAURI_")}
    for name, value in settings.items():
        values[f"CAURI_{name.upper()}"] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    values["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(REPO / "src"), values.get("PYTHONPATH", "")])
    return values


async def organisation(
    base_url: str, sessionmaker: async_sessionmaker[AsyncSession], hooks_url: str
) -> tuple[str, str]:
    """The run's organisation, funded, with an API key and a webhook endpoint: (the key, the organisation's id)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        email = f"chaos-{uuid.uuid4().hex[:10]}@example.org"
        registered = await http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": "Chaos", "organization_name": "Chaos"},
        )
        registered.raise_for_status()
        body = registered.json()
        headers = {
            "Authorization": f"Bearer {body['tokens']['access_token']}",
            "X-Organization-ID": body["organization"]["id"],
        }
        key = await http.post("/api/v1/api-keys", json={"name": "chaos", "role": "admin"}, headers=headers)
        key.raise_for_status()
        endpoint = await http.post("/api/v1/webhook-endpoints", json={"url": hooks_url}, headers=headers)
        endpoint.raise_for_status()
    organization_id = uuid.UUID(body["organization"]["id"])
    async with unit_of_work(sessionmaker) as session:
        wallet = await ledger.operating_account(session, organization_id, CURRENCY)
        bank = await ledger.bank_deposits_account(session, organization_id, CURRENCY)
        spec = ledger.TransferSpec(
            id=uuid.uuid4(), debit_account_id=bank.id, credit_account_id=wallet.id, amount=10**12, code="deposit"
        )
        await ledger.create_transfers(session, [spec])
    return str(key.json()["key"]), str(organization_id)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    random.seed(args.seed)
    directory = Path(args.directory)
    defaults = Settings()
    simulator = SandboxSimulator(
        api_key=defaults.sandbox_api_key.get_secret_value(),
        webhook_secret=defaults.sandbox_webhook_secret.get_secret_value(),
        settings=SimulatorSettings(
            latency_seconds=0.01,
            settle_seconds=0.3,
            slow_seconds=0.8,
            hang_seconds=3.0,  # beyond the API's 1.5 s read timeout: a timeout after accepting
            expiry_seconds=1.0,
            late_callback_seconds=2.0,
            callback_attempts=4,
        ),
    )
    receiver = Receiver()
    stats, kills = Stats(), Counter[str]()
    broker = args.amqp_url if args.broker == "amqp" else args.redis_url
    async with (
        chaos_database(args.postgres_url) as database_url,
        serve_app(simulator.app) as sandbox_url,
        serve_app(receiver) as receiver_url,
    ):
        front_port = free_port()
        settings: dict[str, Any] = {
            "env": "development",
            "database_url": database_url,
            "database_pool_size": 10,
            "public_base_url": f"http://127.0.0.1:{front_port}",
            "sandbox_url": sandbox_url,
            "broker_url": broker,
            "broker_queue": f"chaos-{uuid.uuid4().hex[:8]}",
            "redis_url": args.redis_url,
            "redis_namespace": f"chaos-{uuid.uuid4().hex[:8]}",
            "files_dir": str(directory / "files"),
            "extra_job_modules": "chaos_module",
            "log_level": "WARNING",
            "payments_provider_read_timeout_seconds": 1.5,
            "payments_poll_initial_seconds": 0.5,
            "payments_poll_max_seconds": 3.0,
            "payments_poll_lease_seconds": 4.0,  # a worker killed mid-round: its claims come back soon
            "payments_webhook_timeout_seconds": 3.0,
            "job_lease_seconds": 5,
            "job_sweep_seconds": 1,
            "job_retry_base_seconds": 0.5,
            "job_retry_max_seconds": 5,
            "job_max_attempts": 1000,  # a job cut by a kill is not a job that failed: let it run to the end
            "bulk_provider_rate_limits": {"sandbox": "none"},
            "bulk_line_lease_seconds": 5,
            "bulk_poll_initial_seconds": 0.2,
            "bulk_poll_max_seconds": 2.0,
        }
        fleet = Fleet(environment(settings), directory)
        for index in range(2):
            port = free_port()
            fleet.add(f"api{index}", "serve", "--host", "127.0.0.1", "--port", str(port), port=port)
        for index in range(2):
            fleet.add(f"worker{index}", "worker", "--concurrency", "8")
        fleet.add("scheduler", "scheduler")
        engine = make_engine(database_url, pool_size=5)
        sessionmaker = make_sessionmaker(engine)
        front = Front(fleet)
        try:
            await asyncio.gather(*(fleet.start(child) for child in fleet.children))
            async with serve_app(front, port=front_port) as front_url:
                api_key, organization_id = await organisation(front_url, sessionmaker, f"{receiver_url}/hooks")
                clients = [Client(front_url, api_key, stats) for _ in range(args.clients)]
                collections: list[str] = []
                started = time.monotonic()
                until = started + args.duration
                await asyncio.gather(
                    killer(fleet, until, args.kill_every, kills),
                    forger(front_url, organization_id, simulator, until, stats),
                    *(load(client, until, collections, args.pace) for client in clients),
                )
                loaded = time.monotonic() - started
                for child in fleet.children:  # every process up again before the books are read
                    if not child.up:
                        await fleet.start(child)
                settling = time.monotonic()
                moving = await wait_settled(sessionmaker, args.settle_within)
                settled_in = time.monotonic() - settling
                verdict = await check(sessionmaker, simulator, receiver)
                for client in clients:
                    await client.aclose()
        finally:
            await front.http.aclose()
            await fleet.stop_all()
            await engine.dispose()
            await simulator.aclose()
    return {
        "kills": sum(kills.values()),
        "kills_by_process": dict(kills),
        "load_seconds": round(loaded, 1),
        "settle_seconds": round(settled_in, 1),
        "requests": stats.requests,
        "retries": stats.retries,
        "payments_created": stats.payments,
        "refunds_created": stats.refunds,
        "batches_submitted": stats.batches,
        "forged_callbacks": stats.forged,
        "forged_accepted": stats.forged_accepted,
        "refused": dict(stats.refused.most_common(5)),
        "unfinished": moving,
        **verdict,
        "broker": args.broker,
        "total_seconds": round(time.monotonic() - began, 1),
        "logs": str(directory),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load and kills")
    parser.add_argument("--kill-every", type=float, default=2.5, help="mean seconds between kills")
    parser.add_argument("--min-kills", type=int, default=100, help="fewer kills than this fails the run")
    parser.add_argument("--clients", type=int, default=6, help="concurrent client loops")
    parser.add_argument("--pace", type=float, default=0.0, help="mean seconds each client waits between operations")
    parser.add_argument("--settle-within", type=float, default=180.0, help="seconds to wait for quiet at the end")
    parser.add_argument("--broker", choices=["redis", "amqp"], default="redis")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--directory", default=None, help="logs of the processes (default var/chaos-<time>)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CAURI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("CAURI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--amqp-url", default=os.environ.get("CAURI_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    return parser.parse_args()


def failed(summary: dict[str, Any], min_kills: int) -> bool:
    return bool(
        summary["mismatches"]
        or summary["double_payments"]
        or summary["lost_events"]
        or summary["trial_balance"]
        or summary["forged_accepted"]
        or any(summary["unfinished"].values())
        or summary["kills"] < min_kills
    )


def main() -> None:
    args = parse_args()
    args.directory = args.directory or str(REPO / "var" / f"chaos-{time.strftime('%Y%m%d-%H%M%S')}")
    Path(args.directory).mkdir(parents=True, exist_ok=True)
    summary = asyncio.run(run(args))
    print(json.dumps(summary, sort_keys=False))
    sys.exit(1 if failed(summary, args.min_kills) else 0)


if __name__ == "__main__":
    main()
