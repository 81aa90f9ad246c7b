"""Bulk disbursements on PostgreSQL: end-to-end throughput, ingestion of a million lines against COPY, and
throughput over HTTP against the concurrency bound.

    make bench-bulk            # or: .venv/bin/python bench/bulk.py [--lines 100000] [--parts e2e,ingest,http]

Each part runs in a fresh interpreter of its own (so its peak memory is its own) on a scratch database
(``cauri_bench_bulk_*``, dropped afterwards) of the server named by ``CAURI_BENCH_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``). Files are generated, never committed.

* ``e2e`` — a 100,000-line payment list through the service: validation (alone, then with storage), then
  transfers/s from the submission (reservation included) to the last line, paid through the sandbox provider
  whose simulator runs in the same process (served on loopback), and the process's peak resident memory. The
  sandbox has a bulk API, so lines go a thousand a call, as they would in production; ``--line-by-line`` pays
  one call per line instead (the path of providers without one).
  ``--e2e-provider mojaloop`` does the same through the Mojaloop SDK simulator (in process too).
* ``ingest`` — a 1,000,000-line file validated and stored (the upload's work), against ``COPY`` of the same file
  into a table of text columns in the same run (the yardstick): the time ratio and the peak resident memory.
* ``http`` — 20,000 lines paid through the Mojaloop simulator in another process, every answer delayed by
  ``--latency`` (200 ms), one call per line at ``--http-concurrency`` calls at once: transfers/s against the bound
  ``concurrency / latency``.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cauri.connectors.credentials import encryptor_for, save_credentials
from cauri.connectors.mobile_money.sandbox import SandboxSimulator
from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.logging import configure_logging
from cauri.core.principal import Principal
from cauri.disbursements import service
from cauri.disbursements.models import FINAL_BATCH_STATES, LINE_COPY_COLUMNS, BulkBatch
from cauri.disbursements.upload import UploadOptions, create_batch
from cauri.disbursements.validation import ValidationOptions, validate_bulk_file
from cauri.identity.models import Organization
from cauri.kit.simulation import SimulatorSettings
from cauri.kit.testing import serve_app
from cauri.ledger import service as ledger
from support import dsn, postgres_admin_url, scratch_database

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"e2e_tps": 2000.0, "ingest_ratio": 15.0, "ingest_peak_rss_mb": 300.0, "http_ratio": 0.8}
PAYER = "221770000001"


# -- shared ----------------------------------------------------------------------------------------------------


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_payment_list(path: Path, lines: int) -> int:
    """A French-Excel payment list of ``lines`` distinct valid Senegalese payees (no simulator magic suffix), for
    amounts the simulators' opening float (1 000 000 000 F CFA) covers even for 100,000 lines."""
    amounts = ("5 000", "2 500", "10 000", "7 500")
    number = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write("type_id;valeur_id;devise;montant;nom\r\n")
        block: list[str] = []
        for index in range(lines):
            while 901 <= number % 1000 <= 920:
                number += 1
            digits = f"{number:07d}"
            block.append(
                f"MSISDN;+221 77 {digits[0:3]} {digits[3:5]} {digits[5:7]};XOF;{amounts[index % 4]};"
                f"Bénéficiaire n° {index}\r\n"
            )
            number += 1
            if len(block) == 10_000:
                out.write("".join(block))
                block = []
        out.write("".join(block))
    return path.stat().st_size


async def organisation(sessionmaker: async_sessionmaker[AsyncSession], funds: int) -> uuid.UUID:
    organization_id = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        now = utcnow()
        session.add(
            Organization(
                id=organization_id,
                name="Caisse de retraite (bench)",
                slug=f"bench-{organization_id.hex[:10]}",
                default_region="SN",
                default_language="fr",
                require_maker_checker=False,
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        wallet = await ledger.operating_account(session, organization_id, "XOF")
        bank = await ledger.bank_deposits_account(session, organization_id, "XOF")
        await ledger.create_transfers(
            session,
            [
                ledger.TransferSpec(
                    id=uuid.uuid4(), debit_account_id=bank.id, credit_account_id=wallet.id, amount=funds, code="deposit"
                )
            ],
        )
    return organization_id


def operator(organization_id: uuid.UUID) -> Principal:
    return Principal(user_id=None, organization_id=organization_id, is_platform_admin=True)


async def ingest(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    organization_id: uuid.UUID,
    path: Path,
    provider: str | None = None,
) -> tuple[BulkBatch, float]:
    started = time.perf_counter()
    async with unit_of_work(sessionmaker) as session:
        with path.open("rb") as upload:
            batch, _ = await create_batch(
                session,
                upload=upload,
                options=UploadOptions(file_name=path.name, provider=provider),
                principal=operator(organization_id),
                organization_id=organization_id,
                settings=settings,
                sessionmaker=sessionmaker,
            )
    return batch, time.perf_counter() - started


async def pay(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, batch: BulkBatch, *, limit: float
) -> tuple[BulkBatch, float]:
    """Submit (the reservation, then the workers) and wait for the last line; the batch and the seconds."""
    from cauri.core.jobs.registry import load_job_modules
    from cauri.core.jobs.runtime import JobRuntime

    load_job_modules()
    runtime = JobRuntime(settings, sessionmaker, concurrency=settings.bulk_workers_per_batch + 4)
    await runtime.start(clock=True)
    try:
        started = time.perf_counter()
        async with unit_of_work(sessionmaker) as session:
            await service.submit(
                session,
                organization_id=batch.organization_id,
                batch_id=batch.id,
                principal=operator(batch.organization_id),
                settings=settings,
            )
        deadline = started + limit
        while True:
            async with sessionmaker() as session:
                current = await session.get(BulkBatch, batch.id)
                assert current is not None
                session.expunge(current)
            if current.state in FINAL_BATCH_STATES:
                return current, time.perf_counter() - started
            if time.perf_counter() > deadline:
                raise SystemExit(f"batch still {current.state} after {limit} s: {current.completed_lines} paid")
            await asyncio.sleep(0.2)
    finally:
        await runtime.stop()


def bench_settings(url: str, **values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "env": "development",
        "database_url": url,
        "database_pool_size": 20,
        "log_level": "WARNING",
        "bulk_poll_initial_seconds": 0.02,
        "bulk_poll_max_seconds": 0.5,
        "job_sweep_seconds": 2,
    }
    defaults.update(values)
    return Settings(**defaults)


# -- parts (each in its own interpreter) -------------------------------------------------------------------------


async def part_e2e(args: argparse.Namespace, admin_url: str, directory: Path) -> dict[str, Any]:
    """The sandbox provider, its simulator served by this very process: a bulk call and its status queries per
    thousand lines (or, ``--line-by-line``, a create and a status call per line)."""
    defaults = Settings()
    simulator = SandboxSimulator(
        api_key=defaults.sandbox_api_key.get_secret_value(),
        webhook_secret=defaults.sandbox_webhook_secret.get_secret_value(),
        settings=SimulatorSettings(settle_seconds=0.0),
    )
    async with serve_app(simulator.app) as url:
        # The sandbox's own limit (600 requests/min) stands for a real provider's quota: lifted here.
        extra: dict[str, Any] = {"sandbox_url": url, "bulk_provider_rate_limits": {"sandbox": "none"}}
        if args.line_by_line:
            extra["bulk_line_by_line_providers"] = {"sandbox"}
        result = await end_to_end(args, admin_url, directory, "sandbox", extra=extra, lines=args.lines)
    await simulator.aclose()
    return {**result, "simulator": "in process"}


async def part_e2e_bulk(args: argparse.Namespace, admin_url: str, directory: Path) -> dict[str, Any]:
    """Mojaloop's bulk API (a thousand lines a call), its simulator in a process of its own, so that the memory
    measured is this process's alone."""
    async with simulator_process("mojaloop", 0.0) as url:
        result = await end_to_end(
            args, admin_url, directory, "mojaloop", extra={"mojaloop_url": url}, lines=args.bulk_lines
        )
    return {**result, "simulator": "own process"}


async def end_to_end(
    args: argparse.Namespace, admin_url: str, directory: Path, provider: str, *, extra: dict[str, Any], lines: int
) -> dict[str, Any]:
    path = directory / f"paiements-{provider}.csv"
    size = write_payment_list(path, lines)
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as source:
        report = validate_bulk_file(source, ValidationOptions(batch_id=uuid.uuid4(), default_region="SN")).run()
    validate_only = time.perf_counter() - started
    validate_cpu = time.process_time() - cpu
    assert report.valid_lines == lines, report.to_dict()
    async with scratch_database(admin_url, "cauri_bench_bulk") as url:
        settings = bench_settings(
            url,
            bulk_provider_concurrency=args.concurrency,
            bulk_claim_size=args.claim_size,
            bulk_workers_per_batch=args.workers,
            **{key: value for key, value in extra.items() if key != "mojaloop_url"},
        )
        engine = make_engine(url, pool_size=settings.database_pool_size)
        sessionmaker = make_sessionmaker(engine)
        try:
            organization_id = await organisation(sessionmaker, 10**13)
            if provider == "mojaloop":
                await store_mojaloop_credentials(sessionmaker, settings, organization_id, extra["mojaloop_url"])
            batch, ingest_seconds = await ingest(sessionmaker, settings, organization_id, path, provider)
            assert batch.valid_lines == lines
            cpu = time.process_time()
            done, seconds = await pay(sessionmaker, settings, batch, limit=args.timeout)
            pay_cpu = time.process_time() - cpu
        finally:
            await engine.dispose()
    assert done.state == "COMPLETED" and done.completed_lines == lines, (done.state, done.completed_lines)
    return {
        "lines": lines,
        "file_mb": round(size / 2**20, 1),
        "provider": provider,
        "validate_only_s": round(validate_only, 2),
        "validate_only_cpu_s": round(validate_cpu, 2),
        "validate_s": round(ingest_seconds, 2),
        "pay_s": round(seconds, 2),
        "tps": round(lines / seconds, 1),
        "pay_cpu_s": round(pay_cpu, 1),
        "peak_rss_mb": round(memory_mb("VmHWM"), 1),
        "concurrency": args.concurrency,
        "workers": args.workers,
    }


async def store_mojaloop_credentials(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, organization_id: uuid.UUID, url: str
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await save_credentials(
            session,
            encryptor=encryptor_for(settings),
            organization_id=organization_id,
            provider="mojaloop",
            credentials={},
            settings={"base_url": url, "payer_id_value": PAYER},
        )


async def part_ingest(args: argparse.Namespace, admin_url: str, directory: Path) -> dict[str, Any]:
    path = directory / "paiements-1m.csv"
    size = write_payment_list(path, args.ingest_lines)
    baseline = memory_mb("VmRSS")
    async with scratch_database(admin_url, "cauri_bench_bulk") as url:
        connection = await asyncpg.connect(dsn(url))
        try:
            await connection.execute(
                "CREATE TABLE copy_yardstick (type_id text, valeur_id text, devise text, montant text, nom text)"
            )
            started = time.perf_counter()
            await connection.copy_to_table(
                "copy_yardstick", source=str(path), format="csv", delimiter=";", header=True, encoding="utf-8"
            )
            copy_seconds = time.perf_counter() - started
            copied = await connection.fetchval("SELECT count(*) FROM copy_yardstick")
        finally:
            await connection.close()
        assert copied == args.ingest_lines, copied
        rows_seconds = await copy_rows_floor(url, path)
        settings = bench_settings(url)
        engine = make_engine(url, pool_size=settings.database_pool_size)
        sessionmaker = make_sessionmaker(engine)
        try:
            organization_id = await organisation(sessionmaker, 10**13)
            cpu, children = time.process_time(), children_cpu_seconds()
            batch, seconds = await ingest(sessionmaker, settings, organization_id, path)
            cpu_seconds = time.process_time() - cpu
            child_cpu_seconds = children_cpu_seconds() - children  # the checking process
        finally:
            await engine.dispose()
    assert batch.valid_lines == args.ingest_lines, (batch.valid_lines, batch.invalid_lines)
    return {
        "lines": args.ingest_lines,
        "file_mb": round(size / 2**20, 1),
        "copy_1m_s": round(copy_seconds, 2),
        "copy_rows_1m_s": round(rows_seconds, 2),
        "ingest_1m_s": round(seconds, 2),
        "ingest_cpu_s": round(cpu_seconds, 1),
        "ingest_child_cpu_s": round(child_cpu_seconds, 1),
        "ingest_ratio": round(seconds / copy_seconds, 2),
        "ingest_lines_per_s": round(args.ingest_lines / seconds),
        "ingest_peak_rss_mb": round(memory_mb("VmHWM"), 1),
        "baseline_rss_mb": round(baseline, 1),
    }


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (user and system): the upload's checking process."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def copy_rows_floor(url: str, path: Path) -> float:
    """A second yardstick: the file's lines split without any check and copied as rows into a table shaped like
    ``bulk_lines`` (same columns and indexes), in chunks: what storing alone costs."""
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("CREATE TABLE copy_rows_yardstick (LIKE bulk_lines INCLUDING ALL)")
        columns = [*LINE_COPY_COLUMNS]
        batch_id, organization_id, now = uuid.uuid4(), uuid.uuid4(), utcnow()
        started = time.perf_counter()
        async with connection.transaction():
            with path.open(encoding="utf-8-sig") as source:
                next(source)
                records: list[tuple[Any, ...]] = []
                for number, text in enumerate(source, start=2):
                    kind, party, currency, amount, name = text.rstrip("\r\n").split(";")
                    records.append(
                        (
                            batch_id, number, organization_id, f"{batch_id}-{number}", False,
                            int(amount.replace(" ", "")), currency, kind, party.replace(" ", ""), name,
                            None, "PENDING", 0, 0, now,
                        )
                    )  # fmt: skip
                    if len(records) == 2000:
                        await connection.copy_records_to_table("copy_rows_yardstick", records=records, columns=columns)
                        records = []
                if records:
                    await connection.copy_records_to_table("copy_rows_yardstick", records=records, columns=columns)
        return time.perf_counter() - started
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def simulator_process(provider: str, latency: float) -> AsyncIterator[str]:
    """``cauri simulate <provider>`` in a process of its own (the provider is another machine)."""
    port = free_port()
    environment = {**os.environ, "CAURI_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, killed at the end
        [
            sys.executable,
            "-m",
            "cauri.cli",
            "simulate",
            provider,
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--settle",
            "0",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


async def part_http(args: argparse.Namespace, admin_url: str, directory: Path) -> dict[str, Any]:
    path = directory / "paiements-http.csv"
    write_payment_list(path, args.http_lines)
    async with (
        scratch_database(admin_url, "cauri_bench_bulk") as url,
        simulator_process("mojaloop", args.latency) as simulator_url,
    ):
        settings = bench_settings(
            url,
            bulk_provider_concurrency=args.http_concurrency,
            bulk_claim_size=args.http_concurrency * 2,
            bulk_workers_per_batch=2,
            bulk_line_by_line_providers={"mojaloop"},  # one call per line: the bound below is per call
        )
        engine = make_engine(url, pool_size=settings.database_pool_size)
        sessionmaker = make_sessionmaker(engine)
        try:
            organization_id = await organisation(sessionmaker, 10**13)
            await store_mojaloop_credentials(sessionmaker, settings, organization_id, simulator_url)
            batch, _ = await ingest(sessionmaker, settings, organization_id, path, "mojaloop")
            cpu = time.process_time()
            done, seconds = await pay(sessionmaker, settings, batch, limit=args.timeout)
            cpu_seconds = time.process_time() - cpu
        finally:
            await engine.dispose()
    assert done.state == "COMPLETED" and done.completed_lines == args.http_lines, (done.state, done.completed_lines)
    tps = args.http_lines / seconds
    bound = args.http_concurrency / args.latency
    return {
        "lines": args.http_lines,
        "provider": "mojaloop",
        "latency_s": args.latency,
        "concurrency": args.http_concurrency,
        "http_s": round(seconds, 2),
        "http_tps": round(tps, 1),
        "http_bound_tps": round(bound, 1),
        "http_ratio": round(tps / bound, 3),
        "http_cpu_s": round(cpu_seconds, 1),
    }


PARTS = {"e2e": part_e2e, "e2e_bulk": part_e2e_bulk, "ingest": part_ingest, "http": part_http}


# -- the parent --------------------------------------------------------------------------------------------------


def run_child(part: str, argv: list[str]) -> dict[str, Any]:
    print(f"running {part}…", flush=True)
    completed = subprocess.run(
        [sys.executable, __file__, "--child", part, *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-8000:])
        raise SystemExit(f"part {part} failed (exit {completed.returncode})")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    print()
    for part in ("e2e", "e2e_bulk"):
        e2e = results.get(part)
        if not e2e:
            continue
        print(
            f"{part:<8} {e2e['lines']:,} lines via {e2e['provider']} (simulator {e2e['simulator']}): validation "
            f"alone {e2e['validate_only_s']} s, validation + storage {e2e['validate_s']} s; paid in {e2e['pay_s']} s "
            f"= {e2e['tps']:,.0f} transfers/s (target ≥ {TARGETS['e2e_tps']:,.0f}: "
            f"{verdict(e2e['tps'] >= TARGETS['e2e_tps'])}), peak RSS {e2e['peak_rss_mb']} MB"
        )
        summary[f"{part}_tps"] = e2e["tps"]
        summary[f"{part}_peak_rss_mb"] = e2e["peak_rss_mb"]
        summary[f"{part}_pay_cpu_s"] = e2e["pay_cpu_s"]
        if part == "e2e":
            summary["validate_100k_s"] = e2e["validate_s"]
            summary["validate_only_100k_s"] = e2e["validate_only_s"]
    ingest_result = results.get("ingest")
    if ingest_result:
        ratio, peak = ingest_result["ingest_ratio"], ingest_result["ingest_peak_rss_mb"]
        print(
            f"ingest   {ingest_result['lines']:,} lines ({ingest_result['file_mb']} MB): "
            f"{ingest_result['ingest_1m_s']} s vs COPY {ingest_result['copy_1m_s']} s = {ratio}× "
            f"(storing the same rows unchecked: {ingest_result['copy_rows_1m_s']} s) "
            f"(target ≤ {TARGETS['ingest_ratio']}×: {verdict(ratio <= TARGETS['ingest_ratio'])}), "
            f"peak RSS {peak} MB (target ≤ {TARGETS['ingest_peak_rss_mb']}: "
            f"{verdict(peak <= TARGETS['ingest_peak_rss_mb'])})"
        )
        summary.update(
            {
                key: ingest_result[key]
                for key in (
                    "ingest_1m_s",
                    "copy_1m_s",
                    "copy_rows_1m_s",
                    "ingest_peak_rss_mb",
                    "ingest_ratio",
                    "ingest_cpu_s",
                )
            }
        )
    http = results.get("http")
    if http:
        print(
            f"http     {http['lines']:,} lines via {http['provider']} at {http['latency_s']} s per call, "
            f"{http['concurrency']} at once: {http['http_tps']:,.1f} transfers/s vs bound "
            f"{http['http_bound_tps']:,.0f} = {http['http_ratio']:.0%} (target ≥ {TARGETS['http_ratio']:.0%}: "
            f"{verdict(http['http_ratio'] >= TARGETS['http_ratio'])})"
        )
        summary.update({key: http[key] for key in ("http_tps", "http_bound_tps", "http_ratio")})
    return summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=lambda text: text.split(","), default=list(PARTS))
    parser.add_argument("--lines", type=int, default=100_000, help="e2e: lines of the file")
    parser.add_argument("--bulk-lines", type=int, default=100_000, help="e2e_bulk: lines of the file")
    parser.add_argument("--concurrency", type=int, default=64, help="e2e: provider calls at once")
    parser.add_argument("--claim-size", type=int, default=200, help="e2e: lines a worker claims at once")
    parser.add_argument("--workers", type=int, default=4, help="e2e: worker jobs on the batch")
    parser.add_argument("--line-by-line", action="store_true", help="e2e: one sandbox call per line, not bulks")
    parser.add_argument("--ingest-lines", type=int, default=1_000_000)
    parser.add_argument("--http-lines", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.2, help="http: seconds the simulator takes per answer")
    parser.add_argument("--http-concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a batch may take before giving up")
    parser.add_argument("--child", choices=list(PARTS), help=argparse.SUPPRESS)
    return parser.parse_args()


def forwarded(args: argparse.Namespace) -> list[str]:
    return [
        f"--lines={args.lines}",
        f"--bulk-lines={args.bulk_lines}",
        f"--concurrency={args.concurrency}",
        f"--claim-size={args.claim_size}",
        f"--workers={args.workers}",
        f"--ingest-lines={args.ingest_lines}",
        f"--http-lines={args.http_lines}",
        f"--latency={args.latency}",
        f"--http-concurrency={args.http_concurrency}",
        f"--timeout={args.timeout}",
        *(["--line-by-line"] if args.line_by_line else []),
    ]


async def child(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    configure_logging("WARNING")
    admin_url = postgres_admin_url()
    with tempfile.TemporaryDirectory(prefix="cauri-bench-bulk-") as directory:
        result: dict[str, Any] = await PARTS[args.child](args, admin_url, Path(directory))
        return result


def main() -> None:
    args = parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args))))
        return
    results = {part: run_child(part, forwarded(args)) for part in args.parts}
    for part, result in results.items():
        print(f"{part}: {json.dumps(result)}")
    summary = report(results)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
