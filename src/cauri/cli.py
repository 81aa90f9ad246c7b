"""The ``cauri`` command: serve, worker, scheduler, db, admin, demo, keys …

Every command reads the same settings (``CAURI_*``) as the API, so the Dockerfile, docker-compose.yml and a
bare machine run exactly the same thing.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cauri.core.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Cauri: collect and pay out by mobile money.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
console = Console()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes (use a broker when > 1)")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code change (development)")] = False,
) -> None:
    """Serve the API and the console."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and settings.broker_url is None:
        console.print("[yellow]Several API processes without CAURI_BROKER_URL: each runs its own in-process jobs.[/]")
    uvicorn.run(
        "cauri.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        access_log=False,  # our middleware writes one structured line per request
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations (SQLite or PostgreSQL, from CAURI_DATABASE_URL)."""
    from cauri.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]Database at {revision}.[/]")


def _mount_module_commands() -> None:
    from cauri.modules import import_all

    for module in import_all("cli"):
        module.register(app)


_mount_module_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
