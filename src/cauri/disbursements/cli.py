"""``cauri bulk submit FILE --org … [--approve] --wait``: a payment list from the shell, with a live progress bar.

The command acts for a member of the organisation (``--as``, a GESTIONNAIRE or anyone holding ``bulk_create``),
or for the platform operator running it when ``--as`` is omitted. Under maker–checker, ``--approve`` needs
``--approver``: another member holding ``bulk_approve`` (the command never approves its own maker's batch).
Every step goes through the same service functions as the API, audited the same way.

Without ``CAURI_BROKER_URL`` the command runs the batch's jobs in its own process while it waits (the embedded
default); with a broker, ``cauri worker`` processes do, and the command only watches.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings, get_settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.errors import AppError
from cauri.core.i18n import Language, pick
from cauri.core.logging import configure_logging
from cauri.core.money import Money, format_money
from cauri.core.principal import Principal
from cauri.disbursements import service
from cauri.disbursements.callbacks import progress_percent
from cauri.disbursements.errors import InvalidBulkFile
from cauri.disbursements.models import FINAL_BATCH_STATES, BatchState, BulkBatch, BulkLine, LineState
from cauri.disbursements.upload import UploadOptions, create_batch
from cauri.identity.models import Membership, Organization, User
from cauri.identity.permissions import Perm, has_permission
from cauri.payments.outcomes import failure_message

console = Console()
bulk_app = typer.Typer(no_args_is_help=True, help="Bulk disbursements: pay a list of people from a file.")

EXIT_REFUSED = 1  # the file, an actor or an action was refused
EXIT_NOT_COMPLETED = 3  # the batch ended PARTIALLY_COMPLETED, FAILED or CANCELLED


def register(cli: typer.Typer) -> None:
    cli.add_typer(bulk_app, name="bulk")


class Refused(Exception):
    """A reason to stop, already worded for the operator."""


@dataclass(frozen=True)
class Request:
    file: Path
    org: str
    maker: str | None
    approver: str | None
    approve: bool
    wait: bool
    provider: str | None
    language: Language


async def _organization(session: AsyncSession, reference: str, language: Language) -> Organization:
    try:
        condition = or_(Organization.slug == reference, Organization.id == uuid.UUID(reference))
    except ValueError:
        condition = Organization.slug == reference
    found = (await session.execute(select(Organization).where(condition))).scalar_one_or_none()
    if found is None:
        raise Refused(pick(f"Organisation introuvable : {reference}", f"Organisation not found: {reference}", language))
    return found


async def _member(
    session: AsyncSession, organization: Organization, email: str | None, perm: Perm, language: Language
) -> Principal:
    """The principal of ``email`` in the organisation (the operator when None), if it holds ``perm``."""
    if email is None:
        return Principal(user_id=None, organization_id=organization.id, is_platform_admin=True, language=language)
    row = (
        await session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(User.email == email.strip().lower(), Membership.organization_id == organization.id)
        )
    ).one_or_none()
    if row is None:
        raise Refused(
            pick(
                f"{email} n'est pas membre de « {organization.name} ».",
                f"{email} is not a member of '{organization.name}'.",
                language,
            )
        )
    user, role = row
    principal = Principal(user_id=user.id, organization_id=organization.id, roles=frozenset({role}), language=language)
    if not has_permission(principal, perm):
        raise Refused(
            pick(
                f"Le rôle de {email} ({role}) ne permet pas cette action.",
                f"{email}'s role ({role}) does not allow this action.",
                language,
            )
        )
    return principal


def _money(amount: int, currency: str | None, language: Language) -> str:
    if currency is None:
        return str(amount)
    return format_money(Money(amount, currency), "fr_SN" if language == "fr" else "en")


def _print_report(batch: BulkBatch, language: Language) -> None:
    console.print(
        pick(
            f"Fichier « {batch.file_name} » : {batch.valid_lines} ligne(s) valide(s), "
            f"{batch.invalid_lines} en erreur, {batch.warning_lines} à vérifier ; "
            f"total {_money(batch.total_amount, batch.currency, 'fr')}.",
            f"File '{batch.file_name}': {batch.valid_lines} valid line(s), {batch.invalid_lines} with errors, "
            f"{batch.warning_lines} to review; total {_money(batch.total_amount, batch.currency, 'en')}.",
            language,
        )
    )
    for issue in (batch.report or {}).get("issues", [])[:10]:
        where = pick(f"Ligne {issue['line']}", f"Line {issue['line']}", language)
        console.print(f"  [yellow]{where}[/] : {pick(issue['message_fr'], issue['message_en'], language)}")


async def _read(sessionmaker: async_sessionmaker[AsyncSession], batch_id: uuid.UUID) -> BulkBatch:
    async with sessionmaker() as session:
        batch = await session.get(BulkBatch, batch_id)
        assert batch is not None
        session.expunge(batch)
        await session.rollback()
        return batch


async def _watch(sessionmaker: async_sessionmaker[AsyncSession], batch: BulkBatch, language: Language) -> BulkBatch:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(pick("Paiements", "Payments", language), total=batch.valid_lines)
        while True:
            batch = await _read(sessionmaker, batch.id)
            done = batch.completed_lines + batch.failed_lines + batch.cancelled_lines
            state = pick(f"Paiements · {batch.state}", f"Payments · {batch.state}", language)
            progress.update(task, completed=done, description=state)
            if batch.state in FINAL_BATCH_STATES:
                return batch
            await asyncio.sleep(0.5)


async def _summary(sessionmaker: async_sessionmaker[AsyncSession], batch: BulkBatch, language: Language) -> None:
    table = Table(title=pick(f"Lot {batch.id}", f"Batch {batch.id}", language))
    table.add_column(pick("Résultat", "Outcome", language))
    table.add_column(pick("Lignes", "Lines", language), justify="right")
    table.add_column(pick("Montant", "Amount", language), justify="right")
    table.add_row(
        pick("Payées", "Paid", language),
        str(batch.completed_lines),
        _money(batch.completed_amount, batch.currency, language),
    )
    table.add_row(
        pick("En échec", "Failed", language),
        str(batch.failed_lines),
        _money(batch.failed_amount, batch.currency, language),
    )
    table.add_row(pick("Annulées", "Cancelled", language), str(batch.cancelled_lines), "")
    table.add_row(
        pick("Total", "Total", language), str(batch.valid_lines), _money(batch.total_amount, batch.currency, language)
    )
    console.print(table)
    async with sessionmaker() as session:
        reasons = (
            await session.execute(
                select(BulkLine.failure_reason, func.count())
                .where(BulkLine.batch_id == batch.id, BulkLine.state == LineState.FAILED.value)
                .group_by(BulkLine.failure_reason)
                .order_by(func.count().desc())
            )
        ).all()
        await session.rollback()
    for reason, count in reasons:
        console.print(f"  [red]{count}[/] × {failure_message(reason, language)} ({reason})")
    console.print(
        pick(
            f"État final : [bold]{batch.state}[/] ({progress_percent(batch)} %)",
            f"Final state: [bold]{batch.state}[/]",
            language,
        )
    )


async def _run(settings: Settings, request: Request) -> int:
    from cauri.core.jobs.registry import load_job_modules
    from cauri.core.jobs.runtime import JobRuntime

    language = request.language
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessionmaker = make_sessionmaker(engine)
    load_job_modules(settings.extra_job_modules)
    runtime = JobRuntime(settings, sessionmaker)
    await runtime.start(clock=runtime.in_process)  # embedded: this process runs the jobs while it waits
    try:
        async with unit_of_work(sessionmaker) as session:
            organization = await _organization(session, request.org, language)
            maker = await _member(session, organization, request.maker, Perm.BULK_CREATE, language)
            approver = None
            if request.approve and request.approver is not None:
                approver = await _member(session, organization, request.approver, Perm.BULK_APPROVE, language)
            with request.file.open("rb") as upload:
                batch, _ = await create_batch(
                    session,
                    upload=upload,
                    options=UploadOptions(file_name=request.file.name, provider=request.provider),
                    principal=maker,
                    organization_id=organization.id,
                    settings=settings,
                    sessionmaker=sessionmaker,
                )
            maker_checker = organization.require_maker_checker
        _print_report(batch, language)
        if batch.valid_lines == 0:
            console.print(pick("[red]Aucune ligne à payer.[/]", "[red]No line to pay.[/]", language))
            return EXIT_REFUSED
        async with unit_of_work(sessionmaker) as session:
            batch = await service.submit(
                session, organization_id=organization.id, batch_id=batch.id, principal=maker, settings=settings
            )
        if batch.state == BatchState.AWAITING_APPROVAL and request.approve:
            if approver is None:
                raise Refused(
                    pick(
                        "Cette organisation exige une deuxième personne : indiquez --approver EMAIL.",
                        "This organisation requires a second person: give --approver EMAIL.",
                        language,
                    )
                )
            async with unit_of_work(sessionmaker) as session:
                batch = await service.approve(
                    session, organization_id=organization.id, batch_id=batch.id, principal=approver, settings=settings
                )
        console.print(pick(f"Lot {batch.id} : {batch.state}", f"Batch {batch.id}: {batch.state}", language))
        if batch.state == BatchState.AWAITING_APPROVAL and maker_checker:
            console.print(
                pick(
                    "En attente de l'approbation d'une autre personne (console ou API).",
                    "Waiting for another person's approval (console or API).",
                    language,
                )
            )
        if not request.wait:
            return 0
        batch = await _watch(sessionmaker, batch, language)
        await _summary(sessionmaker, batch, language)
        return 0 if batch.state == BatchState.COMPLETED else EXIT_NOT_COMPLETED
    finally:
        await runtime.stop()
        await engine.dispose()


@bulk_app.command("submit")
def submit(  # noqa: PLR0917 - typer maps each option to a parameter
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or .xlsx list")],
    org: Annotated[str, typer.Option("--org", help="Organisation id or slug")],
    maker: Annotated[str | None, typer.Option("--as", help="E-mail of the member who submits (default: you)")] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve as well (maker-checker: with --approver)")
    ] = False,
    approver: Annotated[str | None, typer.Option("--approver", help="E-mail of the member who approves")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the payments to the end")] = False,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider (default: the platform's)")] = None,
    language: Annotated[str | None, typer.Option("--lang", help="fr or en (default: CAURI_DEFAULT_LANGUAGE)")] = None,
) -> None:
    """Validate FILE, submit its valid lines, optionally approve, and follow the batch to its end."""
    settings = get_settings()
    # The progress bar is the command's output: only warnings and errors are logged around it.
    configure_logging("WARNING" if settings.log_level.upper() in ("DEBUG", "INFO") else settings.log_level, json=False)
    chosen: Language = "en" if (language or settings.default_language) == "en" else "fr"
    request = Request(file, org, maker, approver, approve, wait, provider, chosen)
    try:
        code = asyncio.run(_run(settings, request))
    except InvalidBulkFile as error:
        console.print(f"[red]{pick(error.message_fr, error.message_en, chosen)}[/]")
        raise typer.Exit(EXIT_REFUSED) from None
    except Refused as refusal:
        console.print(f"[red]{refusal}[/]")
        raise typer.Exit(EXIT_REFUSED) from None
    except AppError as error:
        console.print(f"[red]{pick(error.message_fr, error.message_en, chosen)}[/] ({error.code})")
        raise typer.Exit(EXIT_REFUSED) from None
    raise typer.Exit(code)
