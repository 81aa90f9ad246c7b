"""The typed request dependencies every router uses, one definition each.

    async def endpoint(settings: SettingsDep, ip: ClientAddress, principal: CurrentPrincipal,
                       session: SessionDep) -> …

Plain functions (:func:`settings_of`, :func:`client_address`) serve code that already holds the ``Request``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cauri.core.config import Settings
from cauri.core.principal import CurrentPrincipal, OptionalPrincipal
from cauri.core.routing import SessionDep
from cauri.core.storage import Storage

__all__ = [
    "ClientAddress",
    "CurrentPrincipal",
    "OptionalPrincipal",
    "SessionDep",
    "SettingsDep",
    "StorageDep",
    "client_address",
    "settings_of",
    "storage_of",
]


def settings_of(request: Request) -> Settings:
    """The application's settings (``create_app`` keeps its own instance; tests give theirs)."""
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str | None:
    """The caller's address (uvicorn already applied the trusted proxy headers)."""
    return request.client.host if request.client else None


SettingsDep = Annotated[Settings, Depends(settings_of)]
ClientAddress = Annotated[str | None, Depends(client_address)]


def storage_of(request: Request) -> Storage:
    """Where uploaded files live (``core/storage.py``; one per application)."""
    storage: Storage = request.app.state.storage
    return storage


StorageDep = Annotated[Storage, Depends(storage_of)]
