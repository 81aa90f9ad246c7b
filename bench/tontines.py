"""Tontines on PostgreSQL, through the service layer, with the ledger as the yardstick in the same run.

    make bench-tontines                      # the issue's sizes: 100 tontines × 30 members × 52 weekly sessions
    .venv/bin/python bench/tontines.py --tontines 4 --members 10 --weeks 4 --big-members 1000   # a quick look

(a) A year of weekly sessions: every member pays every session, half in cash (recorded with its proof by the
    trésorier, the session's board validated at once by the président: ``contributions.record_cash`` +
    ``validate_session_cash``, one ledger batch), half by mobile money
    (``contributions.initiate_mobile`` → ``payments.collect`` into the pot; then the provider's success applied as
    a callback does, ``payments.settlement.apply_outcome``, which writes the settlement event, and the event
    delivered to the tontine's subscriber as the delivery job does, ``payments.events.deliver``). ``--clients``
    tontines run at once, one unit of work per step. Yardstick: the ledger posting as many transfers into the same
    shape of accounts (one pot per tontine, one cash account per member) in batches of 1,000.
(b) Closing one session of a ``--big-members`` tontine nobody paid (a penalty and a late notice per member) against
    the ledger posting that many transfers in batches of 1,000.

People and memberships are inserted directly (no password hashing); everything measured goes through the
services. The database (``cauri_bench_*``) is created and dropped on ``CAURI_BENCH_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``). The last line printed is one JSON object:
``contributions_per_s``, ``ledger_batch_tps``, ``close_10k_s``, ``ledger_10k_s``, ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cauri.core.migrate import upgrade
from cauri.core.principal import Principal
from cauri.core.storage import make_storage
from cauri.identity.models import Membership, Organization, User
from cauri.ledger import service as ledger
from cauri.payments import events
from cauri.payments.models import SettlementEventRecord
from cauri.payments.settlement import Outcome, apply_outcome, lock_payment
from cauri.payments.states import Cause, Status
from cauri.tontines import contributions, service, sessions
from cauri.tontines.jobs import tontine_contribution_settled
from cauri.tontines.models import MemberStatus, TontineMember, TontineRole
from cauri.tontines.schemas import TontineCreate, TontineRules

T = TypeVar("T")
PROOF = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
AMOUNT = 1_000


def dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def people(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, count: int
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    for start in range(0, count, 2_000):
        async with unit_of_work(sessionmaker) as session:
            for user_id in ids[start : start + 2_000]:
                session.add(
                    User(
                        id=user_id,
                        email=f"{user_id.hex}@bench.example",
                        phone=None,
                        password_hash="-",
                        full_name=f"Membre {user_id.hex[:6]}",
                        language="fr",
                    )
                )
            await session.flush()
            for user_id in ids[start : start + 2_000]:
                session.add(Membership(organization_id=organization_id, user_id=user_id, role="member"))
    return ids


def principal(user_id: uuid.UUID, organization_id: uuid.UUID) -> Principal:
    return Principal(user_id=user_id, organization_id=organization_id, roles=frozenset({"member"}))


async def in_unit(sessionmaker: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with unit_of_work(sessionmaker) as session:
        return await work(session)


async def setup_tontine(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, users: list[uuid.UUID], weeks: int
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A weekly tontine of ``users`` (the first président, the second trésorier), ``weeks`` sessions planned."""

    async def work(session: AsyncSession) -> tuple[uuid.UUID, list[uuid.UUID]]:
        body = TontineCreate(
            name=f"Bench {uuid.uuid4().hex[:6]}",
            frequency="hebdomadaire",
            start_date=date.today() - timedelta(weeks=weeks),
            contribution_amount=AMOUNT,
            currency="XOF",
            rules=TontineRules(max_members=len(users), allow_partial=True),
        )
        seen = await service.create_tontine(
            session, principal=principal(users[0], organization_id), organization_id=organization_id, body=body
        )
        for user_id in users[1:]:
            await service.join(
                session,
                principal=principal(user_id, organization_id),
                organization_id=organization_id,
                code=seen.tontine.join_code,
            )
        members = {m.user_id: m.id for m in await service.list_members(session, seen)}
        await service.handover(session, seen, role="tresorier", member_id=members[users[1]])
        treasurer = await service.access(
            session,
            principal=principal(users[1], organization_id),
            organization_id=organization_id,
            tontine_id=seen.tontine.id,
        )
        planned = await sessions.plan_sessions(session, treasurer, weeks)
        return seen.tontine.id, [row.id for row in planned]

    return await in_unit(sessionmaker, work)


async def one_tontine_year(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    organization_id: uuid.UUID,
    tontine_id: uuid.UUID,
    session_ids: list[uuid.UUID],
    users: list[uuid.UUID],
) -> int:
    """Every member pays every session, half cash, half mobile money; answers how many contributions."""
    storage = make_storage(settings)
    as_president, as_treasurer = principal(users[0], organization_id), principal(users[1], organization_id)

    async def seen(session: AsyncSession, who: Principal) -> service.Access:
        return await service.access(session, principal=who, organization_id=organization_id, tontine_id=tontine_id)

    member_ids = await in_unit(sessionmaker, partial(_member_ids, tontine_id=tontine_id))
    done = 0
    for session_id in session_ids:
        await in_unit(sessionmaker, partial(_open, seen=seen, who=as_treasurer, sid=session_id))
        for index, user_id in enumerate(users):
            member_id = member_ids[user_id]
            if index % 2 == 0:

                async def cash(s: AsyncSession, sid: uuid.UUID = session_id, mid: uuid.UUID = member_id) -> uuid.UUID:
                    row = await contributions.record_cash(
                        s,
                        await seen(s, as_treasurer),
                        storage,
                        session_id=sid,
                        member_id=mid,
                        amount=AMOUNT,
                        currency="XOF",
                        purpose="contribution",
                        proof=PROOF,
                    )
                    return row.id

                await in_unit(sessionmaker, cash)
            else:

                async def mobile(s: AsyncSession, sid: uuid.UUID = session_id, mid: uuid.UUID = member_id) -> uuid.UUID:
                    row = await contributions.initiate_mobile(
                        s,
                        await seen(s, as_treasurer),
                        session_id=sid,
                        member_id=mid,
                        amount=AMOUNT,
                        currency="XOF",
                        phone="+237670000100",
                        provider="sandbox",
                        purpose="contribution",
                        settings=settings,
                    )
                    assert row.payment_id is not None
                    return row.payment_id

                payment_id = await in_unit(sessionmaker, mobile)
                event_id = await in_unit(sessionmaker, partial(_succeed, settings=settings, payment_id=payment_id))
                await in_unit(sessionmaker, partial(events.deliver, event_id=event_id, name=SUBSCRIBER))
            done += 1
        # The président validates the session's cash board at once: one ledger batch.
        await in_unit(sessionmaker, partial(_validate_board, seen=seen, who=as_president, sid=session_id))
    return done


SUBSCRIBER = events.subscriber_name(tontine_contribution_settled)


async def _member_ids(session: AsyncSession, tontine_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    rows = await session.execute(
        select(TontineMember.user_id, TontineMember.id).where(TontineMember.tontine_id == tontine_id)
    )
    return dict(rows.all())


async def _open(
    session: AsyncSession, seen: Callable[..., Awaitable[service.Access]], who: Principal, sid: uuid.UUID
) -> None:
    await sessions.open_session(session, await seen(session, who), sid)


async def _validate_board(
    session: AsyncSession, seen: Callable[..., Awaitable[service.Access]], who: Principal, sid: uuid.UUID
) -> None:
    await contributions.validate_session_cash(session, await seen(session, who), sid)


async def _succeed(session: AsyncSession, settings: Settings, payment_id: uuid.UUID) -> uuid.UUID:
    """The provider's success, applied as its callback would be; answers the settlement event's id."""
    payment = await lock_payment(session, payment_id)
    assert payment is not None
    await apply_outcome(
        session, payment, Outcome(status=Status.SUCCEEDED, fee=0), cause=Cause.CALLBACK, settings=settings
    )
    event_id = await session.scalar(
        select(SettlementEventRecord.id).where(SettlementEventRecord.payment_id == payment_id)
    )
    assert event_id is not None
    return event_id


async def ledger_batches(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, pots: int, members: int, count: int
) -> float:
    """Seconds to post ``count`` transfers ``member cash → pot`` in batches of 1,000 (one transaction each)."""

    async def accounts(session: AsyncSession) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        pot_ids = [
            (
                await ledger.get_or_create_account(
                    session,
                    organization_id=organization_id,
                    currency="XOF",
                    code="bench_pot",
                    owner_ref=str(i),
                    debits_must_not_exceed_credits=True,
                )
            ).id
            for i in range(pots)
        ]
        cash_ids = [
            (
                await ledger.get_or_create_account(
                    session, organization_id=organization_id, currency="XOF", code="bench_cash", owner_ref=str(i)
                )
            ).id
            for i in range(pots * members)
        ]
        return pot_ids, cash_ids

    pot_ids, cash_ids = await in_unit(sessionmaker, accounts)
    started = time.perf_counter()
    for start in range(0, count, 1_000):
        specs = [
            ledger.TransferSpec(
                id=uuid.uuid4(),
                debit_account_id=cash_ids[i % len(cash_ids)],
                credit_account_id=pot_ids[(i % len(cash_ids)) // members],
                amount=AMOUNT,
                code="bench",
            )
            for i in range(start, min(count, start + 1_000))
        ]
        await in_unit(sessionmaker, partial(ledger.create_transfers, specs=specs))
    return time.perf_counter() - started


async def close_big(sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, size: int) -> float:
    """Seconds to close one session of a ``size``-member tontine nobody paid (penalties, late notices)."""
    users = await people(sessionmaker, organization_id, size)

    async def setup(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        body = TontineCreate(
            name="Grande tontine",
            frequency="mensuel",
            start_date=date.today() - timedelta(days=40),
            contribution_amount=AMOUNT,
            currency="XOF",
            rules=TontineRules(max_members=size, penalty_kind="per_day", penalty_amount=100, penalty_cap=2_000),
        )
        seen = await service.create_tontine(
            session, principal=principal(users[0], organization_id), organization_id=organization_id, body=body
        )
        for user_id in users[1:]:
            session.add(
                TontineMember(
                    id=uuid.uuid4(),
                    tontine_id=seen.tontine.id,
                    organization_id=organization_id,
                    user_id=user_id,
                    display_name="Membre",
                    role=TontineRole.MEMBRE,
                    status=MemberStatus.ACTIVE,
                    joined_at=utcnow(),
                )
            )
        await session.flush()
        [row] = await sessions.plan_sessions(session, seen, 1)
        row.status = "open"  # opened without the reminders: only the close is measured
        return seen.tontine.id, row.id

    tontine_id, session_id = await in_unit(sessionmaker, setup)
    started = time.perf_counter()

    async def close(session: AsyncSession) -> None:
        seen = await service.access(
            session,
            principal=principal(users[0], organization_id),
            organization_id=organization_id,
            tontine_id=tontine_id,
        )
        await sessions.close_session(session, seen, session_id)

    await in_unit(sessionmaker, close)
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> dict[str, float | int]:
    admin_url = os.environ.get("CAURI_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    database = f"cauri_bench_tontines_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn(admin_url))
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=args.clients + 4)
    try:
        await asyncio.to_thread(upgrade, url)
        storage_dir = Path(tempfile.mkdtemp(prefix="cauri-bench-tontines-"))
        settings = Settings(database_url=url, files_dir=str(storage_dir))
        sessionmaker = make_sessionmaker(engine)

        async def org(session: AsyncSession) -> uuid.UUID:
            organization = Organization(
                id=uuid.uuid4(), name="Bench", slug=f"bench-{uuid.uuid4().hex[:8]}", default_region="CM"
            )
            session.add(organization)
            await session.flush()
            return organization.id

        organization_id = await in_unit(sessionmaker, org)
        groups = []
        for _ in range(args.tontines):
            users = await people(sessionmaker, organization_id, args.members)
            tontine_id, session_ids = await setup_tontine(sessionmaker, organization_id, users, args.weeks)
            groups.append((tontine_id, session_ids, users))
        print(f"setup: {args.tontines} tontines × {args.members} members × {args.weeks} sessions", file=sys.stderr)

        queue = list(groups)
        started = time.perf_counter()

        async def client() -> int:
            total = 0
            while queue:
                tontine_id, session_ids, users = queue.pop()
                total += await one_tontine_year(
                    sessionmaker,
                    settings=settings,
                    organization_id=organization_id,
                    tontine_id=tontine_id,
                    session_ids=session_ids,
                    users=users,
                )
            return total

        count = sum(await asyncio.gather(*(client() for _ in range(args.clients))))
        contributions_seconds = time.perf_counter() - started
        ledger_seconds = await ledger_batches(sessionmaker, organization_id, args.tontines, args.members, count)
        close_seconds = await close_big(sessionmaker, organization_id, args.big_members)
        ledger_big = await ledger_batches(sessionmaker, organization_id, 1, args.big_members, args.big_members)
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(dsn(admin_url))
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return {
        "contributions": count,
        "contributions_per_s": round(count / contributions_seconds, 1),
        "ledger_batch_tps": round(count / ledger_seconds, 1),
        "close_members": args.big_members,
        "close_10k_s": round(close_seconds, 3),
        "ledger_10k_s": round(ledger_big, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tontines", type=int, default=100)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--big-members", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8, help="tontines worked on at once")
    return parser.parse_args()


if __name__ == "__main__":
    result = asyncio.run(main(parse_args()))
    print(json.dumps(result))
