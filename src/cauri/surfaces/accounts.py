"""What the three surfaces share about accounts: logging in with a ``username``, reading a body sent as JSON or as
a form, and a person's profile in the operator organisation. Thin calls into identity's services."""

from __future__ import annotations

import uuid
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.errors import AppError, field_error
from cauri.identity import auth_routes, service
from cauri.identity.deps import settings_of
from cauri.identity.models import Membership, User
from cauri.identity.schemas import LoginRequest, TokenPair, normalise_email
from cauri.identity.service import Identifier
from cauri.surfaces.registry import operator_id

Body = TypeVar("Body", bound=BaseModel)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_body(request: Request, model: type[Body]) -> Body:
    """``model`` from a JSON body or a form (the seeds' OAuth 2 clients post the login as a form); bad input is
    the usual 422 problem naming the field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in FORM_TYPES:
            async with request.form(max_files=0, max_fields=20) as form:
                return model.model_validate({name: value for name, value in form.items() if isinstance(value, str)})
        return model.model_validate_json(await request.body() or b"null")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False), body=None) from None


def identifier_from_username(username: str, region: str) -> Identifier:
    """The seeds' ``username``: an e-mail address or a phone number (Cauri's accounts have no other name)."""
    text = username.strip()
    try:
        if "@" in text:
            return Identifier("email", normalise_email(text))
        return service.identifier_of(None, text, region)
    except (ValueError, AppError):
        raise field_error(
            "username",
            "invalid_username",
            "Identifiant invalide : saisissez votre adresse e-mail ou votre numéro de téléphone.",
            "Invalid username: enter your e-mail address or your phone number.",
        ) from None


async def log_in_with_username(request: Request, username: str, password: str) -> TokenPair:
    """identity's own login, the ``username`` read as the e-mail or phone it must be."""
    identifier = identifier_from_username(username, settings_of(request).default_region)
    if identifier.field == "email":
        return await auth_routes.login(LoginRequest(email=identifier.value, password=password), request)
    return await auth_routes.login(LoginRequest(phone=identifier.value, password=password), request)


async def operator_role(session: AsyncSession, request: Request, user_id: uuid.UUID) -> str | None:
    """The person's role in the surface's operator organisation."""
    role: str | None = await session.scalar(
        select(Membership.role).where(Membership.organization_id == operator_id(request), Membership.user_id == user_id)
    )
    return role


def split_name(user: User) -> tuple[str, str]:
    """Cauri keeps one ``full_name``; the seeds show first and last names (the first word, then the rest)."""
    first, _, last = user.full_name.partition(" ")
    return first, last


def join_name(first_name: str, last_name: str) -> str:
    return f"{first_name.strip()} {last_name.strip()}".strip()
