"""The demo that ``make run`` seeds (``cauri demo``): the platform administrator, then each module's own demo.

A module contributes its demo in ``cauri.<module>.demo`` with ``async def seed(session, settings) -> DemoSummary``
(found through :mod:`cauri.modules`, so parallel modules never edit a shared demo file). Everything runs in one
transaction and is idempotent: running it again creates only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.identity.seeding import DEMO_PASSWORD, DemoSummary, DemoUser, ensure_user
from cauri.modules import import_all

PLATFORM_ADMIN = DemoUser("admin@cauri.africa", "Administrateur Cauri", None, platform_admin=True)


@dataclass(frozen=True)
class Demo:
    platform_admin: DemoUser
    password: str
    organizations: tuple[DemoSummary, ...]


async def seed_demo(settings: Settings) -> Demo:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            await ensure_user(session, PLATFORM_ADMIN)
            summaries = [await module.seed(session, settings) for module in import_all("demo")]
    finally:
        await engine.dispose()
    return Demo(PLATFORM_ADMIN, DEMO_PASSWORD, tuple(summaries))
