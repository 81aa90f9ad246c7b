"""Requests per second of the API against a one-route FastAPI hello-world on the same uvicorn, measured by wrk.

    make bench-api               # or: .venv/bin/python bench/api.py --seconds 10

Every server is one uvicorn process with the same options (uvloop, httptools, one worker, no uvicorn access log:
what ``cauri serve`` runs; Cauri logs each request itself at INFO, JSON, as in production) on 127.0.0.1,
driven by ``wrk -t2 -c16`` (``--threads``, ``--connections``, ``--seconds``):

* ``hello``: ``GET /hello`` of a FastAPI app with that one route — the yardstick; the ratios are what count on a
  shared machine.
* Cauri on PostgreSQL, with Redis (cache and pub/sub, the multi-process setup; the job queue on a Redis stream
  of its own, so a created payout's provider submission waits in the queue and the figure is the request
  alone): ``GET /api/v1/auth/me`` and ``GET /api/v1/payouts`` with a bearer token, ``POST /api/v1/payouts`` with a
  fresh ``Idempotency-Key`` and reference per request (a wrk Lua script).
* Cauri on PostgreSQL without Redis: ``GET /api/v1/auth/me`` (the caller resolved by one query every time).
* Cauri on SQLite, the embedded default (no Redis, jobs in process): ``GET /api/v1/auth/me`` and
  ``GET /api/v1/payouts``.

The organisation is funded through the ledger's service and 200 payouts are created over HTTP before the
measures. The benchmark creates and drops its own database (``cauri_bench_*``) on ``CAURI_BENCH_POSTGRES_URL``
(default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``); Redis is ``CAURI_BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``), under a namespace of its own that is deleted at the end. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.migrate import upgrade
from cauri.kit.outcomes import Outcome, magic_phone
from cauri.ledger import service as ledger
from support import admin_execute, database_url, postgres_admin_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Targets of issue 10, one process each: ratios to hello's requests per second, and p99 at most 15 × hello's.
TARGETS = {"read_pg": 0.15, "read_sqlite": 0.12, "create_payout": 0.03, "p99_factor": 15.0}
SEEDED_PAYOUTS = 200
UVICORN_OPTIONS = (
    *("--loop", "uvloop", "--http", "httptools", "--workers", "1"),
    *("--no-access-log", "--log-level", "info"),
)
PASSWORD = "bench-passphrase-long-enough"

CREATE_PAYOUT_LUA = """
-- Each request its own Idempotency-Key and reference: thread number from setup(), a counter in the thread.
local thread_number = 0
function setup(thread)
  thread_number = thread_number + 1
  thread:set("number", thread_number)
end
function init(args)
  token, organization, phone, run = args[1], args[2], args[3], args[4]
  counter = 0
end
function request()
  counter = counter + 1
  local key = string.format("%s-%d-%d", run, number, counter)
  local body = string.format(
    '{"amount": 1000, "currency": "XAF", "phone": "%s", "reference": "B-%s", "provider": "sandbox"}', phone, key)
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["X-Organization-ID"] = organization,
    ["Idempotency-Key"] = key,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/api/v1/payouts", headers, body)
end
"""


def hello_app() -> FastAPI:
    """The yardstick: FastAPI with one route, on the same uvicorn."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    return app


@dataclass
class Measure:
    rps: float
    p99_ms: float
    non_2xx: int
    errors: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """One uvicorn process serving ``app`` (a factory), until the block ends; yields its base URL."""
    port = free_port()
    # The yardstick and Cauri run under the very same options, spelled out rather than left to uvicorn's "auto"
    # choices: what ``cauri serve`` runs (uvloop, httptools, one worker, no uvicorn access log: Cauri's own
    # middleware writes one JSON line per request, at INFO as in production).
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port),
        *UVICORN_OPTIONS, "--app-dir", str(Path(__file__).resolve().parent),
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{app} exited at start:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health" if "cauri" in app else f"{base}/hello", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"{app} did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


_LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(args: argparse.Namespace, url: str, *, headers: dict[str, str], script: Path | None = None,
            script_args: list[str] | None = None) -> Measure:  # fmt: skip
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=args.seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if rps is None or p99 is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    return Measure(
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _LATENCY_UNITS[p99.group(2)],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


@dataclass
class Caller:
    token: str
    organization_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Organization-ID": self.organization_id}


def seed(base: str, database_url: str) -> Caller:
    """A user and organisation (over HTTP), a funded wallet (the ledger's service), some payouts (over HTTP)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.org"
        registered = http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "full_name": "Bench", "organization_name": "Bench SA"},
        )
        registered.raise_for_status()
        body = registered.json()
        caller = Caller(body["tokens"]["access_token"], body["organization"]["id"])
        asyncio.run(fund(database_url, uuid.UUID(caller.organization_id), 10**12))
        for index in range(SEEDED_PAYOUTS):
            created = http.post(
                "/api/v1/payouts",
                json=payout_body(f"SEED-{index}-{uuid.uuid4().hex[:6]}"),
                headers={**caller.headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            created.raise_for_status()
    return caller


def payout_body(reference: str) -> dict[str, object]:
    return {
        "amount": 1000,
        "currency": "XAF",
        "phone": magic_phone(Outcome.SUCCESS, "CM"),
        "reference": reference,
        "provider": "sandbox",
    }


async def fund(database_url: str, organization_id: uuid.UUID, amount: int) -> None:
    engine = make_engine(database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            wallet = await ledger.operating_account(session, organization_id, "XAF")
            bank = await ledger.bank_deposits_account(session, organization_id, "XAF")
            spec = ledger.TransferSpec(
                id=uuid.uuid4(), debit_account_id=bank.id, credit_account_id=wallet.id, amount=amount, code="deposit"
            )
            await ledger.create_transfers(session, [spec])
    finally:
        await engine.dispose()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """``support.scratch_database`` for this synchronous driver (wrk runs in between, outside any event loop)."""
    name = f"cauri_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    url = database_url(admin_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def delete_namespace(redis_url: str, namespace: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def cauri_env(database_url: str, files: Path, **extra: str) -> dict[str, str]:
    return {
        "CAURI_ENV": "development",
        "CAURI_DATABASE_URL": database_url,
        "CAURI_FILES_DIR": str(files),
        "CAURI_LOG_LEVEL": "INFO",  # production's default: the access line of every request is written
        **extra,
    }


CAURI = "cauri.app:create_app"


def measure_postgres(args: argparse.Namespace, work: Path, script: Path, redis_url: str) -> dict[str, Measure]:
    namespace = f"cauri-bench-{uuid.uuid4().hex[:8]}"
    shared = {
        "CAURI_REDIS_URL": redis_url,
        "CAURI_REDIS_NAMESPACE": namespace,
        "CAURI_BROKER_URL": redis_url,
        "CAURI_BROKER_QUEUE": f"{namespace}-jobs",
    }
    measures: dict[str, Measure] = {}
    try:
        with postgres_database(postgres_admin_url()) as database_url:
            with server(CAURI, cauri_env(database_url, work / "pg", **shared), work / "pg.log") as base:
                caller = seed(base, database_url)
                measures["me_pg"] = run_wrk(args, f"{base}/api/v1/auth/me", headers=caller.headers)
                measures["list_pg"] = run_wrk(args, f"{base}/api/v1/payouts?limit=50", headers=caller.headers)
                phone = magic_phone(Outcome.SUCCESS, "CM")
                script_args = [caller.token, caller.organization_id, phone, namespace]
                measures["create_payout_pg"] = run_wrk(args, base, headers={}, script=script, script_args=script_args)
            with server(CAURI, cauri_env(database_url, work / "pg1"), work / "pg-uncached.log") as base:
                measures["me_pg_uncached"] = run_wrk(args, f"{base}/api/v1/auth/me", headers=caller.headers)
    finally:
        asyncio.run(delete_namespace(redis_url, namespace))
    return measures


def measure_sqlite(args: argparse.Namespace, work: Path) -> dict[str, Measure]:
    database_url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    upgrade(database_url)
    with server(CAURI, cauri_env(database_url, work / "sqlite"), work / "sqlite.log") as base:
        caller = seed(base, database_url)
        return {
            "me_sqlite": run_wrk(args, f"{base}/api/v1/auth/me", headers=caller.headers),
            "list_sqlite": run_wrk(args, f"{base}/api/v1/payouts?limit=50", headers=caller.headers),
        }


def report(name: str, measure: Measure) -> None:
    print(f"{name:<22} {measure.rps:>9.0f} req/s   p99 {measure.p99_ms:>8.1f} ms   "
          f"failed {measure.non_2xx + measure.errors}", flush=True)  # fmt: skip


def summary(hello: Measure, measures: dict[str, Measure]) -> dict[str, float | int | bool | str]:
    results: dict[str, float | int | bool | str] = {
        "hello_rps": hello.rps,
        "hello_p99_ms": hello.p99_ms,
        "uvicorn_options": " ".join(UVICORN_OPTIONS),
    }
    for name, measure in measures.items():
        key = name.replace("_pg", "_rps_pg").replace("_sqlite", "_rps_sqlite")
        results[key] = measure.rps
        results[f"{name}_p99_ms"] = measure.p99_ms
        results[f"{name}_failed_requests"] = measure.non_2xx + measure.errors
    results["me_p99_ms_pg"] = measures["me_pg"].p99_ms
    ratios = {name: measure.rps / hello.rps for name, measure in measures.items()}
    results.update({f"{name}_ratio": round(ratio, 4) for name, ratio in ratios.items()})
    results["targets_met"] = (
        min(ratios["me_pg"], ratios["list_pg"]) >= TARGETS["read_pg"]
        and min(ratios["me_sqlite"], ratios["list_sqlite"]) >= TARGETS["read_sqlite"]
        and ratios["create_payout_pg"] >= TARGETS["create_payout"]
        and measures["me_pg"].p99_ms <= TARGETS["p99_factor"] * hello.p99_ms
        and not any(m.non_2xx or m.errors for m in measures.values())
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cauri-bench-api-") as scratch:
        work = Path(scratch)
        script = work / "create_payout.lua"
        script.write_text(CREATE_PAYOUT_LUA)
        with server("api:hello_app", {}, work / "hello.log") as base:
            hello = run_wrk(args, f"{base}/hello", headers={})
        report("hello", hello)
        measures = measure_postgres(args, work, script, os.environ.get("CAURI_BENCH_REDIS_URL", DEFAULT_REDIS_URL))
        measures.update(measure_sqlite(args, work))
    for name, measure in measures.items():
        report(name, measure)
    print(json.dumps(summary(hello, measures)))


if __name__ == "__main__":
    main()
