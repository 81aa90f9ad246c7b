"""Who is calling: resolved once per request by the identity module and read by everything below it.

The core cannot import ``cauri.identity`` (arrows point down), so identity installs its resolver on
``app.state.principal_resolver`` and the core dependencies here call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from cauri.core.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID | None
    organization_id: uuid.UUID | None  # the organisation this call acts for (API keys: always set)
    api_key_id: uuid.UUID | None = None
    # API keys act for the person who created them: maker–checker compares persons, not credentials.
    key_creator_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None  # refresh-token family of the access token
    is_platform_admin: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    language: str = "fr"

    @property
    def person_id(self) -> uuid.UUID | None:
        """The person behind the call: the user of a session, the creator of an API key (None if unknown)."""
        return self.user_id if self.user_id is not None else self.key_creator_id

    @property
    def scope_key(self) -> str:
        """Stable identity for idempotency keys and rate limits."""
        if self.api_key_id is not None:
            return f"apikey:{self.api_key_id}"
        return f"user:{self.user_id}"


PrincipalResolver = Callable[[Request], Awaitable[Principal | None]]


async def optional_principal(request: Request) -> Principal | None:
    if not hasattr(request.state, "principal"):
        resolver: PrincipalResolver | None = getattr(request.app.state, "principal_resolver", None)
        request.state.principal = await resolver(request) if resolver else None
    principal: Principal | None = request.state.principal
    return principal


async def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
