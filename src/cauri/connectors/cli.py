"""``cauri simulate <provider>``: a provider's simulator on a port, with the credentials you choose.

Each credential field of the provider (``docs/providers/<provider>.md``, or the error listing them) comes from,
in order: ``--credential NAME=VALUE`` (repeatable), the environment variable ``CAURI_SIMULATE_<PROVIDER>_<NAME>``
(``CAURI_SIMULATE_MTN_MOMO_API_KEY``), the provider's development credentials in the ``CAURI_*`` settings (the
sandbox), and otherwise the simulator's published demo value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr
from rich.console import Console

from cauri.core.config import Settings, get_settings

if TYPE_CHECKING:  # the registry imports every provider: only ``simulate`` needs it, late
    from starlette.types import ASGIApp

    from cauri.connectors.registry import ProviderSpec

console = Console(stderr=True)


class CredentialOptionError(ValueError):
    """A ``--credential`` that is not ``NAME=VALUE`` or names no credential field of the provider."""


def environment_variable(provider: str, field: str) -> str:
    return f"CAURI_SIMULATE_{provider}_{field}".upper()


def chosen_credentials(
    provider: str,
    fields: Sequence[str],
    development: Mapping[str, SecretStr],
    options: Sequence[str],
    environ: Mapping[str, str],
) -> dict[str, SecretStr]:
    """Options, then environment, then the development settings, for the credential ``fields`` of ``provider``."""
    chosen: dict[str, SecretStr] = dict(development)
    for field in fields:
        value = environ.get(environment_variable(provider, field))
        if value:
            chosen[field] = SecretStr(value)
    for option in options:
        name, sign, value = option.partition("=")
        if not sign or name not in fields:
            known = ", ".join(fields) or "none"
            raise CredentialOptionError(f"--credential {name!r}: expected NAME=VALUE with NAME one of: {known}")
        chosen[name] = SecretStr(value)
    return chosen


def simulator_credentials(
    spec: ProviderSpec, settings: Settings, options: Sequence[str], environ: Mapping[str, str]
) -> dict[str, SecretStr]:
    """The credentials a simulator accepts: options, then environment, then the development settings."""
    development = dict(spec.dev_credentials(settings)) if spec.dev_credentials else {}
    fields = [field.name for field in spec.credential_fields]
    return chosen_credentials(spec.name, fields, development, options, environ)


def simulate(  # noqa: PLR0917 - typer maps each option to a parameter
    provider: Annotated[
        str,
        typer.Argument(help="A provider: sandbox, an SMS provider (africastalking, twilio, orange_sms), fcm, square…"),
    ],
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8090,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer")] = 0.0,
    settle: Annotated[float, typer.Option(help="Seconds before a payment settles (the payer confirming)")] = 2.0,
    slow: Annotated[float, typer.Option(help="Seconds the 'slow' outcome takes")] = 3.0,
    hang: Annotated[float, typer.Option(help="Seconds the 'timeout after accepting' outcome hangs")] = 35.0,
    expiry: Annotated[float, typer.Option(help="Seconds before the 'expires' outcome expires")] = 30.0,
    late_callback: Annotated[float, typer.Option(help="Delay of the 'late callback' outcome")] = 10.0,
    credential: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE, a credential the simulator accepts (else CAURI_SIMULATE_<PROVIDER>_<NAME>)"),
    ] = None,
) -> None:
    """Run a provider's simulator, accepting the credentials given (options, environment, CAURI_* settings)."""
    import uvicorn

    from cauri.connectors.registry import ConnectorConfig, registry
    from cauri.connectors.restaurant.simulators import RESTAURANT_SIMULATORS
    from cauri.kit.simulation import SimulatorSettings
    from cauri.notifications.push.simulators import PUSH_SIMULATORS
    from cauri.notifications.sms.simulators import SMS_SIMULATORS

    settings = get_settings()
    timings = SimulatorSettings(
        latency_seconds=latency,
        settle_seconds=settle,
        slow_seconds=slow,
        hang_seconds=hang,
        expiry_seconds=expiry,
        late_callback_seconds=late_callback,
    )
    sms = SMS_SIMULATORS.get(provider) or PUSH_SIMULATORS.get(provider)
    restaurant = RESTAURANT_SIMULATORS.get(provider)
    try:
        if restaurant is not None:  # a restaurant connector (POS, supplier, reservations, CRM)
            credentials = chosen_credentials(provider, restaurant.fields, {}, credential or [], os.environ)
            simulator: ASGIApp = restaurant.build(timings, credentials)
            display_name = provider
        elif sms is not None:  # a notification channel (SMS: its callbacks go to this service's public routes)
            development = sms.dev_credentials(settings)
            credentials = chosen_credentials(provider, sms.fields, development, credential or [], os.environ)
            simulator = sms.build(timings, credentials, settings).app
            display_name = provider
        else:
            spec = registry.get(provider)
            if spec.simulator is None:
                console.print(f"[red]Provider {provider!r} has no simulator.[/]")
                raise typer.Exit(code=1)
            credentials = simulator_credentials(spec, settings, credential or [], os.environ)
            config = ConnectorConfig(provider=provider, credentials=credentials)
            simulator = spec.simulator(timings, config).app
            display_name = spec.display_name
    except (LookupError, ValueError) as exc:  # a bad --credential (CredentialOptionError), an unreadable PEM key
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from None
    console.print(
        f"[green]{display_name}[/] on http://{host}:{port} "
        f"(credentials given: {', '.join(sorted(credentials)) or 'none'}; the others are the simulator's demo values)"
    )
    uvicorn.run(simulator, host=host, port=port, log_level=settings.log_level.lower())


def register(cli: typer.Typer) -> None:
    cli.command("simulate")(simulate)
