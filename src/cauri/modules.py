"""The modules that make up Cauri, in dependency order (lower layers first).

A module ``m`` may provide, by convention: ``cauri.m.router`` (``router`` behind login, optional
``public_router``, optional ``install(app)``), ``cauri.m.models`` (tables), ``cauri.m.jobs`` (background jobs,
imported by every worker) and ``cauri.m.cli`` (``register(cli)`` adds its commands). Adding a module is
one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES: tuple[str, ...] = (
    "identity",
    "notifications",
    "ledger",
    "connectors",
    "payments",
    "disbursements",
    "tontines",
    "rentals",
    "restaurant",
)


def import_optional(module: str, part: str) -> ModuleType | None:
    """``cauri.<module>.<part>`` if that file exists; an ImportError inside it is a real error and propagates."""
    name = f"cauri.{module}.{part}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if name == missing or name.startswith(missing + "."):
            return None  # the module or its package does not exist: nothing to import
        raise


def import_all(part: str) -> list[ModuleType]:
    return [m for m in (import_optional(name, part) for name in MODULES) if m is not None]
