"""Ledger throughput on PostgreSQL, with pgbench's TPC-B-like TPS from the same run as the yardstick.

    make bench-ledger            # or: .venv/bin/python bench/ledger.py --seconds 10

Scenarios, each through the ledger's service API (``cauri.ledger.service.create_transfers``) in units of work:

(a) one transfer per database transaction, 16 concurrent clients, random pairs among 10,000 accounts;
(b) the same, every transfer debiting one hot account;
(c) 1,000 transfers per call (one transaction each), random pairs among the 10,000 accounts.

Every account forbids overdrafts (``debits_must_not_exceed_credits``), so each transfer is checked. The benchmark
creates and drops its own databases (``cauri_bench_*``); the server comes from ``CAURI_BENCH_POSTGRES_URL``
(default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.identity.models import Organization
from cauri.ledger import service as ledger
from support import postgres_admin_url, scratch_database

TARGETS = {"single": 0.4, "hot": 0.15, "batch": 4.0}


@dataclass
class Result:
    name: str
    transfers: int
    seconds: float
    failures: int
    clients: int

    @property
    def tps(self) -> float:
        return self.transfers / self.seconds if self.seconds else 0.0


def find_pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    if not candidates:
        raise SystemExit("pgbench not found: install postgresql-client or the server package")
    return str(candidates[0])


def run_pgbench(url: str, database: str, clients: int, seconds: int) -> float:
    """pgbench's built-in TPC-B-like script on its own scratch database; its TPS."""
    pgbench = find_pgbench()
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    common = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    subprocess.run([pgbench, "-i", "-q", *common, database], check=True, env=env, capture_output=True)
    output = subprocess.run(
        [pgbench, "-c", str(clients), "-j", "2", "-T", str(seconds), *common, database],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(
        r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)", output
    )
    if match is None:
        raise SystemExit(f"could not read pgbench's TPS from:\n{output}")
    return float(match.group(1))


async def setup_books(
    sessionmaker: async_sessionmaker[AsyncSession], accounts: int
) -> tuple[list[uuid.UUID], uuid.UUID]:
    """An organisation, ``accounts`` funded wallets that cannot be overdrawn, and one richly funded hot wallet."""
    async with unit_of_work(sessionmaker) as session:
        org_id = uuid.uuid4()
        now = utcnow()
        session.add(
            Organization(
                id=org_id,
                name="Bench",
                slug=f"bench-{org_id.hex}",
                default_region="SN",
                default_language="fr",
                require_maker_checker=False,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        funding = await ledger.create_account(session, organization_id=org_id, currency="XOF", code="bench_funding")
        hot = await ledger.create_account(
            session, organization_id=org_id, currency="XOF", code="bench_hot", debits_must_not_exceed_credits=True
        )

    async def open_wallets(numbers: range) -> list[uuid.UUID]:
        async with unit_of_work(sessionmaker) as session:
            return [
                (
                    await ledger.create_account(
                        session,
                        organization_id=org_id,
                        currency="XOF",
                        code="bench_wallet",
                        owner_ref=str(number),
                        debits_must_not_exceed_credits=True,
                    )
                ).id
                for number in numbers
            ]

    chunks = await asyncio.gather(*(open_wallets(range(n, min(n + 500, accounts))) for n in range(0, accounts, 500)))
    wallets = [wallet for chunk in chunks for wallet in chunk]
    specs = [
        ledger.TransferSpec(
            id=uuid.uuid4(), debit_account_id=funding.id, credit_account_id=wallet, amount=10**9, code="funding"
        )
        for wallet in [*wallets, hot.id]
    ]

    async def fund(chunk: list[ledger.TransferSpec]) -> None:
        async with unit_of_work(sessionmaker) as session:
            await ledger.create_transfers(session, chunk)

    await asyncio.gather(*(fund(specs[start : start + 1000]) for start in range(0, len(specs), 1000)))
    async with unit_of_work(sessionmaker) as session:
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid4(),
                    debit_account_id=funding.id,
                    credit_account_id=hot.id,
                    amount=10**15,
                    code="funding",
                )
            ],
        )
    return wallets, hot.id


async def drive(
    name: str,
    clients: int,
    seconds: float,
    sessionmaker: async_sessionmaker[AsyncSession],
    make_specs: Callable[[], list[ledger.TransferSpec]],
) -> Result:
    deadline = 0.0
    done = 0
    failures = 0

    async def client() -> None:
        nonlocal done, failures
        while time.perf_counter() < deadline:
            specs = make_specs()
            try:
                async with unit_of_work(sessionmaker) as session:
                    await ledger.create_transfers(session, specs)
            except Exception as exc:  # counted and shown: a benchmark reports, it does not hide
                failures += 1
                if failures <= 3:
                    print(f"  {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            done += len(specs)

    # Warm up connections and prepared statements, then measure.
    deadline = time.perf_counter() + min(2.0, seconds / 5)
    await asyncio.gather(*(client() for _ in range(clients)))
    done = failures = 0
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client() for _ in range(clients)))
    return Result(name, done, time.perf_counter() - started, failures, clients)


def transfer(debit: uuid.UUID, credit: uuid.UUID) -> ledger.TransferSpec:
    # Random ids without the cost of uuid4()'s system call: the benchmark measures the ledger, not its generator.
    transfer_id = uuid.UUID(int=random.getrandbits(128), version=4)
    return ledger.TransferSpec(id=transfer_id, debit_account_id=debit, credit_account_id=credit, amount=1, code="bench")


def two_of(accounts: list[uuid.UUID]) -> tuple[uuid.UUID, uuid.UUID]:
    first = random.randrange(len(accounts))
    second = (first + 1 + random.randrange(len(accounts) - 1)) % len(accounts)
    return accounts[first], accounts[second]


async def run_ledger(url: str, args: argparse.Namespace) -> list[Result]:
    engine = make_engine(url, pool_size=max(args.clients, args.batch_clients))
    sessionmaker = make_sessionmaker(engine)
    try:
        print(f"setting up {args.accounts} accounts…", flush=True)
        wallets, hot = await setup_books(sessionmaker, args.accounts)

        def random_pair() -> list[ledger.TransferSpec]:
            return [transfer(*two_of(wallets))]

        def hot_pair() -> list[ledger.TransferSpec]:
            return [transfer(hot, random.choice(wallets))]

        def batch() -> list[ledger.TransferSpec]:
            return [transfer(*two_of(wallets)) for _ in range(args.batch_size)]

        results = []
        for name, clients, make in (
            ("single", args.clients, random_pair),
            ("hot", args.clients, hot_pair),
            ("batch", args.batch_clients, batch),
        ):
            if name not in args.scenarios:
                continue
            print(f"running ({name}) with {clients} clients for {args.seconds}s…", flush=True)
            results.append(await drive(name, clients, args.seconds, sessionmaker, make))
        return results
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> dict[str, float | int]:
    admin_url = postgres_admin_url()

    async def pgbench() -> float:
        print(f"pgbench TPC-B-like, -c {args.clients} -j 2 -T {args.pgbench_seconds}…", flush=True)
        async with scratch_database(admin_url, "cauri_bench_pgbench", migrate=False) as url:
            database = make_url(url).database or ""
            return await asyncio.to_thread(run_pgbench, admin_url, database, args.clients, args.pgbench_seconds)

    # pgbench before and after the ledger's scenarios: on a shared machine the load drifts, the mean is fairer.
    yardsticks: list[float] = []
    if args.pgbench_seconds > 0:
        yardsticks.append(await pgbench())
    async with scratch_database(admin_url, "cauri_bench_ledger") as url:
        results = await run_ledger(url, args)
    if args.pgbench_seconds > 0:
        yardsticks.append(await pgbench())
    pgbench_tps = sum(yardsticks) / len(yardsticks) if yardsticks else 0.0

    print()
    print(f"{'scenario':<42} {'clients':>7} {'transfers/s':>12} {'× pgbench':>10} {'target':>8} {'':>4}")
    runs = " / ".join(f"{tps:,.0f}" for tps in yardsticks)
    print(
        f"{'pgbench TPC-B-like (yardstick)':<42} {args.clients:>7} {pgbench_tps:>12,.0f} {1.0:>10.2f}"
        f"  (mean of the runs before / after: {runs})"
    )
    labels = {
        "single": "(a) 1 transfer per transaction",
        "hot": "(b) 1 per transaction, one hot account",
        "batch": f"(c) {args.batch_size:,} transfers per call",
    }
    summary: dict[str, float | int] = {"pgbench_tps": round(pgbench_tps, 1)}
    for name, tps in zip(("pgbench_tps_before", "pgbench_tps_after"), yardsticks, strict=False):
        summary[name] = round(tps, 1)
    for result in results:
        ratio = result.tps / pgbench_tps if pgbench_tps else 0.0
        target = TARGETS[result.name]
        verdict = "ok" if ratio >= target else "MISS"
        print(
            f"{labels[result.name]:<42} {result.clients:>7} {result.tps:>12,.0f} {ratio:>10.2f} "
            f"{'≥' + format(target, '.2f'):>8} {verdict:>4}"
            + (f"  ({result.failures} failed calls)" if result.failures else "")
        )
        summary[f"{result.name}_tps"] = round(result.tps, 1)
        summary[f"{result.name}_ratio"] = round(ratio, 3)
        summary[f"{result.name}_failures"] = result.failures
    summary["clients"] = args.clients
    summary["batch_clients"] = args.batch_clients
    summary["batch_size"] = args.batch_size
    summary["seconds"] = args.seconds
    return summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per ledger scenario")
    parser.add_argument("--pgbench-seconds", type=int, default=15, help="0 skips pgbench (no ratios)")
    parser.add_argument(
        "--scenarios", type=lambda text: text.split(","), default=["single", "hot", "batch"], help="e.g. single,hot"
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch-clients", type=int, default=4, help="concurrent clients in (c)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=10_000)
    return parser.parse_args()


if __name__ == "__main__":
    summary = asyncio.run(main(parse_args()))
    print(json.dumps(summary))
