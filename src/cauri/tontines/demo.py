"""The tontine demo that ``cauri demo`` (``make run``) seeds: Kobiri (démo), a tontine platform in Dakar, and one
tontine of 12 members, weekly, 10 000 F CFA, three sessions already held (cash recorded by the trésorière with a
receipt and validated by the présidente), one member late at the third (her penalty computed at close), the
fourth session open and the payout order drawn. Every login's password is the demo password.

Idempotent: a second run finds the tontine by name and adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cauri.core.config import Settings
from cauri.core.db import utcnow
from cauri.core.principal import Principal
from cauri.core.storage import make_storage
from cauri.identity.models import Organization, User
from cauri.identity.permissions import Role
from cauri.identity.seeding import DemoOrganization, DemoSummary, DemoUser, ensure_organization
from cauri.ledger import service as ledger
from cauri.tontines import contributions, passages, service, sessions
from cauri.tontines.models import Frequency, PenaltyKind, Tontine, TontineType
from cauri.tontines.schemas import TontineCreate, TontineRules

DEMO_SLUG = "kobiri-demo"
DEMO_TONTINE = "Tontine des commerçantes de Sandaga"
LATE_MEMBER = "membre10@kobiri.demo.cauri.africa"
_NAMES = (
    "Aïssatou Diallo", "Mariama Ba", "Khady Faye", "Ndèye Sarr", "Seynabou Gueye", "Rokhaya Ndoye",
    "Coumba Mbaye", "Astou Cissé", "Dieynaba Kane", "Yacine Thiam",
)  # fmt: skip
_RECEIPT = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a stand-in for the photo of a handwritten receipt

KOBIRI = DemoOrganization(
    slug=DEMO_SLUG,
    name="Kobiri (démo)",
    region="SN",
    maker_checker=False,
    users=(
        DemoUser("operateur@kobiri.demo.cauri.africa", "Opérateur Kobiri", Role.OWNER),
        DemoUser("presidente@kobiri.demo.cauri.africa", "Awa Ndiaye", Role.MEMBER),
        DemoUser("tresoriere@kobiri.demo.cauri.africa", "Fatou Sow", Role.MEMBER),
        *(DemoUser(f"membre{i:02d}@kobiri.demo.cauri.africa", name, Role.MEMBER) for i, name in enumerate(_NAMES, 1)),
    ),
)


def _as(user: User, organization: Organization) -> Principal:
    return Principal(user_id=user.id, organization_id=organization.id, roles=frozenset({Role.MEMBER.value}))


async def _user(session: AsyncSession, email: str) -> User:
    found = await session.scalar(select(User).where(User.email == email))
    assert found is not None
    return found


async def _tontine(session: AsyncSession, settings: Settings, organization: Organization) -> Tontine:
    existing = await session.scalar(
        select(Tontine).where(Tontine.organization_id == organization.id, Tontine.name == DEMO_TONTINE)
    )
    if existing is not None:
        return existing
    people = [await _user(session, spec.email) for spec in KOBIRI.users if spec.role is Role.MEMBER]
    president, treasurer = people[0], people[1]
    start = utcnow().date() - timedelta(weeks=3)
    body = TontineCreate(
        name=DEMO_TONTINE,
        description="Douze commerçantes du marché Sandaga cotisent chaque semaine ; le pot tourne.",
        type=TontineType.ROTATIVE,
        frequency=Frequency.HEBDOMADAIRE,
        start_date=start,
        contribution_amount=10_000,
        currency="XOF",
        rules=TontineRules(max_members=12, penalty_kind=PenaltyKind.FIXED, penalty_amount=1_000, grace_days=1),
    )
    as_president = await service.create_tontine(
        session, principal=_as(president, organization), organization_id=organization.id, body=body
    )
    tontine = as_president.tontine
    for person in people[1:]:
        await service.join(session, principal=_as(person, organization), organization_id=organization.id,
                           code=tontine.join_code)  # fmt: skip
    members = {m.user_id: m for m in await service.list_members(session, as_president)}
    await service.handover(session, as_president, role="tresorier", member_id=members[treasurer.id].id)
    as_treasurer = await service.access(
        session, principal=_as(treasurer, organization), organization_id=organization.id, tontine_id=tontine.id
    )
    storage = make_storage(settings)
    late = await _user(session, LATE_MEMBER)
    planned = await sessions.plan_sessions(session, as_treasurer, 4)
    for row in planned:
        await sessions.open_session(session, as_treasurer, row.id)
        if row is planned[-1]:
            break  # the fourth session is this week's: open, nothing paid yet
        for person in people:
            if row is planned[2] and person.id == late.id:
                continue  # late at the third session
            recorded = await contributions.record_cash(
                session, as_treasurer, storage, session_id=row.id, member_id=members[person.id].id,
                amount=10_000, currency="XOF", purpose="contribution", proof=_RECEIPT, received_on=row.due_date,
            )  # fmt: skip
            await contributions.validate_cash(session, as_president, recorded.id, approve=True, reason=None)
        await sessions.close_session(session, as_treasurer, row.id)
    await passages.generate(session, as_president, method="random", order=None, seed="sandaga-2026")
    return tontine


async def seed(session: AsyncSession, settings: Settings) -> DemoSummary:
    organization = await ensure_organization(session, settings, KOBIRI)
    tontine = await _tontine(session, settings, organization)
    pot = await ledger.balance(session, tontine.pot_account_id)
    return DemoSummary(organization.name, organization.id, pot.posted, tontine.currency, KOBIRI.users)
