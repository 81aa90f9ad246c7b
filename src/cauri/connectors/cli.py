"""``cauri keys rotate|generate`` and ``cauri simulate <provider>``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from cauri.core.config import Settings, get_settings

console = Console(stderr=True)
keys_app = typer.Typer(no_args_is_help=True, help="Encryption keys of stored secrets (CAURI_ENCRYPTION_KEYS).")


@keys_app.command("generate")
def generate_key() -> None:
    """Print a new encryption key. Put it first in CAURI_ENCRYPTION_KEYS, keep the old ones after it."""
    from cauri.core.security import Encryptor

    typer.echo(Encryptor.generate_key())


async def rotate_all(settings: Settings) -> dict[str, int]:
    from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
    from cauri.core.key_rotation import rotate_secrets
    from cauri.core.security import Encryptor

    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            return dict(await rotate_secrets(session, encryptor=Encryptor(settings.encryption_key_list)))
    finally:
        await engine.dispose()


@keys_app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret (provider credentials, webhook and bulk callback secrets, stored idempotent
    answers) under the first key of CAURI_ENCRYPTION_KEYS.

    Procedure: generate a key, set CAURI_ENCRYPTION_KEYS="new,old", run this, then drop "old".
    All or nothing: if a secret cannot be decrypted with any listed key, nothing changes.
    """
    from cauri.core.errors import AppError

    settings = get_settings()
    try:
        counts = asyncio.run(rotate_all(settings))
    except AppError as exc:
        console.print(f"[red]{exc.message_en}[/]")
        raise typer.Exit(code=1) from None
    detail = ", ".join(f"{table}: {count}" for table, count in sorted(counts.items())) or "nothing stored"
    console.print(f"[green]{sum(counts.values())} secret(s) re-encrypted under the newest key ({detail}).[/]")


def simulate(  # noqa: PLR0917 - typer maps each option to a parameter
    provider: Annotated[str, typer.Argument(help="A registered provider, e.g. sandbox")],
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8090,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer")] = 0.0,
    settle: Annotated[float, typer.Option(help="Seconds before a payment settles (the payer confirming)")] = 2.0,
    slow: Annotated[float, typer.Option(help="Seconds the 'slow' outcome takes")] = 3.0,
    hang: Annotated[float, typer.Option(help="Seconds the 'timeout after accepting' outcome hangs")] = 35.0,
    expiry: Annotated[float, typer.Option(help="Seconds before the 'expires' outcome expires")] = 30.0,
    late_callback: Annotated[float, typer.Option(help="Delay of the 'late callback' outcome")] = 10.0,
) -> None:
    """Run a provider's simulator, with the development credentials of CAURI_* settings."""
    import uvicorn

    from cauri.connectors.registry import ConnectorConfig, registry
    from cauri.connectors.simulation import SimulatorSettings

    settings = get_settings()
    spec = registry.get(provider)
    if spec.simulator is None:
        console.print(f"[red]Provider {provider!r} has no simulator.[/]")
        raise typer.Exit(code=1)
    credentials = spec.dev_credentials(settings) if spec.dev_credentials else {}
    config = ConnectorConfig(provider=provider, credentials=credentials)
    timings = SimulatorSettings(
        latency_seconds=latency,
        settle_seconds=settle,
        slow_seconds=slow,
        hang_seconds=hang,
        expiry_seconds=expiry,
        late_callback_seconds=late_callback,
    )
    simulator = spec.simulator(timings, config)
    console.print(
        f"[green]{spec.display_name}[/] on http://{host}:{port} "
        f"(credentials: {', '.join(sorted(credentials)) or 'simulator defaults'} from the CAURI_* settings)"
    )
    uvicorn.run(simulator.app, host=host, port=port, log_level=settings.log_level.lower())


def register(cli: typer.Typer) -> None:
    cli.add_typer(keys_app, name="keys")
    cli.command("simulate")(simulate)
