"""``cauri simulate <provider>``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cauri.core.config import get_settings

console = Console(stderr=True)


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
    from cauri.kit.simulation import SimulatorSettings

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
    cli.command("simulate")(simulate)
