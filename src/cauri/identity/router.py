"""HTTP routes of the identity module and the installation of the principal resolver."""

from __future__ import annotations

from fastapi import FastAPI

from cauri.core.routing import api_router
from cauri.identity.resolver import resolve_principal

router = api_router()


def install(app: FastAPI) -> None:
    app.state.principal_resolver = resolve_principal
