"""``cauri admin create``: make a user (optionally platform admin, optionally in an organisation) from a shell.

Safe to run twice: an existing account keeps its password and only gains what was asked (platform admin flag,
membership of the organisation), and the command says what it did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings, get_settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.core.errors import AppError
from cauri.core.phone import normalise_phone
from cauri.identity import caller_cache
from cauri.identity.audit import record_audit
from cauri.identity.models import Membership, Organization, User
from cauri.identity.organizations import create_organization
from cauri.identity.permissions import Role
from cauri.identity.schemas import PASSWORD_MIN, OrganizationCreate, normalise_email
from cauri.identity.service import Identifier, create_user, find_user, hash_password_off_loop, user_actor

console = Console()
admin_app = typer.Typer(no_args_is_help=True, help="Users and organisations, from the command line.")


@dataclass
class AccountRequest:
    email: str | None
    phone: str | None
    password: str
    full_name: str
    language: str
    platform_admin: bool
    organization_name: str | None
    role: Role


@dataclass
class Outcome:
    user_id: str = ""
    done: list[str] = field(default_factory=list)


async def _user_for(session: AsyncSession, request: AccountRequest, outcome: Outcome) -> User:
    for identifier in (Identifier("email", request.email or ""), Identifier("phone", request.phone or "")):
        if identifier.value and (existing := await find_user(session, identifier)) is not None:
            outcome.done.append(f"user {identifier.value} already exists: password left unchanged")
            return existing
    user = await create_user(
        session,
        email=request.email,
        phone=request.phone,
        password_hash=await hash_password_off_loop(request.password),
        full_name=request.full_name,
        language=request.language,
    )
    outcome.done.append(f"user {request.email or request.phone} created")
    return user


async def _join_organization(
    session: AsyncSession, settings: Settings, user: User, request: AccountRequest, outcome: Outcome
) -> None:
    assert request.organization_name is not None
    organization = (
        (
            await session.execute(
                select(Organization)
                .where(Organization.name == request.organization_name)
                .order_by(Organization.created_at)
            )
        )
        .scalars()
        .first()
    )
    if organization is None:
        organization = await create_organization(
            session,
            settings,
            owner=user,
            data=OrganizationCreate(name=request.organization_name, default_language=request.language),
            actor=user_actor(user),
            ip=None,
        )
        outcome.done.append(f"organisation {organization.name!r} created ({organization.slug})")
        if request.role is Role.OWNER:
            return
        founding = (
            await session.execute(select(Membership).where(Membership.organization_id == organization.id))
        ).scalar_one()
        founding.role = request.role.value
        outcome.done.append(f"role {request.role.value}")
        return
    membership = (
        await session.execute(
            select(Membership).where(Membership.organization_id == organization.id, Membership.user_id == user.id)
        )
    ).scalar_one_or_none()
    if membership is not None:
        outcome.done.append(f"already {membership.role} of {organization.name!r}")
        return
    session.add(Membership(organization_id=organization.id, user_id=user.id, role=request.role.value))
    outcome.done.append(f"added to {organization.name!r} as {request.role.value}")


async def create_account(settings: Settings, request: AccountRequest) -> Outcome:
    outcome = Outcome()
    engine = make_engine(settings.database_url)
    try:
        maker = make_sessionmaker(engine)
        async with caller_cache.publishing(settings, maker), unit_of_work(maker) as session:
            user = await _user_for(session, request, outcome)
            if request.platform_admin and not user.is_platform_admin:
                user.is_platform_admin = True
                outcome.done.append("platform admin")
            if request.organization_name:
                await _join_organization(session, settings, user, request, outcome)
            await record_audit(
                session,
                action="admin.cli_create",
                organization_id=None,
                actor=None,
                target_type="user",
                target_id=str(user.id),
                changes={"done": outcome.done},
            )
            outcome.user_id = str(user.id)
    finally:
        await engine.dispose()
    return outcome


def _validated(email: str | None, phone: str | None, password: str, region: str) -> tuple[str | None, str | None]:
    if not email and not phone:
        raise typer.BadParameter("give --email or --phone (or both)")
    if len(password) < PASSWORD_MIN:
        raise typer.BadParameter(f"the password needs at least {PASSWORD_MIN} characters", param_hint="--password")
    try:
        checked_email = normalise_email(email.strip()) if email else None
    except ValueError:
        raise typer.BadParameter("invalid e-mail address", param_hint="--email") from None
    try:
        checked_phone = normalise_phone(phone, region) if phone else None
    except AppError:
        raise typer.BadParameter(f"invalid phone number for region {region}", param_hint="--phone") from None
    return checked_email, checked_phone


@admin_app.command("create")
def create(
    *,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password")],
    email: Annotated[str | None, typer.Option(help="E-mail address")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number (local numbers use CAURI_DEFAULT_REGION)")] = None,
    full_name: Annotated[str | None, typer.Option("--name", help="Full name")] = None,
    language: Annotated[str, typer.Option(help="fr or en")] = "fr",
    platform_admin: Annotated[bool, typer.Option("--platform-admin", help="Administer the whole platform")] = False,
    org: Annotated[str | None, typer.Option(help="Organisation name: joined, or created when missing")] = None,
    role: Annotated[Role, typer.Option(help="Role in --org")] = Role.OWNER,
) -> None:
    """Create a user (or complete an existing one): platform admin, member of an organisation."""
    settings = get_settings()
    checked_email, checked_phone = _validated(email, phone, password, settings.default_region)
    if language not in ("fr", "en"):
        raise typer.BadParameter("fr or en", param_hint="--language")
    request = AccountRequest(
        email=checked_email,
        phone=checked_phone,
        password=password,
        full_name=(full_name or (checked_email or checked_phone or "")).strip()[:200],
        language=language,
        platform_admin=platform_admin,
        organization_name=org.strip() if org else None,
        role=role,
    )
    try:
        outcome = asyncio.run(create_account(settings, request))
    except AppError as exc:
        console.print(f"[red]{exc.message_en}[/]")
        raise typer.Exit(code=1) from None
    console.print(f"[green]{'; '.join(outcome.done)}[/] (user id {outcome.user_id})")


def register(cli: typer.Typer) -> None:
    cli.add_typer(admin_app, name="admin")
