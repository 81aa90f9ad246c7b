"""The ``cauri`` command: serve, worker, scheduler, db, admin, demo, keys …

Every command reads the same settings (``CAURI_*``) as the API, so the Dockerfile, docker-compose.yml and a
bare machine run exactly the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cauri.core.config import Settings, get_settings

if TYPE_CHECKING:
    from cauri.connectors.mobile_money.sandbox.shared import SharedSandbox

app = typer.Typer(no_args_is_help=True, help="Cauri: collect and pay out by mobile money.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
keys_app = typer.Typer(no_args_is_help=True, help="Encryption keys of stored secrets (CAURI_ENCRYPTION_KEYS).")
app.add_typer(keys_app, name="keys")
console = Console()
report_console = Console(stderr=True)  # reports on stderr: stdout stays for output a script reads (a new key)


SHUTDOWN_GRACE_SECONDS = 10


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default CAURI_LISTEN_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CAURI_LISTEN_PORT, 8000)")] = None,
    workers: Annotated[int, typer.Option(help="API processes (use a broker when > 1)")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code change (development)")] = False,
) -> None:
    """Serve the API and the console."""
    import os

    import uvicorn

    # The app is built by uvicorn (in each worker) from the environment: --host and --port go there too, so the
    # public base URL, hence the embedded sandbox's address given to payouts, follows them.
    if host is not None:
        os.environ["CAURI_LISTEN_HOST"] = host
    if port is not None:
        os.environ["CAURI_LISTEN_PORT"] = str(port)
    settings = get_settings()
    processes = 1 if reload else workers  # uvicorn runs one process when reloading, whatever --workers says
    shared_sandbox = _start_shared_sandbox(settings, processes)
    if shared_sandbox is not None:
        settings = get_settings()
    for warning in _several_processes_warnings(settings, processes):
        console.print(f"[yellow]{warning}[/]", soft_wrap=True)
    console.print(serve_banner(settings, processes), highlight=False, soft_wrap=True)
    try:
        uvicorn.run(
            "cauri.app:create_app",
            factory=True,
            host=settings.listen_host,
            port=settings.listen_port,
            workers=workers,
            reload=reload,
            proxy_headers=True,
            log_level=settings.log_level.lower(),
            access_log=False,  # our middleware writes one structured line per request
            # On SIGTERM a worker waits for its open requests and websockets, but not for ever: a phone that keeps
            # a message socket open must not hold a deployment (or the supervisor's join) hostage.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        )
    finally:
        if shared_sandbox is not None:
            shared_sandbox.stop()


def _start_shared_sandbox(settings: Settings, processes: int) -> SharedSandbox | None:
    """Several processes and the embedded sandbox: one sandbox process for all, its address in every worker's
    environment (CAURI_SANDBOX_SHARED_URL), since the simulator's books live in memory."""
    if processes <= 1 or not settings.embeds_sandbox:
        return None
    import os

    from cauri.connectors.mobile_money.sandbox.shared import start_shared_sandbox

    shared = start_shared_sandbox()
    os.environ["CAURI_SANDBOX_SHARED_URL"] = shared.url  # uvicorn's workers inherit it
    return shared


def serve_banner(settings: Settings, processes: int = 1) -> str:
    """Where everything is, as this process will really serve it."""
    base = settings.public_base_url.rstrip("/")
    lines = [
        f"Cauri listening on {settings.listen_host}:{settings.listen_port}, public address {base}",
        f"  console   {base}/console",
        f"  API docs  {base}/docs",
    ]
    if settings.embeds_sandbox and settings.sandbox_shared_url:
        lines.append(
            f"  sandbox   {settings.public_sandbox_url} (payment provider: one sandbox process for the "
            f"{processes} API processes, at {settings.sandbox_shared_url})"
        )
    elif settings.embeds_sandbox:
        lines.append(f"  sandbox   {settings.public_sandbox_url} (embedded payment provider)")
    elif settings.sandbox_url:
        lines.append(f"  sandbox   {settings.sandbox_url} (payment provider, CAURI_SANDBOX_URL)")
    return "\n".join(lines)


def _several_processes_warnings(settings: Settings, workers: int) -> list[str]:
    """What stays per process when ``cauri serve`` runs several (docs/operations.md, "What is per process")."""
    if workers <= 1:
        return []
    warnings = []
    if settings.broker_url is None:
        warnings.append("Several API processes without CAURI_BROKER_URL: each runs its own in-process jobs.")
    if settings.shared_redis_url is None:
        warnings.append(
            "Several API processes without CAURI_REDIS_URL: no caller cache (one query per request), "
            "login throttling and providers' rate limits and circuit breakers counted per process."
        )
    if settings.embeds_sandbox and not settings.sandbox_shared_url:
        warnings.append(
            "The embedded sandbox keeps its payments in each process's memory: run `cauri simulate sandbox` "
            "and set CAURI_SANDBOX_URL so that every process sees the same sandbox."
        )
    return warnings


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=1000, help="Jobs run at the same time")] = 10,
    metrics_port: Annotated[int, typer.Option(min=0, max=65535, help="Serve Prometheus /metrics here (0: off)")] = 0,
) -> None:
    """Run background jobs from the broker (CAURI_BROKER_URL). Stops cleanly on SIGTERM."""
    _run_job_process("worker", concurrency, metrics_port)


@app.command()
def scheduler() -> None:
    """Enqueue periodic jobs and ring again for lost ones. Several may run; none doubles a run."""
    _run_job_process("scheduler", 1, 0)


def _run_job_process(role: str, concurrency: int, metrics_port: int) -> None:
    import asyncio
    import signal

    from cauri.core.jobs.runtime import run_process
    from cauri.core.logging import configure_logging

    settings = get_settings()
    if settings.broker_url is None:
        console.print(
            f"[red]cauri {role} needs CAURI_BROKER_URL (redis://… or amqp://…).[/] "
            "Without a broker, `cauri serve` runs jobs and periodic jobs in its own process."
        )
        raise typer.Exit(2)
    configure_logging(settings.log_level, json=settings.log_json)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)  # job counters and durations of this process

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_process(settings, stop, role=role, concurrency=concurrency)

    asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations (SQLite or PostgreSQL, from CAURI_DATABASE_URL)."""
    from cauri.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]Database at {revision}.[/]")


@app.command()
def demo() -> None:
    """Seed the demo organisations (idempotent) and print their logins."""
    import asyncio

    from cauri.demo import seed_demo

    seeded = asyncio.run(seed_demo(get_settings()))
    console.print(f"Mot de passe de tous les comptes de démo : [bold]{seeded.password}[/]")
    admin = seeded.platform_admin
    console.print(f"  {admin.email:<34} {admin.full_name:<22} administrateur de la plateforme", soft_wrap=True)
    for summary in seeded.organizations:
        balance = f"{summary.available_balance:,}".replace(",", " ")
        console.print(f"[bold]Démo : {summary.organization}[/] — {balance} {summary.currency} disponibles")
        for user in summary.users:
            role = user.role.value if user.role else ""
            console.print(f"  {user.email:<34} {user.full_name:<22} {role}", soft_wrap=True)
    console.print("API : http://127.0.0.1:8000/docs (POST /api/v1/auth/login) — console : http://127.0.0.1:8000/")


@keys_app.command("generate")
def generate_key() -> None:
    """Print a new encryption key. Put it first in CAURI_ENCRYPTION_KEYS, keep the old ones after it."""
    from cauri.core.security import Encryptor

    typer.echo(Encryptor.generate_key())


@keys_app.command("rotate")
def rotate_keys() -> None:
    """Re-encrypt every stored secret (provider credentials, webhook and bulk callback secrets, stored idempotent
    answers) under the first key of CAURI_ENCRYPTION_KEYS.

    Procedure: generate a key, set CAURI_ENCRYPTION_KEYS="new,old", run this, then drop "old".
    All or nothing: if a secret cannot be decrypted with any listed key, nothing changes.
    """
    import asyncio

    from cauri.core.errors import AppError
    from cauri.key_rotation import rotate_all

    try:
        counts = asyncio.run(rotate_all(get_settings()))
    except AppError as exc:
        report_console.print(f"[red]{exc.message_en}[/]")
        raise typer.Exit(code=1) from None
    detail = ", ".join(f"{table}: {count}" for table, count in sorted(counts.items())) or "nothing stored"
    report_console.print(f"[green]{sum(counts.values())} secret(s) re-encrypted under the newest key ({detail}).[/]")


def _mount_module_commands() -> None:
    from cauri.modules import import_all

    for module in import_all("cli"):
        module.register(app)


_mount_module_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
